// History record formats, in the stream XSF_HIST (subjects: cloud/subjects).
// Layout "channel": the decoded points of one channel of one telemetry batch
// on `xsfleet.v1.hist.<device>.<channel>` as compact JSON
// {"s":seq,"t":[ms...],"v":[values...]}, one record per (device, seq,
// channel) with Nats-Msg-Id `<device>:<seq>:<channel>`. Layout "batch": one
// binary record per (device, seq) on `xsfleet.v1.hist.<device>.~batch`. A
// republish after a crash or redelivery carries the same id and is dropped
// by the stream.

import { createEnvelope, decodeEnvelope, encodeEnvelope, type TelemetryBatch } from "../../shared/proto/xsfleet.gen";
import { historyBatchToken } from "../subjects";

export const historyStream = "XSF_HIST";

/** `epoch`: the device epoch of the message (0: a device without epochs). */
export function historyMsgId(deviceId: string, seq: number, channel: string, epoch = 0): string {
  return `${seqKey(deviceId, seq, epoch)}:${channel}`;
}

/** `<device>:<seq>` (epoch 0: ids as before epochs), else `<device>:e<epoch>:<seq>`:
 *  a device that starts a new epoch reuses seqs, and its outputs must not be
 *  dropped as republishes of the old ones. */
export function seqKey(deviceId: string, seq: number, epoch: number): string {
  return epoch === 0 ? `${deviceId}:${seq}` : `${deviceId}:e${epoch}:${seq}`;
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

export function historyBatchMsgId(deviceId: string, seq: number, epoch = 0): string {
  return `${seqKey(deviceId, seq, epoch)}:${historyBatchToken}`;
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
