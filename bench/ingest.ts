// Ingest benchmark: end to end from simulated devices (MQTT 3.1.1 QoS 1
// publishers of realistic encoded telemetry batches, in a child process)
// through nats-server's MQTT listener and JetStream to decoded device state
// (KV), history and out streams — beside the raw JetStream publish rate of
// messages of the same size, measured in the same run on the same server.
//
//   npm run bench:ingest [-- --devices 40 --messages 150 --points 500 --pool 8
//                           --layout batch|channel --out --no-history]
// Defaults: binary batch history records, no out JSON (the fleet-scale
// setting); `--layout channel --out` is the integrator-friendly setting.
import { localProposer } from "../test/harness/local-proposer";
import { ControlStateMachine } from "../cloud/control";
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { connect } from "@nats-io/transport-node";
import { DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { decodeBatch, encodeBatch } from "../shared/codec/batch";
import { Encoding, createEnvelope, encodeEnvelope } from "../shared/proto/xsfleet.gen";
import { deviceTopic, Uplink } from "../shared/topics";
import { startNats } from "../test/harness/nats";
import { createLogger } from "../cloud/base";
import { admitAllDevices, defaultIngestConfig, startIngestRole } from "../cloud/ingest";
import { NatsPool } from "../cloud/nats";
import { roomClimateTraces } from "../firmware/host/room-climate";

/** The benchmark's publishers are not firmware: nothing resends a rate-limited
 *  message, so the per-device limit is lifted to measure throughput. */
const benchRateLimit = { deviceRatePerSec: 1_000_000, deviceBurst: 10_000_000 };


interface Options {
  devices: number;
  messages: number;
  points: number;
  inflight: number;
  /** NATS connections of the ingest node (and of the raw baseline). */
  pool: number;
  /** Publisher only: device id prefix and total paced rate (msg/s, 0 = as fast as possible). */
  prefix: string;
  rate: number;
  history: boolean;
  out: boolean;
  layout: "channel" | "batch";
}

function parseArgs(argv: string[]): Options {
  const o: Options = { devices: 40, messages: 150, points: 500, inflight: 16, pool: 8, prefix: "bench-", rate: 0, history: true, out: false, layout: "batch" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--no-history") o.history = false;
    else if (a === "--out") o.out = true;
    else if (a === "--prefix") o.prefix = argv[++i] ?? "bench-";
    else if (a === "--rate") o.rate = Number(argv[++i]);
    else if (a === "--layout") {
      const v = argv[++i];
      if (v !== "channel" && v !== "batch") throw new Error("--layout is channel or batch");
      o.layout = v;
    }
    else if (a.startsWith("--") && (a.slice(2) in o)) {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      (o as unknown as Record<string, number>)[a.slice(2)] = v;
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// ---- realistic batches from the room-climate dataset ----

interface Sample { t: number; temp: number; hum: number; l1: number; l2: number }

/** Room-climate series (one per file and NodeID) with enough rows; synthetic if the dataset is missing. */
function loadSeries(): Sample[][] {
  try {
    const series = roomClimateTraces()
      .filter((tr) => tr.rows.length > 1000)
      .map((tr) => tr.rows.map((r) => ({ t: r.timeMs, temp: r.values[0]!, hum: r.values[1]!, l1: r.values[2]!, l2: r.values[3]! })));
    if (series.length > 0) return series;
  } catch {
    // fall through to synthetic data
  }
  console.warn("room-climate dataset not found (set XSFLEET_DATASETS); using synthetic series");
  return [Array.from({ length: 20_000 }, (_, i) => ({ t: 1.45e12 + i * 1000, temp: 20 + Math.round(Math.sin(i / 300) * 100) / 100, hum: 40, l1: 200, l2: 500 + (i % 7) }))];
}

const channels = [
  { name: "temperature", unit: "C", resolution: 0.01 },
  { name: "humidity", unit: "%RH", resolution: 0.001 },
  { name: "light1", unit: "nm", resolution: 0.01 },
  { name: "light2", unit: "nm", resolution: 0.1 },
];

/** `count` encoded telemetry payloads of `points` points each, cut from the dataset. */
function buildPayloads(points: number, count: number): Uint8Array[] {
  const series = loadSeries();
  const out: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const s = series[k % series.length]!;
    const start = (k * points) % Math.max(1, s.length - points);
    const slice = s.slice(start, start + points);
    const ts = slice.map((x) => x.t);
    out.push(encodeBatch({
      t0Ms: ts[0]!, timestampsMs: ts,
      channels: [
        { resolution: 0.01, values: slice.map((x) => x.temp) },
        { resolution: 0.001, values: slice.map((x) => x.hum) },
        { resolution: 0.01, values: slice.map((x) => x.l1) },
        { resolution: 0.1, values: slice.map((x) => x.l2) },
      ],
    }, { pointsMax: points }));
  }
  return out;
}

function envelope(deviceId: string, seq: number, payload: Uint8Array, points: number, nowMs: number): Uint8Array {
  return encodeEnvelope(createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: nowMs,
    telemetry: { batchSeq: seq, channels, encoding: Encoding.ENCODING_XSF_TS1, payload, pointCount: points, firstTimeMs: 0, lastTimeMs: 0 },
  }));
}

// ---- publisher child: D MQTT clients, each M messages, W in flight ----

async function runPublisher(mqttUrl: string, o: Options): Promise<void> {
  const payloads = buildPayloads(o.points, 64);
  const clients = await Promise.all(Array.from({ length: o.devices }, (_, d) => new Promise<mqtt.MqttClient>((resolve, reject) => {
    const c = mqtt.connect(mqttUrl, { protocolVersion: 4, clientId: `${o.prefix}${d}`, clean: true, keepalive: 30, reconnectPeriod: 500 });
    c.once("connect", () => resolve(c));
    c.once("error", reject);
  })));
  process.stdout.write("connected\n");
  await new Promise<void>((r) => process.stdin.once("data", () => r()));
  const t0 = performance.now();
  await Promise.all(clients.map(async (c, d) => {
    const id = `${o.prefix}${d}`;
    const topic = deviceTopic(id, Uplink.Telemetry);
    let next = 1;
    // Paced: device d sends its k-th message at t0 + k × devices / rate.
    const periodMs = o.rate > 0 ? (1000 * o.devices) / o.rate : 0;
    const worker = async (): Promise<void> => {
      while (next <= o.messages) {
        const seq = next++;
        if (periodMs > 0) {
          const dueMs = t0 + (seq - 1) * periodMs + (d * periodMs) / o.devices - performance.now();
          if (dueMs > 0) await new Promise((r) => setTimeout(r, dueMs));
        }
        const bytes = envelope(id, seq, payloads[(seq + d) % payloads.length]!, o.points, Date.now());
        await c.publishAsync(topic, Buffer.from(bytes), { qos: 1 });
      }
    };
    await Promise.all(Array.from({ length: o.inflight }, worker));
  }));
  const elapsedMs = performance.now() - t0;
  process.stdout.write(JSON.stringify({ publishedMs: elapsedMs }) + "\n");
  await Promise.all(clients.map((c) => c.endAsync()));
}

// ---- raw JetStream baseline ----

async function rawJetStreamRate(servers: string[], sizes: Uint8Array[], total: number, window: number, conns: number): Promise<number> {
  const ncs = await Promise.all(Array.from({ length: conns }, () => connect({ servers })));
  const nc = ncs[0]!;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: "BENCH_RAW", subjects: ["bench.raw.>"], storage: StorageType.File, retention: RetentionPolicy.Limits,
    num_replicas: 1, max_bytes: 512 * 1024 * 1024, discard: DiscardPolicy.Old, duplicate_window: 120_000_000_000,
  });
  const jss = ncs.map((c) => jetstream(c));
  let next = 0;
  const t0 = performance.now();
  const worker = async (w: number): Promise<void> => {
    const js = jss[w % jss.length]!;
    while (next < total) {
      const i = next++;
      await js.publish(`bench.raw.d${i % 40}`, sizes[i % sizes.length]!);
    }
  };
  await Promise.all(Array.from({ length: window }, (_, w) => worker(w)));
  const rate = total / ((performance.now() - t0) / 1000);
  await jsm.streams.delete("BENCH_RAW");
  await Promise.all(ncs.map((c) => c.close()));
  return rate;
}

