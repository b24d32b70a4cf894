// Security benchmark (docs/security.md, README "Benchmarks"):
//
//  1. Connect + provisioning of N devices (default 1,000) with the real
//     firmware provisioning code on the host port (firmware/device/
//     provisioning.ts, file storage): one-time claims made through the API,
//     each device exchanges its claim for its credential over MQTT, then
//     connects with the credential — without TLS and with TLS, each on its
//     own fresh nats-server (operator mode) and provisioning node; beside the
//     baseline of N plain MQTT connects to an open broker, same run.
//  2. Ingest rate with authentication off (open broker, no users) and on
//     (operator mode: every device a bearer JWT, ingest a least-privilege
//     user), same workload, same run, on the same machine.
//
//   npm run bench:security [-- --devices 1000 --concurrency 100 --ingest-devices 20 --messages 100 --points 200]
import { localProposer } from "../test/harness/local-proposer";
import { ControlStateMachine } from "../cloud/control";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { ApiClient } from "../cloud/api";
import { createLogger, silentLogger } from "../cloud/base";
import { admitAllDevices, defaultIngestConfig, startIngestRole } from "../cloud/ingest";
import { NatsPool, connectNats } from "../cloud/nats";
import { startCloudNode, validateConfig } from "../cloud/node";
import { CredentialIssuer, loadSigningTrust } from "../cloud/security";
import { DeviceProvisioner } from "../firmware/device/provisioning";
import { hostPlatform } from "../firmware/host/sim-device";
import { encodeBatch } from "../shared/codec/batch";
import { Encoding, createEnvelope, encodeEnvelope } from "../shared/proto/xsfleet.gen";
import { deviceTopic, Uplink } from "../shared/topics";
import { startNats, type NatsCluster } from "../test/harness/nats";
import { describeMachine } from "./lib/machine";

/** The benchmark's publishers are not firmware: nothing resends a rate-limited
 *  message, so the per-device limit is lifted to measure throughput. */
const benchRateLimit = { deviceRatePerSec: 1_000_000, deviceBurst: 10_000_000 };

interface Options { devices: number; concurrency: number; ingestDevices: number; messages: number; points: number }

function parseArgs(argv: string[]): Options {
  const o: Options = { devices: 1000, concurrency: 100, ingestDevices: 20, messages: 100, points: 200 };
  const names: Record<string, keyof Options> = { "--devices": "devices", "--concurrency": "concurrency", "--ingest-devices": "ingestDevices", "--messages": "messages", "--points": "points" };
  for (let i = 0; i < argv.length; i++) {
    const k = names[argv[i]!];
    const v = Number(argv[++i]);
    if (!k || !Number.isInteger(v) || v < 1) throw new Error(`usage: bench:security [-- ${Object.keys(names).map((n) => `${n} N`).join(" ")}]`);
    o[k] = v;
  }
  return o;
}

function pct(sorted: number[], p: number): string {
  return sorted.length === 0 ? "-" : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(0);
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

/** Runs `work(i)` for i in 0..n-1 with at most `limit` at once. */
async function pool(n: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await work(next++);
  }));
}

function mqttConnect(url: string, o: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 60_000, ...o });
    c.once("connect", () => resolve(c));
    c.once("error", (e) => { c.end(true); reject(e); });
  });
}

// ---- 1. connect + provisioning ----

interface ProvisionResult { totalS: number; provisionMs: number[]; connectMs: number[]; connectTotalS: number }

