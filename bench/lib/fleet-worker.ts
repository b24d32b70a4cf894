// One process of light MQTT device sessions for bench:fleet (not product
// code): each session connects with its own client id and a will, sends
// Hello, then a heartbeat every HB ms and a 10-point telemetry batch every
// TELE ms at QoS 1, listens to its receipt downlink (QoS 0), and on a lost
// connection reconnects with exponential backoff and equal jitter (the
// firmware's policy), so a broker restart is a realistic reconnect storm.
// Config in argv[2] (JSON); the parent asks for stats over IPC.
import mqtt, { type MqttClient } from "mqtt";
import { decodeEnvelope, encodeEnvelope } from "../../shared/proto/xsfleet.gen";
import { deviceTopic, Downlink, Uplink } from "../../shared/topics";
import { heartbeatEnvelope, helloEnvelope, statusEnvelope, telemetryEnvelope } from "../../test/harness/envelopes";

export interface FleetWorkerConfig {
  mqttUrl: string;
  ids: string[];
  heartbeatMs: number;
  telemetryMs: number;
  rampMs: number;
}

export interface FleetWorkerStats {
  devices: number;
  connected: number;
  connects: number;
  published: number;
  /** Telemetry seqs PUBACKed (per device: how many). */
  telemetryPubacked: Record<string, number>;
  /** Telemetry seqs a receipt confirmed (per device). */
  telemetryConfirmed: Record<string, number>;
  errors: number;
}

const backoffBaseMs = 500;
const backoffCapMs = 30_000;

interface Session {
  id: string;
  client: MqttClient | null;
  seq: number;
  hbSeq: number;
  attempts: number;
  teleSeqs: Set<number>;
  pubacked: number;
  confirmed: Set<number>;
  timers: NodeJS.Timeout[];
}

const cfg = JSON.parse(process.argv[2]!) as FleetWorkerConfig;
const url = new URL(cfg.mqttUrl);
const sessions: Session[] = cfg.ids.map((id) => ({ id, client: null, seq: 0, hbSeq: 0, attempts: 0, teleSeqs: new Set(), pubacked: 0, confirmed: new Set(), timers: [] }));
let connected = 0;
let connects = 0;
let published = 0;
let errors = 0;
let stopping = false;

function publish(s: Session, kind: Uplink, bytes: Uint8Array, onAck?: () => void): void {
  const c = s.client;
  if (!c?.connected) return;
  published++;
  c.publish(deviceTopic(s.id, kind), Buffer.from(bytes), { qos: 1 }, (err) => {
    if (err) errors++;
    else onAck?.();
  });
}

function clearTimers(s: Session): void {
  for (const t of s.timers) clearTimeout(t);
  s.timers = [];
}

function connect(s: Session): void {
  const client = mqtt.connect({
    host: url.hostname, port: Number(url.port), protocolVersion: 4, clientId: s.id, clean: true, keepalive: 60,
    reconnectPeriod: 0, connectTimeout: 30_000,
    will: { topic: deviceTopic(s.id, Uplink.Status), payload: Buffer.from(encodeEnvelope(statusEnvelope(s.id, 0, false))), qos: 1, retain: true },
  });
  s.client = client;
  let up = false;
  client.on("connect", () => {
    up = true;
    connected++;
    connects++;
    s.attempts = 0;
    client.subscribe(deviceTopic(s.id, Downlink.Receipt), { qos: 0 });
    publish(s, Uplink.Hello, encodeEnvelope(helloEnvelope(s.id, ++s.seq, cfg.heartbeatMs)));
    // Phases spread over the period, so load is smooth.
    const hbPhase = Math.random() * cfg.heartbeatMs;
    const telePhase = Math.random() * cfg.telemetryMs;
    const heartbeat = (): void => publish(s, Uplink.Heartbeat, encodeEnvelope(heartbeatEnvelope(s.id, ++s.seq, ++s.hbSeq)));
    const telemetry = (): void => {
      const seq = ++s.seq;
      s.teleSeqs.add(seq);
      publish(s, Uplink.Telemetry, encodeEnvelope(telemetryEnvelope(s.id, seq, 10, Date.now() - 10_000)), () => { s.pubacked++; });
    };
    s.timers.push(setTimeout(() => { heartbeat(); s.timers.push(setInterval(heartbeat, cfg.heartbeatMs)); }, hbPhase));
    s.timers.push(setTimeout(() => { telemetry(); s.timers.push(setInterval(telemetry, cfg.telemetryMs)); }, telePhase));
  });
  client.on("message", (_topic, payload) => {
    try {
      const r = decodeEnvelope(payload).receipt;
      for (const range of r?.confirmed ?? []) {
        for (let q = Number(range.first); q <= Number(range.last) && q - Number(range.first) < 100_000; q++) if (s.teleSeqs.has(q)) s.confirmed.add(q);
      }
    } catch { errors++; }
  });
  client.on("error", () => { errors++; });
  client.on("close", () => {
    if (up) connected--;
    up = false;
    clearTimers(s);
    client.removeAllListeners();
    client.end(true);
    if (stopping) return;
    const w = Math.min(backoffCapMs, backoffBaseMs * 2 ** s.attempts++);
    setTimeout(() => connect(s), w / 2 + Math.random() * (w / 2));
  });
}

sessions.forEach((s, i) => setTimeout(() => connect(s), (cfg.rampMs * i) / Math.max(1, sessions.length)));

process.on("message", (m: { type: string }) => {
  if (m.type === "stats") {
    const stats: FleetWorkerStats = {
      devices: sessions.length, connected, connects, published, errors,
      telemetryPubacked: Object.fromEntries(sessions.map((s) => [s.id, s.pubacked])),
      telemetryConfirmed: Object.fromEntries(sessions.map((s) => [s.id, s.confirmed.size])),
    };
    process.send!({ type: "stats", stats });
  } else if (m.type === "quiet") {
    // Stop sending (sessions stay connected) so the cloud can drain.
    for (const s of sessions) clearTimers(s);
    process.send!({ type: "quiet" });
  } else if (m.type === "stop") {
    stopping = true;
    for (const s of sessions) { clearTimers(s); s.client?.end(true); }
    process.send!({ type: "stopped" });
    setTimeout(() => process.exit(0), 200);
  }
});
