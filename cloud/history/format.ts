// History records: the decoded points of one channel of one telemetry batch,
// stored in the stream XSF_HIST on `xsfleet.v1.hist.<device>.<channel>` as
// compact JSON {"s":seq,"t":[ms...],"v":[values...]}. One record per
// (device, seq, channel) with Nats-Msg-Id `<device>:<seq>:<channel>`, so a
// republish after a crash or redelivery is dropped by the stream.

import { createEnvelope, decodeEnvelope, encodeEnvelope, type TelemetryBatch } from "../../shared/proto/xsfleet.gen";

export const historyStream = "XSF_HIST";
export const historySubjectRoot = "xsfleet.v1.hist";

const plainToken = /^[A-Za-z0-9_-]{1,64}$/;

/** Channel name → subject token: [A-Za-z0-9_-] names as they are, anything
 *  else as "~" + hex of its UTF-8 bytes (subject tokens may not hold '.', ' ',
 *  '*', '>'). */
export function channelToken(name: string): string {
  if (plainToken.test(name)) return name;
  let hex = "~";
  for (const b of new TextEncoder().encode(name)) hex += b.toString(16).padStart(2, "0");
  return hex;
}

export function historySubject(deviceId: string, channel: string): string {
  return `${historySubjectRoot}.${deviceId}.${channelToken(channel)}`;
}

export function historyMsgId(deviceId: string, seq: number, channel: string): string {
  return `${deviceId}:${seq}:${channel}`;
}

export interface HistoryRecord {
  /** Device seq of the telemetry batch. */
  s: number;
  /** Device timestamps, ms. */
  t: readonly number[];
  v: readonly number[];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeHistoryRecord(r: HistoryRecord): Uint8Array {
  if (r.t.length !== r.v.length) throw new Error(`history record: ${r.t.length} times for ${r.v.length} values`);
  return enc.encode(`{"s":${r.s},"t":[${r.t.join(",")}],"v":[${r.v.join(",")}]}`);
}

export function decodeHistoryRecord(bytes: Uint8Array): HistoryRecord {
  const r = JSON.parse(dec.decode(bytes)) as HistoryRecord;
  if (typeof r.s !== "number" || !Array.isArray(r.t) || !Array.isArray(r.v) || r.t.length !== r.v.length) {
    throw new Error("malformed history record");
  }
  return r;
}

// ---- batch layout: one binary record per (device, seq) ----

/** Last subject token of batch records; never a channel token ("~" + odd
 *  non-hex text cannot come out of channelToken). */
export const batchToken = "~batch";

export function historyBatchSubject(deviceId: string): string {
  return `${historySubjectRoot}.${deviceId}.${batchToken}`;
}

export function historyBatchMsgId(deviceId: string, seq: number): string {
  return `${deviceId}:${seq}:${batchToken}`;
}

/** A batch record is an Envelope holding only seq, device time and the
 *  validated TelemetryBatch (codec payload as the device sent it). */
export function encodeHistoryBatch(seq: number, deviceTimeMs: number, telemetry: TelemetryBatch): Uint8Array {
  return encodeEnvelope(createEnvelope({ seq, deviceTimeMs, telemetry }));
}

export function decodeHistoryBatch(bytes: Uint8Array): { seq: number; deviceTimeMs: number; telemetry: TelemetryBatch } {
  const env = decodeEnvelope(bytes, { fieldBytesMax: 8 * 1024 * 1024, repeatedMax: 4096, depthMax: 8 });
  if (!env.telemetry || env.seq < 1) throw new Error("malformed history batch record");
  return { seq: env.seq, deviceTimeMs: env.deviceTimeMs, telemetry: env.telemetry };
}
