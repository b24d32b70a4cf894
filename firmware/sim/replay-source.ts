// A SensorSource that replays recorded readings (e.g. the room-climate
// traces) against the device clock: row i is due at
// startMs + (t_i - t_0) / speedup and is reported with that timestamp.
// Pure: the rows come from the caller (host loader or an embedded table).
import type { ChannelSpec, SensorSource } from "../platform";

export interface TraceRow {
  /** Recorded time, ms (any epoch). */
  timeMs: number;
  values: readonly number[];
}

/** The timestamp row `i` is reported with (shared with tests that check replays). */
export function rebasedTimeMs(rows: readonly TraceRow[], i: number, startMs: number, speedup: number): number {
  return startMs + Math.round((rows[i]!.timeMs - rows[0]!.timeMs) / speedup);
}

export class ReplaySource implements SensorSource {
  readonly channels: readonly ChannelSpec[];
  readonly #rows: readonly TraceRow[];
  readonly #startMs: number;
  readonly #speedup: number;
  readonly #loop: boolean;
  #next = 0;
  #lap = 0;

  constructor(channels: readonly ChannelSpec[], rows: readonly TraceRow[], opts: { startMs: number; speedup?: number; loop?: boolean }) {
    if (rows.length === 0) throw new Error("a replay needs at least one row");
    for (const r of rows) if (r.values.length !== channels.length) throw new Error(`row has ${r.values.length} values for ${channels.length} channels`);
    this.channels = channels;
    this.#rows = rows;
    this.#startMs = opts.startMs;
    this.#speedup = opts.speedup ?? 1;
    if (!(this.#speedup > 0)) throw new Error(`speedup must be > 0, got ${this.#speedup}`);
    this.#loop = opts.loop ?? false;
  }

  /** Rows replayed so far. */
  get emitted(): number {
    return this.#lap * this.#rows.length + this.#next;
  }

  next(wallMs: number, values: Float64Array): number {
    if (this.#next >= this.#rows.length) {
      if (!this.#loop) return -1;
      this.#next = 0;
      this.#lap++;
    }
    const t = this.#timeOf(this.#next);
    if (t > wallMs) return -1;
    const row = this.#rows[this.#next++]!;
    for (let c = 0; c < row.values.length; c++) values[c] = row.values[c]!;
    return t;
  }

  #timeOf(i: number): number {
    const rows = this.#rows;
    const span = Math.round((rows[rows.length - 1]!.timeMs - rows[0]!.timeMs) / this.#speedup) + 1;
    return rebasedTimeMs(rows, i, this.#startMs, this.#speedup) + this.#lap * span;
  }
}

/** Room-climate channels (see /work/shared/datasets/room-climate/README.md). */
export const roomClimateChannels: readonly ChannelSpec[] = [
  { name: "temperature", unit: "Cel", resolution: 0.01 },
  { name: "humidity", unit: "%RH", resolution: 0.001 },
  { name: "light1", unit: "nm", resolution: 0.01 },
  { name: "light2", unit: "nm", resolution: 0.1 },
];
