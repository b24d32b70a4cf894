// Collects sensor readings into a batch and turns a full (N points) or old
// (T ms) batch into an encoded payload. The buffers are allocated once at
// the largest configured size; a flush hands out the encoded bytes only.
import type { ChannelSpec } from "../platform";
import { encodePoints } from "./telemetry-codec";

/** Hard ceiling for any configured batch size (RAM: ~8 bytes per point per channel); shared with the cloud's config checks. */
import { batchPointsLimit } from "../../shared/device-config";
export { batchPointsLimit };
/** Most channels one sensor source may declare. */
export const channelsMax = 8;

export interface EncodedBatch {
  payload: Uint8Array;
  pointCount: number;
  firstTimeMs: number;
  lastTimeMs: number;
}

export class Batcher {
  readonly #channels: readonly ChannelSpec[];
  readonly #resolutions: number[];
  readonly #timestamps: number[] = [];
  readonly #columns: number[][];
  #pointsMax: number;
  #startedUptimeMs = -1;

  constructor(channels: readonly ChannelSpec[], pointsMax: number) {
    if (channels.length < 1 || channels.length > channelsMax) throw new Error(`a sensor declares 1..${channelsMax} channels, got ${channels.length}`);
    this.#channels = channels;
    this.#resolutions = channels.map((c) => c.resolution);
    this.#columns = channels.map(() => []);
    this.#pointsMax = checkBatchPoints(pointsMax);
  }

  get count(): number {
    return this.#timestamps.length;
  }

  get channels(): readonly ChannelSpec[] {
    return this.#channels;
  }

  setPointsMax(n: number): void {
    this.#pointsMax = checkBatchPoints(n);
  }

  /**
   * Adds one reading. Readings older than the last one are refused (the
   * codec wants non-decreasing time in practice; a clock step back would
   * otherwise scramble a batch): returns false, the caller counts it.
   */
  add(timeMs: number, values: Float64Array, uptimeMs: number): boolean {
    const ts = this.#timestamps;
    if (ts.length > 0 && timeMs < ts[ts.length - 1]!) return false;
    for (let c = 0; c < this.#columns.length; c++) if (!Number.isFinite(values[c]!)) return false;
    if (ts.length === 0) this.#startedUptimeMs = uptimeMs;
    ts.push(timeMs);
    for (let c = 0; c < this.#columns.length; c++) this.#columns[c]!.push(values[c]!);
    return true;
  }

  full(): boolean {
    return this.#timestamps.length >= this.#pointsMax;
  }

  /** True when the batch holds points and its first point is `maxAgeMs` old. */
  old(uptimeMs: number, maxAgeMs: number): boolean {
    return this.#timestamps.length > 0 && uptimeMs - this.#startedUptimeMs >= maxAgeMs;
  }

  /** Encodes and empties the batch; undefined when empty. */
  flush(): EncodedBatch | undefined {
    const ts = this.#timestamps;
    if (ts.length === 0) return undefined;
    const payload = encodePoints(ts, this.#columns, this.#resolutions);
    const out: EncodedBatch = { payload, pointCount: ts.length, firstTimeMs: ts[0]!, lastTimeMs: ts[ts.length - 1]! };
    ts.length = 0;
    for (const col of this.#columns) col.length = 0;
    this.#startedUptimeMs = -1;
    return out;
  }
}

function checkBatchPoints(n: number): number {
  if (!(Number.isSafeInteger(n) && n >= 1 && n <= batchPointsLimit)) throw new Error(`batch points must be 1..${batchPointsLimit}, got ${n}`);
  return n;
}
