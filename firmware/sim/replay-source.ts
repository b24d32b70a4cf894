// A SensorSource that replays recorded readings (e.g. the room-climate
// traces) against the device clock: row i is due at
// startMs + (t_i - t_0) / speedup and is reported with that timestamp.
// Pure: the rows come from the caller, as an array (host loader, tests) or
// as a TraceTable read on demand (the lin simulator reads a trace file, so
// the trace does not sit in the XS heap).
import type { ChannelSpec, SensorSource } from "../platform";

export interface TraceRow {
  /** Recorded time, ms (any epoch). */
  timeMs: number;
  values: readonly number[];
}

/** Random access to recorded rows in time order. */
export interface TraceTable {
  readonly length: number;
  readonly channels: number;
  timeMs(i: number): number;
  /** Writes row i's values into `values[0..channels)`. */
  read(i: number, values: Float64Array): void;
}

/** A TraceTable over rows in memory. */
export function rowsTable(rows: readonly TraceRow[]): TraceTable {
  const channels = rows.length > 0 ? rows[0]!.values.length : 0;
  for (const r of rows) if (r.values.length !== channels) throw new Error(`row has ${r.values.length} values, the first has ${channels}`);
  return {
    length: rows.length,
    channels,
    timeMs: (i) => rows[i]!.timeMs,
    read: (i, values) => {
      const v = rows[i]!.values;
      for (let c = 0; c < v.length; c++) values[c] = v[c]!;
    },
  };
}

/** The timestamp row `i` is reported with (shared with tests that check replays). */
export function rebasedTimeMs(rows: readonly TraceRow[], i: number, startMs: number, speedup: number): number {
  return startMs + Math.round((rows[i]!.timeMs - rows[0]!.timeMs) / speedup);
}

export class ReplaySource implements SensorSource {
  readonly channels: readonly ChannelSpec[];
  readonly #table: TraceTable;
  readonly #startMs: number;
  readonly #speedup: number;
  readonly #loop: boolean;
  readonly #t0: number;
  readonly #spanMs: number;
  #next = 0;
  #lap = 0;

  constructor(channels: readonly ChannelSpec[], rows: readonly TraceRow[] | TraceTable, opts: { startMs: number; speedup?: number; loop?: boolean }) {
    const table = isTable(rows) ? rows : rowsTable(rows);
    if (table.length === 0) throw new Error("a replay needs at least one row");
    if (table.channels !== channels.length) throw new Error(`rows have ${table.channels} values for ${channels.length} channels`);
    this.channels = channels;
    this.#table = table;
    this.#startMs = opts.startMs;
    this.#speedup = opts.speedup ?? 1;
    if (!(this.#speedup > 0)) throw new Error(`speedup must be > 0, got ${this.#speedup}`);
    this.#loop = opts.loop ?? false;
    this.#t0 = table.timeMs(0);
    this.#spanMs = Math.round((table.timeMs(table.length - 1) - this.#t0) / this.#speedup) + 1;
  }

  /** Rows replayed so far. */
  get emitted(): number {
    return this.#lap * this.#table.length + this.#next;
  }

  next(wallMs: number, values: Float64Array): number {
    const table = this.#table;
    if (this.#next >= table.length) {
      if (!this.#loop) return -1;
      this.#next = 0;
      this.#lap++;
    }
    const t = this.#startMs + Math.round((table.timeMs(this.#next) - this.#t0) / this.#speedup) + this.#lap * this.#spanMs;
    if (t > wallMs) return -1;
    table.read(this.#next++, values);
    return t;
  }
}

function isTable(rows: readonly TraceRow[] | TraceTable): rows is TraceTable {
  return !Array.isArray(rows);
}

/** Room-climate channels (see data/room-climate/README.md). */
export const roomClimateChannels: readonly ChannelSpec[] = Object.freeze([
  Object.freeze({ name: "temperature", unit: "Cel", resolution: 0.01 }),
  Object.freeze({ name: "humidity", unit: "%RH", resolution: 0.001 }),
  Object.freeze({ name: "light1", unit: "nm", resolution: 0.01 }),
  Object.freeze({ name: "light2", unit: "nm", resolution: 0.1 }),
]);
