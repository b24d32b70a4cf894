// Test helpers for ingest: encoded device Envelopes, a small MQTT device
// (npm mqtt, MQTT 3.1.1) that publishes them, and waiting on conditions.
import { createLogger, silentLogger } from "../../../cloud/base";
import mqtt, { type MqttClient } from "mqtt";
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import { encodeBatch } from "../../../shared/codec/batch";
import { addEphemeralConsumer } from "../../../cloud/history/query";
import { atResolution } from "../../../shared/codec/resolution";
import { GCounter } from "../../../shared/crdt/gcounter";
import {
  CounterKind,
  Encoding,
  Presence,
  Role,
  createEnvelope,
  encodeEnvelope,
  type Envelope,
} from "../../../shared/proto/xsfleet.gen";
import { deviceTopic, Uplink } from "../../../shared/topics";

export const testChannels = [
  { name: "temperature", unit: "C", resolution: 0.01 },
  { name: "humidity", unit: "%RH", resolution: 0.1 },
];

/** Deterministic value of channel c at point i of batch seq. */
export function valueAt(seq: number, i: number, c: number): number {
  const raw = c === 0 ? 20 + ((seq * 7 + i) % 500) / 100 : 40 + ((seq * 3 + i) % 200) / 10;
  return atResolution(raw, testChannels[c]!.resolution);
}

export function timeAt(seq: number, i: number, baseMs = 1_700_000_000_000): number {
  return baseMs + seq * 10_000 + i * 10;
}

export function telemetryEnvelope(deviceId: string, seq: number, points = 10, baseMs?: number): Envelope {
  const ts = Array.from({ length: points }, (_, i) => timeAt(seq, i, baseMs));
  const payload = encodeBatch({
    t0Ms: ts[0] ?? 0,
    timestampsMs: ts,
    channels: testChannels.map((ch, c) => ({ resolution: ch.resolution, values: ts.map((_, i) => valueAt(seq, i, c)) })),
  }, { pointsMax: 100_000 });
  return createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: ts[points - 1] ?? 0,
    traceparent: `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01`,
    telemetry: {
      batchSeq: seq, channels: testChannels, encoding: Encoding.ENCODING_XSF_TS1, payload, pointCount: points,
      firstTimeMs: ts[0] ?? 0, lastTimeMs: ts[points - 1] ?? 0,
    },
  });
}

export function helloEnvelope(deviceId: string, seq: number, heartbeatIntervalMs = 1_000): Envelope {
  return createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: Date.now(),
    hello: {
      role: Role.ROLE_SENSOR, capabilities: ["telemetry"], resources: undefined, location: undefined, firmwareVersion: "test-1",
      bootCount: 1, channels: testChannels, heartbeatIntervalMs,
    },
  });
}

export function heartbeatEnvelope(deviceId: string, seq: number, heartbeatSeq: number): Envelope {
  return createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: Date.now(),
    heartbeat: { heartbeatSeq, uptimeMs: heartbeatSeq * 1000, freeHeapBytes: 50_000, rssiDbm: -60, counterDigest: 0, outboxDepth: 0, outboxDropped: 0, cpuLoadCentiPct: 100 },
  });
}

export function statusEnvelope(deviceId: string, seq: number, online: boolean): Envelope {
  return createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: Date.now(),
    status: { presence: online ? Presence.PRESENCE_ONLINE : Presence.PRESENCE_OFFLINE, reason: online ? "connected" : "will" },
  });
}

export function counterEnvelope(deviceId: string, seq: number, counts: Record<string, number>): Envelope {
  return createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: Date.now(),
    counters: { counters: [{ name: "events", kind: CounterKind.COUNTER_KIND_G, state: GCounter.from(counts).encode() }], delta: false },
  });
}

export function kindOf(env: Envelope): Uplink {
  if (env.telemetry) return Uplink.Telemetry;
  if (env.heartbeat) return Uplink.Heartbeat;
  if (env.hello) return Uplink.Hello;
  if (env.status) return Uplink.Status;
  if (env.counters) return Uplink.Counters;
  throw new Error("kindOf: no uplink body");
}

/** A minimal device over MQTT 3.1.1: will = status offline, publishes at QoS 1. */
export class TestDevice {
  private constructor(readonly deviceId: string, readonly client: MqttClient) {}

  static async connect(urls: string | string[], deviceId: string, opts: { willSeq?: number } = {}): Promise<TestDevice> {
    const list = Array.isArray(urls) ? urls : [urls];
    const servers = list.map((u) => { const x = new URL(u); return { host: x.hostname, port: Number(x.port) }; });
    const client = mqtt.connect({
      servers, protocolVersion: 4, clientId: deviceId, clean: true, keepalive: 5, reconnectPeriod: 200, connectTimeout: 5_000,
      will: { topic: deviceTopic(deviceId, Uplink.Status), payload: Buffer.from(encodeEnvelope(statusEnvelope(deviceId, opts.willSeq ?? 0, false))), qos: 1, retain: true },
    });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    return new TestDevice(deviceId, client);
  }

  async send(env: Envelope, opts: { retain?: boolean } = {}): Promise<void> {
    await this.sendRaw(kindOf(env), encodeEnvelope(env), opts);
  }

  async sendRaw(kind: Uplink | string, payload: Uint8Array, opts: { retain?: boolean } = {}): Promise<void> {
    await this.client.publishAsync(`xsfleet/v1/dev/${this.deviceId}/${kind}`, Buffer.from(payload), { qos: 1, retain: opts.retain ?? false });
  }

  /** Drops the TCP connection without DISCONNECT: the server publishes the will. */
  kill(): void {
    this.client.stream.destroy();
    this.client.end(true);
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

export const quietLog = silentLogger;
export const consoleLog = createLogger({ level: "warn" });

/** Every message currently in `stream` on `filter` (an ordered read). */
export async function readStream(js: JetStreamClient, stream: string, filter: string): Promise<JsMsg[]> {
  const jsm = await js.jetstreamManager(false);
  const info = await addEphemeralConsumer(jsm, stream, {
    ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, filter_subject: filter, mem_storage: true, num_replicas: 1,
    inactive_threshold: 30_000_000_000,
  });
  const out: JsMsg[] = [];
  const c = await js.consumers.get(stream, info.name);
  while (out.length < info.num_pending) {
    const iter = await c.fetch({ max_messages: Math.min(1000, info.num_pending - out.length), expires: 5_000 });
    let got = 0;
    for await (const m of iter) { out.push(m); got++; }
    if (got === 0) break;
  }
  await jsm.consumers.delete(stream, info.name).catch(() => false);
  return out;
}
