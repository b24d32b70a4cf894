// Valid encoded device uplinks of every kind, built by the product's own
// encoders (shared/proto, shared/codec, shared/crdt), for tests that play a
// device by hand: the flooding and poisoning clients of the chaos test, the
// fuzz run's seeds for mutation, benchmarks. `WireStamp` carries the
// delivery fields (epoch, settled_below) of docs/delivery.md.
import mqtt, { type MqttClient } from "mqtt";
import { encodeBatch } from "../../shared/codec/batch";
import { atResolution } from "../../shared/codec/resolution";
import { GCounter } from "../../shared/crdt/gcounter";
import {
  AckStatus, CounterKind, Encoding, Presence, Role, createEnvelope, encodeEnvelope, schemaVersion, type Envelope,
} from "../../shared/proto/xsfleet.gen";
import { deviceTopic, Uplink } from "../../shared/topics";

export const uplinkChannels = [
  { name: "temperature", unit: "C", resolution: 0.01 },
  { name: "humidity", unit: "%RH", resolution: 0.1 },
];

export interface WireStamp {
  deviceId: string;
  seq: number;
  epoch?: number;
  settledBelow?: number;
  traceparent?: string;
}

const baseTimeMs = 1_700_000_000_000;
const validTraceparent = `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01`;

function head(w: WireStamp): Partial<Envelope> {
  return {
    schemaVersion, deviceId: w.deviceId, seq: w.seq, deviceTimeMs: baseTimeMs + w.seq * 1_000, traceparent: w.traceparent ?? validTraceparent,
    epoch: w.epoch ?? 0, settledBelow: w.settledBelow ?? 0,
  };
}

export function telemetryUplink(w: WireStamp, points = 4): Envelope {
  const ts = Array.from({ length: points }, (_, i) => baseTimeMs + w.seq * 1_000 + i * 10);
  const payload = encodeBatch({
    t0Ms: ts[0] ?? 0, timestampsMs: ts,
    channels: uplinkChannels.map((ch, c) => ({ resolution: ch.resolution, values: ts.map((_, i) => atResolution(20 + c * 20 + ((w.seq + i) % 100) / 10, ch.resolution)) })),
  }, { pointsMax: 100_000 });
  return createEnvelope({
    ...head(w),
    telemetry: { batchSeq: w.seq, channels: uplinkChannels, encoding: Encoding.ENCODING_XSF_TS1, payload, pointCount: points, firstTimeMs: ts[0] ?? 0, lastTimeMs: ts[points - 1] ?? 0 },
  });
}

export function helloUplink(w: WireStamp): Envelope {
  return createEnvelope({
    ...head(w),
    hello: { role: Role.ROLE_SENSOR, capabilities: ["telemetry"], resources: undefined, location: undefined, firmwareVersion: "test-1", bootCount: 1, channels: uplinkChannels, heartbeatIntervalMs: 1_000 },
  });
}

export function heartbeatUplink(w: WireStamp): Envelope {
  return createEnvelope({
    ...head(w),
    heartbeat: { heartbeatSeq: w.seq, uptimeMs: w.seq * 1_000, freeHeapBytes: 50_000, rssiDbm: -60, counterDigest: 0, outboxDepth: 0, outboxDropped: 0, cpuLoadCentiPct: 100 },
  });
}

export function countersUplink(w: WireStamp): Envelope {
  return createEnvelope({
    ...head(w),
    counters: { counters: [{ name: "events", kind: CounterKind.COUNTER_KIND_G, state: GCounter.from({ r1: Math.max(1, Math.min(w.seq, 1_000_000)) }).encode() }], delta: false },
  });
}

export function statusUplink(w: WireStamp, online: boolean): Envelope {
  return createEnvelope({ ...head(w), status: { presence: online ? Presence.PRESENCE_ONLINE : Presence.PRESENCE_OFFLINE, reason: online ? "connected" : "will" } });
}

export function commandAckUplink(w: WireStamp): Envelope {
  return createEnvelope({ ...head(w), commandAck: { commandId: `cmd-${w.seq}`, status: AckStatus.ACK_STATUS_OK, message: "", resultJson: "{}", duplicate: false } });
}

/** A valid envelope of `kind` for this stamp. */
export function uplinkOf(kind: Uplink, w: WireStamp): Envelope {
  switch (kind) {
    case Uplink.Telemetry: return telemetryUplink(w);
    case Uplink.Hello: return helloUplink(w);
    case Uplink.Heartbeat: return heartbeatUplink(w);
    case Uplink.Counters: return countersUplink(w);
    case Uplink.Status: return statusUplink(w, true);
    case Uplink.CommandAck: return commandAckUplink(w);
  }
}

export function encodeUplink(kind: Uplink, w: WireStamp): Uint8Array {
  return encodeEnvelope(uplinkOf(kind, w));
}

/**
 * A raw MQTT 3.1.1 client that speaks for `clientId` (not a device runtime):
 * the test's flooder, poisoner and fuzzer. No will, no retransmission.
 */
export async function rawMqttClient(url: string | readonly string[], clientId: string, opts: { username?: string; password?: string } = {}): Promise<MqttClient> {
  // Several URLs: mqtt.js rotates through them on reconnect (a chaos test may have killed one).
  const servers = (typeof url === "string" ? [url] : url).map((u) => { const x = new URL(u); return { host: x.hostname, port: Number(x.port) }; });
  const c = mqtt.connect({ servers, protocolVersion: 4, clientId, clean: true, keepalive: 30, reconnectPeriod: 250, connectTimeout: 10_000, ...opts });
  let lastError = "";
  const onError = (e: Error): void => { lastError = e.message; };
  c.on("error", onError);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${clientId}: no MQTT connection within ${rawConnectTimeoutMs} ms (${lastError || "no answer"})`)), rawConnectTimeoutMs);
      c.once("connect", () => { clearTimeout(timer); resolve(); });
    });
  } catch (err) {
    c.end(true);
    throw err;
  } finally {
    c.off("error", onError);
  }
  return c;
}

/** How long rawMqttClient tries (errors such as a refused connection are retried meanwhile). */
const rawConnectTimeoutMs = 30_000;

/** Publishes a raw uplink payload on `deviceId`'s topic of `kind`. */
export function publishUplink(c: MqttClient, deviceId: string, kind: Uplink | string, payload: Uint8Array, qos: 0 | 1): Promise<unknown> {
  return c.publishAsync(`${deviceTopic(deviceId, Uplink.Telemetry).slice(0, -Uplink.Telemetry.length)}${kind}`, Buffer.from(payload), { qos });
}
