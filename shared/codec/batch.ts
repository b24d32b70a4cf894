// Telemetry batch format: one timestamp column shared by any number of value
// channels (temperature, humidity, ...), each at its declared resolution.
//
//   u8   formatVersion (2)
//   then one range-coded stream (range.ts) of:
//   uvar pointCount               5 bits channelCount (31 = 31 + uvar)
//   svar t0Ms                     (if points > 0) 1 bit firstT = t0Ms, else 1 + svar firstT − t0Ms
//   per channel: 2 bits mantissa class (1, 2, 5, or 3 = uvar mantissa),
//                5 bits exponent + 15, svar first value (if points > 0)
//   then for each block of up to 128 points after the first:
//     time block, then one value block per channel   (see time.ts, values.ts)
//
// Version 1 (still decoded: devices in the field send it) had a second byte
// `encoding` (Encoding.Adaptive) and a byte-aligned header: uvar channelCount,
// svar firstT − t0Ms, per channel svar exponent and uvar mantissa. Version 2
// packs the header to bits because at the batch size devices send (32 rows)
// the header was a quarter of the bytes; the body is unchanged.
//
// The encoder searches each block's transform once into a counting encoder
// to size the output exactly, then replays its choices into the buffer.
import { RangeDecoder, RangeEncoder } from "./range";
import { CodecError, CodecErrorReason } from "./errors";
import { parseResolution, quantize, resolutionExponentMax, resolutionExponentMin, resolutionValue, type Resolution } from "./resolution";
import { blockPointsMax, TimeDecoder, TimeEncoder, timestampAbsMax } from "./time";
import { ValueDecoder, ValueEncoder } from "./values";

/** Version of the adaptive batch format written by encodeBatch. */
export const formatVersion = 2;
/** The first version: also the header of the Gorilla reference encoding. */
export const formatVersionV1 = 1;

/** Encoding identifiers carried in byte 1 of every encoded batch. */
export const Encoding = Object.freeze({
  /** Per-block adaptive: Δ-of-Δ / quantum timestamps; Rice, packed or recent-value deltas. */
  Adaptive: 1,
  /** Facebook Gorilla reference (gorilla.ts): Δ-of-Δ timestamps, XOR of float64. */
  Gorilla: 2,
} as const);
export type Encoding = (typeof Encoding)[keyof typeof Encoding];

export interface Channel {
  /** Readings; encoded losslessly at `resolution` (rounded to its nearest multiple). */
  values: readonly number[];
  /** Declared sensor resolution, a decimal such as 0.01 or 0.001. */
  resolution: number;
}

export interface TelemetryBatch {
  /** Batch base time (epoch ms); timestamps are coded relative to it. */
  t0Ms: number;
  /** Absolute integer timestamps in ms, any order (normally ascending). */
  timestampsMs: readonly number[];
  channels: readonly Channel[];
}

export interface CodecLimits {
  /** Most points per batch; a larger declared count is rejected before allocating. */
  pointsMax: number;
  /** Most channels per batch. */
  channelsMax: number;
}

export const defaultCodecLimits: CodecLimits = Object.freeze({ pointsMax: 4096, channelsMax: 16 });

/** Encodes a batch into an exact-size buffer. Throws CodecError on bad input. */
export function encodeBatch(batch: TelemetryBatch, limits: Partial<CodecLimits> = {}): Uint8Array {
  const lim = { ...defaultCodecLimits, ...limits };
  const resolutions = validate(batch, lim);
  const counter = new RangeEncoder(null);
  const logs = writeBatch(counter, batch, resolutions, null);
  counter.finish();
  const bytes = new Uint8Array(1 + counter.length);
  bytes[0] = formatVersion;
  const writer = new RangeEncoder(bytes, 1);
  writeBatch(writer, batch, resolutions, logs);
  writer.finish();
  return bytes;
}

/** Decodes a batch; bounded by `limits`; throws CodecError on any bad input. */
export function decodeBatch(bytes: Uint8Array, limits: Partial<CodecLimits> = {}): TelemetryBatch {
  return new BatchDecoder().decode(bytes, limits);
}

/**
 * A decoder to reuse across batches (the cloud decodes every uplink): its
 * adaptive models (≈5 KB per channel + 8 KB for time) are reset in place
 * for each batch instead of allocated, which for a 32-row batch was most of
 * the decoding time and garbage. Output is identical to decodeBatch's. Not
 * reentrant (decode is synchronous); the device decodes with decodeBatch and
 * keeps nothing between batches.
 */
export class BatchDecoder {
  private time: TimeDecoder | null = null;
  /** Grown to the most channels seen. */
  private readonly values: ValueDecoder[] = [];

  decode(bytes: Uint8Array, limits: Partial<CodecLimits> = {}): TelemetryBatch {
    const lim = limits.pointsMax !== undefined && limits.channelsMax !== undefined ? (limits as CodecLimits) : { ...defaultCodecLimits, ...limits };
    return this.decodeWith(bytes, lim);
  }

  private timeDecoder(firstT: number): TimeDecoder {
    if (this.time === null) this.time = new TimeDecoder(firstT);
    else this.time.reset(firstT);
    return this.time;
  }