async function provisionFleet(o: Options, tls: boolean): Promise<ProvisionResult> {
  const nats = await startNats({ secure: true, tls });
  const root = mkdtempSync(path.join(tmpdir(), "xsfleet-bench-sec-"));
  const roles = ["api", "provisioning"] as const;
  const node = await startCloudNode(validateConfig({
    nodeId: "bench-prov", roles: [...roles], nats: { servers: nats.servers, credsFile: nats.creds([...roles]), ...(tls ? { tls: { caFile: nats.tls!.caFile } } : {}) },
    http: { port: null }, registry: "kv", trustDir: nats.trust!.dir, logLevel: "error",
    provisioning: { requestsPerSec: 100_000, requestBurst: 100_000, inflightMax: 10_000 },
  }), { processMetrics: false, log: silentLogger });
  const admin = await connectNats({ servers: nats.servers, name: "bench-admin", credsFile: nats.creds("admin"), ...(tls ? { tls: { caFile: nats.tls!.caFile } } : {}) });
  try {
    // Device 0 is a warm-up (first MQTT connect of the account, first JetStream use of the provisioning role): not timed.
    const ids = Array.from({ length: o.devices + 1 }, (_, i) => `b-${i}`);
    const api = new ApiClient(admin, { timeoutMs: 120_000 });
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i += 250) for (const c of await api.createClaims({ deviceIds: ids.slice(i, i + 250) })) tokens.push(c.token);
    const url = nats.nodes[0]!.mqttUrl;
    const ca = tls ? readFileSync(nats.tls!.caFile) : undefined;
    const provision = (i: number): Promise<string> => new Promise<string>((resolve, reject) => {
      const { platform } = hostPlatform({ deviceId: ids[i]!, brokerUrl: url, stateDir: path.join(root, ids[i]!), role: "actuator", fsync: false, ...(ca ? { tls: { ca } } : {}) });
      new DeviceProvisioner(platform, {
        deviceId: ids[i]!, brokerUrls: [url], claim: tokens[i]!, keepaliveS: 60, connectTimeoutMs: 60_000, responseTimeoutMs: 30_000, backoff: { baseMs: 200, capMs: 5_000 },
      }, resolve, (e) => { if (e.type === "provisioning-failed") reject(new Error(`${ids[i]}: ${e.code} ${e.message}`)); }).start();
    });
    await provision(o.devices);
    const credentials: string[] = new Array(o.devices);
    const provisionMs: number[] = [];
    const t0 = performance.now();
    let done = 0;
    const progress = setInterval(() => { if (process.stderr.isTTY) process.stderr.write(`\r  provisioned ${done} / ${o.devices}`); }, 500);
    await pool(o.devices, o.concurrency, async (i) => {
      const started = performance.now();
      credentials[i] = await provision(i);
      provisionMs.push(performance.now() - started);
      done++;
    });
    clearInterval(progress);
    if (process.stderr.isTTY) process.stderr.write("\n");
    const totalS = (performance.now() - t0) / 1000;
    // Then every device connects with its new credential, as its runtime does.
    const connectMs: number[] = [];
    const clients: mqtt.MqttClient[] = [];
    const t1 = performance.now();
    await pool(o.devices, o.concurrency, async (i) => {
      const s = performance.now();
      clients.push(await mqttConnect(url, { clientId: ids[i]!, username: ids[i]!, password: credentials[i]!, ...(ca ? { ca, rejectUnauthorized: true } : {}) }));
      connectMs.push(performance.now() - s);
    });
    const connectTotalS = (performance.now() - t1) / 1000;
    await Promise.all(clients.map((c) => c.endAsync()));
    provisionMs.sort((a, b) => a - b);
    connectMs.sort((a, b) => a - b);
    return { totalS, provisionMs, connectMs, connectTotalS };
  } finally {
    await admin.close();
    await node.stop().catch((e: unknown) => console.warn(`  (provisioning node: ${(e as Error).message})`));
    await nats.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

async function plainConnects(o: Options): Promise<{ totalS: number; connectMs: number[] }> {
  const nats = await startNats();
  try {
    // Warm-up: the first MQTT connect of an account creates its $MQTT_* streams; not part of the figure.
    await (await mqttConnect(nats.nodes[0]!.mqttUrl, { clientId: "warm-up" })).endAsync();
    const connectMs: number[] = [];
    const clients: mqtt.MqttClient[] = [];
    const t0 = performance.now();
    await pool(o.devices, o.concurrency, async (i) => {
      const s = performance.now();
      clients.push(await mqttConnect(nats.nodes[0]!.mqttUrl, { clientId: `b-${i}` }));
      connectMs.push(performance.now() - s);
    });
    const totalS = (performance.now() - t0) / 1000;
    await Promise.all(clients.map((c) => c.endAsync()));
    connectMs.sort((a, b) => a - b);
    return { totalS, connectMs };
  } finally {
    await nats.stop();
  }
}

// ---- 2. ingest with authentication off and on ----

function telemetry(deviceId: string, seq: number, points: number): Uint8Array {
  const ts = Array.from({ length: points }, (_, k) => 1.7e12 + seq * points * 1000 + k * 1000);
  const payload = encodeBatch({
    t0Ms: ts[0]!, timestampsMs: ts,
    channels: [{ resolution: 0.01, values: ts.map((_, k) => 20 + Math.round(Math.sin((seq * points + k) / 50) * 300) / 100) }],
  }, { pointsMax: points });
  return encodeEnvelope(createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: Date.now(),
    telemetry: { batchSeq: seq, channels: [{ name: "temperature", unit: "C", resolution: 0.01 }], encoding: Encoding.ENCODING_XSF_TS1, payload, pointCount: points, firstTimeMs: 0, lastTimeMs: 0 },
  }));
}

