// Telemetry batch format: one timestamp column shared by any number of value
// channels (temperature, humidity, ...), each at its declared resolution.
//
//   u8   formatVersion            u8   encoding (Encoding.Adaptive)
//   then one range-coded stream (range.ts) of:
//   uvar pointCount               uvar channelCount
//   svar t0Ms                     svar firstT − t0Ms        (if points > 0)
//   per channel: svar exponent, uvar mantissa, svar first value (if points > 0)
//   then for each block of up to 128 points after the first:
//     time block, then one value block per channel   (see time.ts, values.ts)
//
// The encoder searches each block's transform once into a counting encoder
// to size the output exactly, then replays its choices into the buffer.
import { RangeDecoder, RangeEncoder } from "./range";
import { CodecError, CodecErrorReason } from "./errors";
import { dequantize, parseResolution, quantize, resolutionExponentMax, resolutionExponentMin, resolutionValue, type Resolution } from "./resolution";
import { blockPointsMax, TimeDecoder, TimeEncoder, timestampAbsMax } from "./time";
import { ValueDecoder, ValueEncoder } from "./values";

export const formatVersion = 1;

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
  const bytes = new Uint8Array(2 + counter.length);
  bytes[0] = formatVersion;
  bytes[1] = Encoding.Adaptive;
  const writer = new RangeEncoder(bytes, 2);
  writeBatch(writer, batch, resolutions, logs);
  writer.finish();
  return bytes;
}

/** Decodes a batch; bounded by `limits`; throws CodecError on any bad input. */
export function decodeBatch(bytes: Uint8Array, limits: Partial<CodecLimits> = {}): TelemetryBatch {
  const lim = { ...defaultCodecLimits, ...limits };
  if (bytes.length < 2) throw new CodecError(CodecErrorReason.Truncated, `${bytes.length} bytes, no header`);
  if (bytes[0] !== formatVersion) throw new CodecError(CodecErrorReason.BadVersion, `format version ${bytes[0]}`);
  if (bytes[1] !== Encoding.Adaptive) throw new CodecError(CodecErrorReason.BadEncoding, `encoding ${bytes[1]}`);
  const r = new RangeDecoder(bytes, 2);
  const count = r.uvar();
  if (count > lim.pointsMax) throw new CodecError(CodecErrorReason.LimitExceeded, `${count} points > pointsMax ${lim.pointsMax}`);
  const channelCount = r.uvar();
  if (channelCount > lim.channelsMax) {
    throw new CodecError(CodecErrorReason.LimitExceeded, `${channelCount} channels > channelsMax ${lim.channelsMax}`);
  }
  const t0Ms = r.svar();
  if (!(Math.abs(t0Ms) < timestampAbsMax)) throw new CodecError(CodecErrorReason.Corrupt, "t0Ms beyond 2^50");
  const firstT = count > 0 ? t0Ms + r.svar() : t0Ms;
  if (!(Math.abs(firstT) < timestampAbsMax)) throw new CodecError(CodecErrorReason.Corrupt, "first timestamp beyond 2^50");

  const resolutions: Resolution[] = [];
  const firsts: number[] = [];
  for (let c = 0; c < channelCount; c++) {
    const exponent = r.svar();
    const mantissa = r.uvar();
    if (exponent < resolutionExponentMin || exponent > resolutionExponentMax || mantissa < 1 || mantissa > 0xffffffff) {
      throw new CodecError(CodecErrorReason.Corrupt, `resolution ${mantissa}e${exponent}`);
    }
    resolutions.push({ mantissa, exponent });
    firsts.push(count > 0 ? r.svar() : 0);
  }

  const timestampsMs: number[] = new Array<number>(count);
  const ns: number[][] = [];
  for (let c = 0; c < channelCount; c++) ns.push(new Array<number>(count));
  if (count > 0) {
    timestampsMs[0] = firstT;
    for (let c = 0; c < channelCount; c++) ns[c]![0] = firsts[c]!;
  }
  const time = new TimeDecoder(firstT);
  const valueDecoders = firsts.map((f) => new ValueDecoder(f));
  for (let start = 1; start < count; start += blockPointsMax) {
    const n = Math.min(blockPointsMax, count - start);
    time.decodeBlock(r, timestampsMs, start, n);
    for (let c = 0; c < channelCount; c++) valueDecoders[c]!.decodeBlock(r, ns[c]!, start, n);
  }
  r.expectEnd();

  const channels: Channel[] = [];
  for (let c = 0; c < channelCount; c++) {
    const res = resolutions[c]!;
    const values = ns[c]!;
    for (let i = 0; i < count; i++) values[i] = dequantize(values[i]!, res);
    channels.push({ values, resolution: resolutionValue(res) });
  }
  return { t0Ms, timestampsMs, channels };
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
  w.uvar(batch.channels.length);
  w.svar(batch.t0Ms);
  if (count > 0) w.svar(ts[0]! - batch.t0Ms);
  const valueEncoders: ValueEncoder[] = [];
  for (let c = 0; c < resolutions.length; c++) {
    const res = resolutions[c]!;
    w.svar(res.exponent);
    w.uvar(res.mantissa);
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