/** Rows per second the codec decodes on one core (warm), for context. */
function decodeRate(payloads: Uint8Array[]): number {
  let rows = 0;
  for (let i = 0; i < 200; i++) rows += decodeBatch(payloads[i % payloads.length]!).timestampsMs.length;
  rows = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1500) for (const p of payloads) rows += decodeBatch(p).timestampsMs.length;
  return rows / ((performance.now() - t0) / 1000);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--publisher") return runPublisher(argv[1]!, parseArgs(argv.slice(2)));
  const o = parseArgs(argv);

  const cpus = os.cpus();
  console.log(`machine: ${cpus[0]?.model ?? "?"}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, ${os.platform()} ${os.release()}`);
  const payloads = buildPayloads(o.points, 64);
  const sample = envelope("bench-0", 1, payloads[0]!, o.points, Date.now());
  const totalMsgs = o.devices * o.messages;
  const totalPoints = totalMsgs * o.points;
  console.log(`workload: ${o.devices} devices × ${o.messages} telemetry batches × ${o.points} points × ${channels.length} channels (room-climate dataset), ` +
    `~${sample.length} B per message (${(sample.length / o.points).toFixed(2)} B/point), ${o.inflight} in flight per device; ` +
    `history ${o.history ? o.layout : "off"}, out JSON ${o.out ? "on (XSF_OUT)" : "off"}, ingest pool ${o.pool} connections`);

  const nats = await startNats({ size: 1, partitions: defaultIngestConfig.partitions });
  try {
    // Baseline: raw JetStream publishes of the same messages, same server.
    const sizes = Array.from({ length: 64 }, (_, i) => envelope(`bench-${i}`, i + 1, payloads[i % payloads.length]!, o.points, Date.now()));
    const rawRate = await rawJetStreamRate(nats.servers, sizes, Math.max(totalMsgs, 10_000), 512, o.pool);
    console.log(`raw JetStream publish, same messages (file, R1, ${o.pool} connections, 512 in flight): ${Math.round(rawRate).toLocaleString("en-US")} msg/s`);

    const nc = await NatsPool.open({ servers: nats.servers, name: "bench-ingest" }, o.pool);
    // Per phase (device id prefix): latencies and points recorded.
    const phases = new Map<string, { latencies: number[]; points: number; target: number; doneAt: number; done: () => void }>();
    const role = await startIngestRole({
      nc, nodeId: "bench", log: createLogger({ level: "warn" }), control: localProposer(new ControlStateMachine()), admission: admitAllDevices,
      config: { history: o.history, historyLayout: o.layout, out: o.out, batchMax: 256, prefetchMax: 1024, maxAckPending: 8192, ...benchRateLimit },
      onTelemetryApplied: (id, _seq, deviceTimeMs, n) => {
        const ph = phases.get(id.slice(0, id.indexOf("-") + 1));
        if (!ph) return;
        ph.latencies.push(Date.now() - deviceTimeMs);
        ph.points += n;
        if (ph.points >= ph.target && ph.doneAt === 0) { ph.doneAt = performance.now(); ph.done(); }
      },
    });

    /** Runs one publisher child (prefix-named devices) until ingest recorded all its points. */
    const runPhase = async (prefix: string, extra: string[], messages: number): Promise<{ elapsedS: number; publishedMs: number; latencies: number[]; points: number }> => {
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const ph = { latencies: [] as number[], points: 0, target: o.devices * messages * o.points, doneAt: 0, done };
      phases.set(prefix, ph);
      const args = ["--import", "tsx", fileURLToPath(import.meta.url), "--publisher", nats.nodes[0]!.mqttUrl, ...argv, "--messages", String(messages), "--prefix", prefix, ...extra];
      const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
      const lines: string[] = [];
      let buf = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        buf += d;
        for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1); }
      });
      const waitLine = async (pred: (l: string) => boolean): Promise<string> => {
        for (;;) {
          const l = lines.find(pred);
          if (l) return l;
          if (child.exitCode !== null) throw new Error("publisher exited early");
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await waitLine((l) => l === "connected");
      const t0 = performance.now();
      child.stdin!.write("go\n");
      const progress = setInterval(() => process.stderr.write(`\r  ${prefix} ingest: ${ph.points.toLocaleString("en-US")} / ${ph.target.toLocaleString("en-US")} points`), 500);
      const timeout = setTimeout(done, 300_000);
      await finished;
      clearTimeout(timeout);
      clearInterval(progress);
      process.stderr.write("\n");
      const pub = JSON.parse(await waitLine((l) => l.startsWith("{"))) as { publishedMs: number };
      child.kill();
      ph.latencies.sort((a, b) => a - b);
      return { elapsedS: ((ph.doneAt || performance.now()) - t0) / 1000, publishedMs: pub.publishedMs, latencies: ph.latencies, points: ph.points };
    };

    // Phase 1: throughput (devices publish as fast as PUBACKs allow).
    const before = role.stats();
    const r1 = await runPhase("tput-", [], o.messages);
    const st = role.stats();
    const applied = st.applied - before.applied;
    const msgRate = applied / r1.elapsedS;
    console.log(`end to end: ${applied.toLocaleString("en-US")} messages, ${r1.points.toLocaleString("en-US")} points in ${r1.elapsedS.toFixed(2)} s ` +
      `(devices finished publishing after ${(r1.publishedMs / 1000).toFixed(2)} s)`);
    console.log(`  ${Math.round(r1.points / r1.elapsedS).toLocaleString("en-US")} points/s (rows of ${channels.length} channels; ` +
      `${Math.round(r1.points * channels.length / r1.elapsedS).toLocaleString("en-US")} channel values/s)   ${Math.round(msgRate).toLocaleString("en-US")} msg/s`);
    console.log(`  latency at saturation (queueing): p50 ${percentile(r1.latencies, 50)} ms, p99 ${percentile(r1.latencies, 99)} ms`);
    console.log(`  duplicates ${st.duplicates}, dead letters ${st.deadLetters}, foreign writes ${st.foreignWrites}, batch failures ${st.batchFailures}, history records ${st.historyPublished}, out ${st.outPublished}`);
    console.log(`ratio ingest / raw JetStream message rate: ${(msgRate / rawRate * 100).toFixed(1)} %   (target ≥ 50 %)`);
    console.log(`points/s vs target 1,000,000: ${(r1.points / r1.elapsedS / 1e6 * 100).toFixed(0)} % (rows), ${(r1.points * channels.length / r1.elapsedS / 1e6 * 100).toFixed(0)} % (channel values)`);

    // Phase 2: latency at half the measured throughput, paced.
    const paceRate = Math.max(10, Math.floor(msgRate / 2));
    const paceMessages = Math.max(5, Math.ceil((paceRate * 8) / o.devices));
    const r2 = await runPhase("lat-", ["--rate", String(paceRate)], paceMessages);
    console.log(`latency device publish → state recorded at ${paceRate.toLocaleString("en-US")} msg/s (50 % load, paced): ` +
      `p50 ${percentile(r2.latencies, 50)} ms, p99 ${percentile(r2.latencies, 99)} ms, max ${r2.latencies.at(-1)} ms (${r2.latencies.length} batches)`);
    const dec = decodeRate(payloads);
    console.log(`ceiling on this machine: shared/codec decodes ${Math.round(dec).toLocaleString("en-US")} rows/s of this data on one core (decode alone, no I/O)`);
    console.log(`load average during the run: ${os.loadavg().map((x) => x.toFixed(1)).join(" ")} (other processes share these ${os.cpus().length} cores)`);
    await role.stop();
    await nc.drain();
  } finally {
    await nats.stop();
  }
}

await main();