/** Publisher child: devices from a JSON file ({url, devices: [{id, password?}], messages, points}), QoS 1, 16 in flight each. */
async function runPublisher(file: string): Promise<void> {
  const job = JSON.parse(readFileSync(file, "utf8")) as { url: string; devices: { id: string; password?: string }[]; messages: number; points: number };
  const clients = await Promise.all(job.devices.map((d) => mqttConnect(job.url, { clientId: d.id, ...(d.password ? { username: d.id, password: d.password } : {}) })));
  process.stdout.write("connected\n");
  await new Promise<void>((r) => process.stdin.once("data", () => r()));
  await Promise.all(clients.map(async (c, i) => {
    const id = job.devices[i]!.id;
    let next = 1;
    const worker = async (): Promise<void> => {
      while (next <= job.messages) {
        const seq = next++;
        await c.publishAsync(deviceTopic(id, Uplink.Telemetry), Buffer.from(telemetry(id, seq, job.points)), { qos: 1 });
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  }));
  await Promise.all(clients.map((c) => c.endAsync()));
  process.stdout.write("published\n");
}

async function ingestRate(o: Options, secure: boolean): Promise<{ msgPerS: number; pointsPerS: number }> {
  const nats: NatsCluster = await startNats(secure ? { secure: { partitions: defaultIngestConfig.partitions } } : { partitions: defaultIngestConfig.partitions });
  const dir = mkdtempSync(path.join(tmpdir(), "xsfleet-bench-sec-pub-"));
  try {
    const issuer = secure ? new CredentialIssuer(loadSigningTrust(nats.trust!.dir)) : null;
    const devices = Array.from({ length: o.ingestDevices }, (_, i) => ({ id: `i-${i}`, ...(issuer ? { password: issuer.device(`i-${i}`, 3600).jwt } : {}) }));
    const jobFile = path.join(dir, "job.json");
    writeFileSync(jobFile, JSON.stringify({ url: nats.nodes[0]!.mqttUrl, devices, messages: o.messages, points: o.points }));
    const nc = await NatsPool.open({ servers: nats.servers, name: "bench-ingest", ...(secure ? { credsFile: nats.creds("ingest") } : {}) }, 4);
    const target = o.ingestDevices * o.messages;
    let applied = 0;
    let finished!: () => void;
    const allIn = new Promise<void>((r) => (finished = r));
    const role = await startIngestRole({
      nc, nodeId: "bench", log: createLogger({ level: "warn" }), control: localProposer(new ControlStateMachine()), admission: admitAllDevices,
      config: { history: true, historyLayout: "batch", out: false, batchMax: 256, prefetchMax: 1024, maxAckPending: 8192, ...benchRateLimit },
      onTelemetryApplied: () => { if (++applied === target) finished(); },
    });
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--publisher", jobFile], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => { out += d; });
    while (!out.includes("connected")) {
      if (child.exitCode !== null) throw new Error("publisher exited before connecting");
      await new Promise((r) => setTimeout(r, 20));
    }
    const t0 = performance.now();
    child.stdin!.write("go\n");
    const timer = setTimeout(finished, 300_000);
    await allIn;
    clearTimeout(timer);
    const s = (performance.now() - t0) / 1000;
    child.kill();
    await role.stop();
    await nc.drain();
    if (applied < target) throw new Error(`ingest applied ${applied} of ${target} messages within 300 s`);
    return { msgPerS: applied / s, pointsPerS: (applied * o.points) / s };
  } finally {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--publisher") return runPublisher(argv[1]!);
  const o = parseArgs(argv);
  console.log(describeMachine());
  console.log(`1. connect + provisioning: ${o.devices} devices (firmware/device/provisioning.ts on the host port), ${o.concurrency} at a time; broker, provisioning node and devices share this machine`);
  const base = await plainConnects(o);
  console.log(`   baseline, open broker (no credentials, no TLS): ${o.devices} MQTT connects in ${base.totalS.toFixed(2)} s ` +
    `(${fmt(o.devices / base.totalS)}/s; per connect p50 ${pct(base.connectMs, 50)} ms, p99 ${pct(base.connectMs, 99)} ms)`);
  const results: Record<string, ProvisionResult> = {};
  for (const tls of [false, true]) {
    const r = await provisionFleet(o, tls);
    results[tls ? "tls" : "plain"] = r;
    console.log(`   ${tls ? "with TLS   " : "without TLS"}: provisioning ${o.devices} devices took ${r.totalS.toFixed(2)} s (${fmt(o.devices / r.totalS)} devices/s; ` +
      `per device claim connect → credential stored p50 ${pct(r.provisionMs, 50)} ms, p99 ${pct(r.provisionMs, 99)} ms); ` +
      `then ${o.devices} connects with the credential in ${r.connectTotalS.toFixed(2)} s (p50 ${pct(r.connectMs, 50)} ms, p99 ${pct(r.connectMs, 99)} ms)`);
  }
  const plain = results.plain!;
  const tls = results.tls!;
  console.log(`   ratios: authenticated connect / open connect (total time) ${(plain.connectTotalS / base.totalS).toFixed(2)}×; ` +
    `TLS / no TLS: provisioning ${(tls.totalS / plain.totalS).toFixed(2)}×, connect ${(tls.connectTotalS / plain.connectTotalS).toFixed(2)}×`);

  console.log(`2. ingest rate, ${o.ingestDevices} devices × ${o.messages} telemetry batches × ${o.points} points, QoS 1, 16 in flight each, one ingest node (4 connections)`);
  // Interleaved off, on, off, on: the shared machine's load drifts; each mode gets its best of two.
  const runs: { off: number[]; on: number[] } = { off: [], on: [] };
  for (let round = 0; round < 2; round++) {
    for (const secure of [false, true]) {
      const r = await ingestRate(o, secure);
      runs[secure ? "on" : "off"].push(r.msgPerS);
      console.log(`   round ${round + 1}, authentication ${secure ? "on (JWT users) " : "off (open)     "}: ${fmt(r.msgPerS)} msg/s, ${fmt(r.pointsPerS)} points/s`);
    }
  }
  const best = (xs: number[]): number => Math.max(...xs);
  console.log(`   best of two: off ${fmt(best(runs.off))} msg/s, on ${fmt(best(runs.on))} msg/s; ratio on / off ${(best(runs.on) / best(runs.off) * 100).toFixed(1)} %`);
  console.log(`load average during the run: ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
}

await main();