  private valueDecoder(c: number, first: number): ValueDecoder {
    const v = this.values;
    if (c < v.length) {
      v[c]!.reset(first);
      return v[c]!;
    }
    const d = new ValueDecoder(first);
    v.push(d);
    return d;
  }

  private decodeWith(bytes: Uint8Array, lim: CodecLimits): TelemetryBatch {
    if (bytes.length < 2) throw new CodecError(CodecErrorReason.Truncated, `${bytes.length} bytes, no header`);
    const v1 = bytes[0] === formatVersionV1;
    if (!v1 && bytes[0] !== formatVersion) throw new CodecError(CodecErrorReason.BadVersion, `format version ${bytes[0]}`);
    if (v1 && bytes[1] !== Encoding.Adaptive) throw new CodecError(CodecErrorReason.BadEncoding, `encoding ${bytes[1]}`);
    const r = new RangeDecoder(bytes, v1 ? 2 : 1);
    const count = r.uvar();
    if (count > lim.pointsMax) throw new CodecError(CodecErrorReason.LimitExceeded, `${count} points > pointsMax ${lim.pointsMax}`);
    const channelCount = v1 ? r.uvar() : readChannelCount(r);
    if (channelCount > lim.channelsMax) {
      throw new CodecError(CodecErrorReason.LimitExceeded, `${channelCount} channels > channelsMax ${lim.channelsMax}`);
    }
    const t0Ms = r.svar();
    if (!(Math.abs(t0Ms) < timestampAbsMax)) throw new CodecError(CodecErrorReason.Corrupt, "t0Ms beyond 2^50");
    const firstT = count === 0 ? t0Ms : v1 || r.bits(1) === 1 ? t0Ms + r.svar() : t0Ms;
    if (!(Math.abs(firstT) < timestampAbsMax)) throw new CodecError(CodecErrorReason.Corrupt, "first timestamp beyond 2^50");

    const resolutions: Resolution[] = [];
    const firsts: number[] = [];
    for (let c = 0; c < channelCount; c++) {
      const res = v1 ? { exponent: r.svar(), mantissa: r.uvar() } : readResolution(r);
      if (res.exponent < resolutionExponentMin || res.exponent > resolutionExponentMax || res.mantissa < 1 || res.mantissa > 0xffffffff) {
        throw new CodecError(CodecErrorReason.Corrupt, `resolution ${res.mantissa}e${res.exponent}`);
      }
      resolutions.push(res);
      firsts.push(count > 0 ? r.svar() : 0);
    }

    const timestampsMs: number[] = new Array<number>(count);
    const ns: number[][] = [];
    for (let c = 0; c < channelCount; c++) ns.push(new Array<number>(count));
    if (count > 0) {
      timestampsMs[0] = firstT;
      for (let c = 0; c < channelCount; c++) ns[c]![0] = firsts[c]!;
    }
    // Models are needed only when there are blocks (count > 1).
    const time = count > 1 ? this.timeDecoder(firstT) : null;
    const valueDecoders: ValueDecoder[] = [];
    if (count > 1) for (let c = 0; c < channelCount; c++) valueDecoders.push(this.valueDecoder(c, firsts[c]!));
    for (let start = 1; start < count; start += blockPointsMax) {
      const n = Math.min(blockPointsMax, count - start);
      time!.decodeBlock(r, timestampsMs, start, n);
      const last = start + n === count;
      for (let c = 0; c < channelCount; c++) valueDecoders[c]!.decodeBlock(r, ns[c]!, start, n, last);
    }
    r.expectEnd();

    const channels: Channel[] = [];
    for (let c = 0; c < channelCount; c++) {
      const res = resolutions[c]!;
      const values = ns[c]!;
      // dequantize() with its power of ten taken once per channel: the same
      // operations in the same order, so the same doubles.
      const m = res.mantissa;
      if (res.exponent >= 0) {
        const scale = 10 ** res.exponent;
        for (let i = 0; i < count; i++) values[i] = values[i]! * m * scale;
      } else {
        const divisor = 10 ** -res.exponent;
        for (let i = 0; i < count; i++) values[i] = (values[i]! * m) / divisor;
      }
      channels.push({ values, resolution: resolutionValue(res) });
    }
    return { t0Ms, timestampsMs, channels };
  }
}

function validate(batch: TelemetryBatch, lim: CodecLimits): Resolution[] {
  const count = batch.timestampsMs.length;
  if (count > lim.pointsMax) throw new CodecError(CodecErrorReason.LimitExceeded, `${count} points > pointsMax ${lim.pointsMax}`);
  if (batch.channels.length > lim.channelsMax) {
    throw new CodecError(CodecErrorReason.LimitExceeded, `${batch.channels.length} channels > channelsMax ${lim.channelsMax}`);
  }
  checkTimestamp(batch.t0Ms, "t0Ms");
  for (let i = 0; i < count; i++) checkTimestamp(batch.timestampsMs[i]!, `timestampsMs[${i}]`);
  return batch.channels.map((ch, c) => {
    if (ch.values.length !== count) {
      throw new CodecError(CodecErrorReason.InvalidInput, `channel ${c} has ${ch.values.length} values for ${count} timestamps`);
    }
    return parseResolution(ch.resolution);
  });
}

