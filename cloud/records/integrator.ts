// The JSON integrators receive: decoded telemetry on
// `xsfleet.v1.out.<id>.telemetry` (stream XSF_OUT, Nats-Msg-Id
// `<device>:<seq>`), device events on `xsfleet.v1.events.<id>.<event>`, and
// the headers that say why and where from on a dead letter. docs/api.md
// documents the same shapes; encoders are pure.
import type { DeviceEvent } from "../subjects";
import type { DecodedTelemetry } from "./device-message";
import { seqKey } from "./history-record";

const enc = new TextEncoder();

/** What the out message is made from: one applied telemetry batch. */
export interface OutTelemetrySource {
  deviceId: string;
  seq: number;
  deviceTimeMs: number;
  traceparent: string;
  telemetry: DecodedTelemetry;
}

/** Integrator JSON of one telemetry batch, as it arrives on the out subject. */
export interface OutTelemetryJson {
  deviceId: string;
  seq: number;
  deviceTimeMs: number;
  traceparent: string;
  points: number;
  channels: Array<{ name: string; unit: string; t: number[]; v: number[] }>;
}

/** {deviceId, seq, deviceTimeMs, traceparent, points, channels:[{name, unit, t:[ms...], v:[...]}]},
 *  written by hand: this runs once per batch on the hot path. */
export function encodeOutTelemetry(o: OutTelemetrySource): Uint8Array {
  let s = `{"deviceId":"${o.deviceId}","seq":${o.seq},"deviceTimeMs":${o.deviceTimeMs},"traceparent":${JSON.stringify(o.traceparent)},"points":${o.telemetry.pointCount},"channels":[`;
  const chs = o.telemetry.channels;
  for (let i = 0; i < chs.length; i++) {
    const c = chs[i]!;
    if (i > 0) s += ",";
    s += `{"name":${JSON.stringify(c.name)},"unit":${JSON.stringify(c.unit)},"t":[${c.t.join(",")}],"v":[${c.v.join(",")}]}`;
  }
  return enc.encode(s + "]}");
}

/** Nats-Msg-Id of a device's out message for one seq: a republish is dropped by XSF_OUT. */
export function outMsgId(deviceId: string, seq: number, epoch = 0): string {
  return seqKey(deviceId, seq, epoch);
}

/** Integrator JSON of a presence or registration event. */
export interface DeviceEventJson {
  deviceId: string;
  event: DeviceEvent;
  /** JetStream time (ms) of the change. */
  atMs: number;
  /** What caused it (cloud/state PresenceSource). */
  source: string;
  reason: string;
}

export function encodeDeviceEvent(e: DeviceEventJson): Uint8Array {
  return enc.encode(JSON.stringify({ deviceId: e.deviceId, event: e.event, atMs: e.atMs, source: e.source, reason: e.reason }));
}

/** Headers on a dead letter: why, and where the original came from. */
export const DlqHeader = Object.freeze({
  Reason: "Xsf-Dlq-Reason",
  Detail: "Xsf-Dlq-Detail",
  Subject: "Xsf-Source-Subject",
  Stream: "Xsf-Source-Stream",
  StreamSeq: "Xsf-Source-Seq",
  Node: "Xsf-Ingest-Node",
} as const);

/** Nats-Msg-Id of a dead letter: a redelivered bad message is dead-lettered once. */
export function deadLetterMsgId(stream: string, streamSeq: number): string {
  return `${stream}:${streamSeq}`;
}
