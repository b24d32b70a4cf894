// Test helpers for ingest: encoded device Envelopes, a small MQTT device
// (npm mqtt, MQTT 3.1.1) that publishes them, and waiting on conditions.
import { createLogger, silentLogger } from "../../../cloud/base";
import mqtt, { type MqttClient } from "mqtt";
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import { addEphemeralConsumer } from "../../../cloud/history/query";
import { encodeEnvelope, type Envelope } from "../../../shared/proto/xsfleet.gen";
import { deviceTopic, Uplink } from "../../../shared/topics";

export {
  testChannels, valueAt, timeAt, telemetryEnvelope, helloEnvelope, heartbeatEnvelope, statusEnvelope, counterEnvelope, kindOf,
} from "../../harness/envelopes";
import { kindOf, statusEnvelope } from "../../harness/envelopes";

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