function checkTimestamp(t: number, what: string): void {
  if (!Number.isInteger(t) || !(Math.abs(t) < timestampAbsMax)) {
    throw new CodecError(CodecErrorReason.InvalidInput, `${what} = ${t} is not an integer within ±2^50 ms`);
  }
}

/**
 * Writes the batch. Pass 1 (`replay` null) searches each block's modes and
 * returns the choices (time first, then each channel); pass 2 replays them.
 */
function writeBatch(w: RangeEncoder, batch: TelemetryBatch, resolutions: Resolution[], replay: number[][] | null): number[][] {
  const ts = batch.timestampsMs;
  const count = ts.length;
  w.uvar(count);
  writeChannelCount(w, batch.channels.length);
  w.svar(batch.t0Ms);
  if (count > 0) {
    const offset = ts[0]! - batch.t0Ms;
    w.bits(offset === 0 ? 0 : 1, 1);
    if (offset !== 0) w.svar(offset);
  }
  const valueEncoders: ValueEncoder[] = [];
  for (let c = 0; c < resolutions.length; c++) {
    const res = resolutions[c]!;
    writeResolution(w, res);
    if (count > 0) {
      const first = quantize(batch.channels[c]!.values[0]!, res);
      w.svar(first);
      valueEncoders.push(new ValueEncoder(first, replay ? replay[c + 1]! : null));
    }
  }
  if (count === 0) return [];
  const time = new TimeEncoder(ts[0]!, replay ? replay[0]! : null);
  const scratch = new Float64Array(blockPointsMax);
  for (let start = 1; start < count; start += blockPointsMax) {
    const end = Math.min(count, start + blockPointsMax);
    time.encodeBlock(w, ts, start, end);
    for (let c = 0; c < resolutions.length; c++) {
      const values = batch.channels[c]!.values;
      const res = resolutions[c]!;
      for (let i = start; i < end; i++) scratch[i - start] = quantize(values[i]!, res);
      valueEncoders[c]!.encodeBlock(w, scratch, end - start);
    }
  }
  return [time.log, ...valueEncoders.map((e) => e.log)];
}

// ---- version 2 header fields (bit-packed) ----

/** Channel counts below this take 5 bits; larger ones escape to a uvar. */
const channelCountEscape = 31;
/** Mantissas with a 2-bit class; class 3 is followed by the mantissa as a uvar. */
const commonMantissas: readonly number[] = Object.freeze([1, 2, 5]);
const exponentBias = -resolutionExponentMin;

function writeChannelCount(w: RangeEncoder, n: number): void {
  w.bits(Math.min(n, channelCountEscape), 5);
  if (n >= channelCountEscape) w.uvar(n - channelCountEscape);
}

function readChannelCount(r: RangeDecoder): number {
  const n = r.bits(5);
  return n < channelCountEscape ? n : n + r.uvar();
}

function writeResolution(w: RangeEncoder, res: Resolution): void {
  const cls = commonMantissas.indexOf(res.mantissa);
  w.bits(cls < 0 ? 3 : cls, 2);
  if (cls < 0) w.uvar(res.mantissa);
  w.bits(res.exponent + exponentBias, 5);
}

function readResolution(r: RangeDecoder): Resolution {
  const cls = r.bits(2);
  const mantissa = cls < 3 ? commonMantissas[cls]! : r.uvar();
  return { mantissa, exponent: r.bits(5) - exponentBias };
}

// ---- single-channel convenience API ----

export interface Series {
  /** Base time (epoch ms); defaults to the first timestamp when encoding. */
  t0Ms?: number;
  timestampsMs: readonly number[];
  values: readonly number[];
  /** Declared sensor resolution, e.g. 0.01 (°C) or 0.001 (%RH). */
  resolution: number;
}

export interface DecodedSeries {
  t0Ms: number;
  timestampsMs: number[];
  values: number[];
  resolution: number;
}

export function encodeSeries(series: Series, limits: Partial<CodecLimits> = {}): Uint8Array {
  return encodeBatch(
    {
      t0Ms: series.t0Ms ?? series.timestampsMs[0] ?? 0,
      timestampsMs: series.timestampsMs,
      channels: [{ values: series.values, resolution: series.resolution }],
    },
    limits,
  );
}

export function decodeSeries(bytes: Uint8Array, limits: Partial<CodecLimits> = {}): DecodedSeries {
  const batch = decodeBatch(bytes, limits);
  const channel = batch.channels[0];
  if (batch.channels.length !== 1 || channel === undefined) {
    throw new CodecError(CodecErrorReason.Corrupt, `a series has 1 channel, this batch has ${batch.channels.length}`);
  }
  return {
    t0Ms: batch.t0Ms,
    timestampsMs: batch.timestampsMs as number[],
    values: channel.values as number[],
    resolution: channel.resolution,
  };
}
