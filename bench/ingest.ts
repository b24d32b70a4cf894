// Ingest benchmark: end to end from simulated devices (MQTT 3.1.1 QoS 1
// publishers of realistic encoded telemetry batches, in a child process)
// through nats-server's MQTT listener and JetStream to decoded device state
// (KV), history and out streams — beside raw JetStream publishing of the same
// messages into a stream configured like XSF_UP (the stream the devices'
// messages land in), measured in the same run on the same server.
//
// Message shapes: by default the batches devices really send (32 rows of 4
// channels: firmware batchPointsMax 32, the room-climate sensor), then the
// 500-row shape as a second row. A point is one (time, value) of one channel:
// a 32-row 4-channel batch holds 128 points. Each shape runs `--reps` rounds
// of raw baseline then ingest, interleaved; the table shows the medians and
// the median of the per-round ratios (the machine may be shared: a ratio
// measured in the same minute is what compares).
//
//   npm run bench:ingest [-- --points 32 --devices 40 --inflight 16 --messages 300 --reps 3 --pool 8
//                           --batch 256 --prefetch 1024 --ackpending 8192
//                           --layout batch|channel --out --no-history --profile DIR
//                           --server-profile SECONDS]
// The default load (40 devices, 16 messages in flight each) lets ingest
// write a device's state once for several messages of a pull batch; a
// fleet sends one message per device at a time (`--devices 640 --inflight 1`),
// where every message costs a state write.
// --points picks one shape; --profile writes a CPU profile of the last ingest
// phase of each shape (this process: the ingest role and the raw publisher's
// client) to DIR and prints its top functions by self time; --server-profile
// takes nats-server's own (Go pprof) CPU profile of that phase and prints its
// self and inclusive time per message (bench/lib/go-pprof.ts).
// Defaults: binary batch history records, no out JSON (the fleet-scale
// setting); `--layout channel --out` is the integrator-friendly setting.
import { localProposer } from "../test/harness/local-proposer";
import { ControlStateMachine } from "../cloud/control";
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { mkdirSync, readFileSync } from "node:fs";
import { BatchDecoder, encodeBatch } from "../shared/codec/batch";
import { Encoding, createEnvelope, encodeEnvelope } from "../shared/proto/xsfleet.gen";
import { deviceTopic, Uplink } from "../shared/topics";
import { startNats } from "../test/harness/nats";
import { createLogger } from "../cloud/base";
import { admitAllDevices, defaultIngestConfig, IngestStream, startIngestRole } from "../cloud/ingest";
import { describeMachine } from "./lib/machine";
import { printTable } from "./lib/load";
import { printSummary, profileDuring, summarizeProfile } from "./lib/cpu-profile";
import { cpuTable, fetchCpu } from "./lib/go-pprof";
import { freePort } from "../cloud/infra";
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
  /** Ingest consumer settings (IngestConfig batchMax, prefetchMax, maxAckPending). */
  batch: number;
  prefetch: number;
  ackpending: number;
  /** Publisher only: device id prefix and total paced rate (msg/s, 0 = as fast as possible). */
  prefix: string;
  rate: number;
  history: boolean;
  out: boolean;
  layout: "channel" | "batch";
  /** Rounds of (raw baseline, ingest) per shape. */
  reps: number;
  /** Directory for CPU profiles of the ingest phase; null: no profiling. */
  profile: string | null;
  /** Seconds of nats-server CPU profile (Go pprof) taken from the start of each shape's last ingest phase; 0: none. */
  serverProfile: number;
  /** Shapes (rows per batch) and messages per device given on the command line. */
  pointsGiven: boolean;
  messagesGiven: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    devices: 40, messages: 300, points: 32, inflight: 16, pool: 8, batch: 256, prefetch: 1024, ackpending: 8192, prefix: "bench-", rate: 0, history: true, out: false, layout: "batch",
    reps: 3, profile: null, serverProfile: 0, pointsGiven: false, messagesGiven: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--points") o.pointsGiven = true;
    if (a === "--messages") o.messagesGiven = true;
    if (a === "--no-history") o.history = false;
    else if (a === "--profile") o.profile = argv[++i] ?? "";
    else if (a === "--server-profile") {
      o.serverProfile = Number(argv[++i]);
      if (!Number.isInteger(o.serverProfile) || o.serverProfile < 1 || o.serverProfile > 120) throw new Error("--server-profile needs seconds, 1..120 (longer than the phase)");
    }
    else if (a === "--out") o.out = true;
    else if (a === "--prefix") o.prefix = argv[++i] ?? "bench-";
    else if (a === "--rate") o.rate = Number(argv[++i]);
    else if (a === "--layout") {
      const v = argv[++i];
      if (v !== "channel" && v !== "batch") throw new Error("--layout is channel or batch");
      o.layout = v;
    }
    else if (a.startsWith("--") && (a.slice(2) in o) && typeof (o as unknown as Record<string, unknown>)[a.slice(2)] === "number") {
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

// ---- CPU per message (independent of the machine's load) ----

/** User + system CPU of a process, ms, from /proc (Linux); NaN elsewhere. */
function procCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return NaN;
  }
}
const selfCpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

// ---- raw JetStream baseline ----

/** The raw baseline's stream: XSF_UP's configuration (storage, replicas,
 *  limits, duplicate window) under another name and subject. */
const rawStream = "BENCH_RAW_UP";
const rawSubjectPrefix = "bench.raw";

/** Publishes `total` messages (the devices' envelopes, cycled) into a fresh
 *  copy of XSF_UP, `window` in flight over the given connections; msg/s. */
async function rawJetStreamRate(conns: readonly NatsConnection[], messages: readonly { subject: string; data: Uint8Array }[], total: number, window: number, serverPid: number | undefined): Promise<{ rate: number; clientUs: number; serverUs: number }> {
  const jsm = await jetstreamManager(conns[0]!);
  const up = (await jsm.streams.info(IngestStream.Uplinks)).config;
  await jsm.streams.add({ ...up, name: rawStream, subjects: [`${rawSubjectPrefix}.>`], description: "bench:ingest raw baseline (XSF_UP's config)" });
  const jss = conns.map((c) => jetstream(c));
  let next = 0;
  const t0 = performance.now();
  const cpu0 = selfCpuMs();
  const srv0 = procCpuMs(serverPid);
  const worker = async (w: number): Promise<void> => {
    const js = jss[w % jss.length]!;
    while (next < total) {
      const m = messages[next++ % messages.length]!;
      await js.publish(m.subject, m.data);
    }
  };
  await Promise.all(Array.from({ length: window }, (_, w) => worker(w)));
  const rate = total / ((performance.now() - t0) / 1000);
  const clientUs = ((selfCpuMs() - cpu0) * 1000) / total;
  const serverUs = ((procCpuMs(serverPid) - srv0) * 1000) / total;
  await jsm.streams.delete(rawStream);
  return { rate, clientUs, serverUs };
}

/** Rows per second the codec decodes on one core (warm), for context: one
 *  reused BatchDecoder, as ingest decodes (cloud/records). */
function decodeRate(payloads: Uint8Array[]): number {
  const decoder = new BatchDecoder();
  let rows = 0;
  for (let i = 0; i < 200; i++) rows += decoder.decode(payloads[i % payloads.length]!).timestampsMs.length;
  rows = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1500) for (const p of payloads) rows += decoder.decode(p).timestampsMs.length;
  return rows / ((performance.now() - t0) / 1000);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
/** Ingest's message rate must reach this fraction of raw JetStream's (issue 15). */
const targetRatio = 0.5;

interface ShapeResult {
  rows: number; messages: number; raw: number[]; ingest: number[]; ratios: number[]; pointsPerSec: number[]; bytes: number; published: number[];
  /** CPU µs per message: raw client and server; ingest process, server (MQTT + JetStream) and the MQTT publishers. */
  rawClientUs: number[]; rawServerUs: number[]; ingestUs: number[]; serverUs: number[]; publisherUs: number[];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--publisher") return runPublisher(argv[1]!, parseArgs(argv.slice(2)));
  const o = parseArgs(argv);
  const shapes = o.pointsGiven ? [o.points] : [32, 500];
  /** Messages per device: enough for a few seconds of ingest per round. */
  const messagesOf = (rows: number): number => (o.messagesGiven ? o.messages : rows <= 64 ? 300 : 50);

  console.log(describeMachine());
  console.log(`workload: ${o.devices} devices, ${o.inflight} in flight each (MQTT QoS 1), room-climate batches of ${channels.length} channels; ` +
    `history ${o.history ? o.layout : "off"}, out JSON ${o.out ? "on (XSF_OUT)" : "off"}; ingest pool ${o.pool} connections, batchMax ${o.batch}, prefetchMax ${o.prefetch}, maxAckPending ${o.ackpending}; ${o.reps} rounds per shape (raw, ingest interleaved)`);
  console.log(`a point is one (time, value) of one channel: a ${shapes[0]}-row batch of ${channels.length} channels holds ${shapes[0]! * channels.length} points`);
  if (o.profile) mkdirSync(o.profile, { recursive: true });

  const profPort = o.serverProfile > 0 ? await freePort() : undefined;
  const nats = await startNats({ size: 1, partitions: defaultIngestConfig.partitions, ...(profPort ? { profPort } : {}) });
  try {
    const nc = await NatsPool.open({ servers: nats.servers, name: "bench-ingest" }, o.pool);
    const rawPool = await NatsPool.open({ servers: nats.servers, name: "bench-raw" }, o.pool);
    // Per phase (device id prefix): latencies and rows recorded.
    const phases = new Map<string, { latencies: number[]; rows: number; target: number; doneAt: number; done: () => void }>();
    const role = await startIngestRole({
      nc, nodeId: "bench", log: createLogger({ level: "warn" }), control: localProposer(new ControlStateMachine()), admission: admitAllDevices,
      config: { history: o.history, historyLayout: o.layout, out: o.out, batchMax: o.batch, prefetchMax: o.prefetch, maxAckPending: o.ackpending, ...benchRateLimit },
      onTelemetryApplied: (id, _seq, deviceTimeMs, n) => {
        const ph = phases.get(id.slice(0, id.indexOf("-") + 1));
        if (!ph) return;
        ph.latencies.push(Date.now() - deviceTimeMs);
        ph.rows += n;
        if (ph.rows >= ph.target && ph.doneAt === 0) { ph.doneAt = performance.now(); ph.done(); }
      },
    });

    /** Runs one publisher child (prefix-named devices) until ingest recorded all its rows. */
    const serverPid = nats.nodes[0]!.process?.child.pid;
    const runPhase = async (prefix: string, rows: number, extra: string[], messages: number): Promise<{ elapsedS: number; publishedMs: number; latencies: number[]; rows: number; ingestCpuMs: number; serverCpuMs: number; publisherCpuMs: number }> => {
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const ph = { latencies: [] as number[], rows: 0, target: o.devices * messages * rows, doneAt: 0, done };
      phases.set(prefix, ph);
      const args = ["--import", "tsx", fileURLToPath(import.meta.url), "--publisher", nats.nodes[0]!.mqttUrl, ...argv,
        "--points", String(rows), "--messages", String(messages), "--prefix", prefix, ...extra];
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
      const cpu0 = { ingest: selfCpuMs(), server: procCpuMs(serverPid), publisher: procCpuMs(child.pid) };
      child.stdin!.write("go\n");
      // Also done once every message is accounted for as applied or duplicate:
      // a CAS that timed out at the client but was stored makes its messages
      // duplicates on retry, and their rows never reach onTelemetryApplied.
      const settled0 = role.stats();
      const progress = setInterval(() => {
        process.stderr.write(`\r  ${prefix} ingest: ${fmtInt(ph.rows)} / ${fmtInt(ph.target)} rows`);
        const st = role.stats();
        if (ph.doneAt === 0 && st.applied + st.duplicates - settled0.applied - settled0.duplicates >= o.devices * messages) {
          ph.doneAt = performance.now();
          ph.done();
        }
      }, 500);
      const timeout = setTimeout(done, 300_000);
      await finished;
      const cpu = { ingest: selfCpuMs() - cpu0.ingest, server: procCpuMs(serverPid) - cpu0.server, publisher: procCpuMs(child.pid) - cpu0.publisher };
      clearTimeout(timeout);
      clearInterval(progress);
      process.stderr.write("\n");
      const pub = JSON.parse(await waitLine((l) => l.startsWith("{"))) as { publishedMs: number };
      child.kill();
      phases.delete(prefix);
      ph.latencies.sort((a, b) => a - b);
      return {
        elapsedS: ((ph.doneAt || performance.now()) - t0) / 1000, publishedMs: pub.publishedMs, latencies: ph.latencies, rows: ph.rows,
        ingestCpuMs: cpu.ingest, serverCpuMs: cpu.server, publisherCpuMs: cpu.publisher,
      };
    };

    const results: ShapeResult[] = [];
    for (const rows of shapes) {
      const messages = messagesOf(rows);
      const payloads = buildPayloads(rows, 64);
      const sample = envelope("bench-0", 1, payloads[0]!, rows, Date.now());
      const totalMsgs = o.devices * messages;
      // The raw baseline publishes the devices' own envelopes, one subject per device.
      const rawMessages = Array.from({ length: 64 }, (_, i) => ({
        subject: `${rawSubjectPrefix}.bench-${i % o.devices}.telemetry`,
        data: envelope(`bench-${i % o.devices}`, i + 1, payloads[i % payloads.length]!, rows, Date.now()),
      }));
      const r: ShapeResult = {
        rows, messages: totalMsgs, raw: [], ingest: [], ratios: [], pointsPerSec: [], bytes: sample.length, published: [],
        rawClientUs: [], rawServerUs: [], ingestUs: [], serverUs: [], publisherUs: [],
      };
      for (let rep = 1; rep <= o.reps; rep++) {
        const rawRun = await rawJetStreamRate(rawPool.all(), rawMessages, Math.max(totalMsgs, 10_000), 512, serverPid);
        const raw = rawRun.rate;
        const before = role.stats();
        const prefix = `t${rows}r${rep}-`;
        const profileFile = o.profile && rep === o.reps ? path.join(o.profile, `ingest-${rows}rows.cpuprofile`) : null;
        // The server's own profile of this phase: Go pprof over a window longer than the phase (the rest is idle).
        const serverCpu = profPort && rep === o.reps ? fetchCpu(`http://127.0.0.1:${profPort}`, o.serverProfile) : null;
        const { result: ph, profile } = profileFile
          ? await profileDuring(profileFile, () => runPhase(prefix, rows, [], messages))
          : { result: await runPhase(prefix, rows, [], messages), profile: null };
        const st = role.stats();
        const msgRate = (st.applied - before.applied) / ph.elapsedS;
        r.raw.push(raw);
        r.ingest.push(msgRate);
        r.ratios.push(msgRate / raw);
        r.pointsPerSec.push((ph.rows * channels.length) / ph.elapsedS);
        r.published.push(ph.publishedMs / 1000);
        const applied = st.applied - before.applied;
        r.rawClientUs.push(rawRun.clientUs);
        r.rawServerUs.push(rawRun.serverUs);
        r.ingestUs.push((ph.ingestCpuMs * 1000) / applied);
        r.serverUs.push((ph.serverCpuMs * 1000) / applied);
        r.publisherUs.push((ph.publisherCpuMs * 1000) / applied);
        console.log(`  ${rows} rows, round ${rep}: raw ${fmtInt(raw)} msg/s, ingest ${fmtInt(msgRate)} msg/s (${totalMsgs} messages in ${ph.elapsedS.toFixed(2)} s, ` +
          `devices done publishing after ${(ph.publishedMs / 1000).toFixed(2)} s), ratio ${(100 * msgRate / raw).toFixed(1)} %; load ${os.loadavg()[0]!.toFixed(1)}`);
        if (profile && profileFile) printSummary(`  CPU profile of this ingest phase (${profileFile})`, summarizeProfile(profile, 15));
        if (serverCpu) {
          console.log(`  nats-server's CPU profile of this ingest phase (${o.serverProfile} s window, the phase took ${ph.elapsedS.toFixed(1)} s):\n`);
          console.log(cpuTable(await serverCpu, 15, applied).map((l) => `  ${l}`).join("\n") + "\n");
        }
      }
      results.push(r);
    }
    const st = role.stats();
    console.log(`  duplicates ${st.duplicates}, dead letters ${st.deadLetters}, foreign writes ${st.foreignWrites}, batch failures ${st.batchFailures}, history records ${st.historyPublished} (${st.compression.historyCompressed} compressed, ${fmtInt(st.compression.historyRawBytes)} B → ${fmtInt(st.compression.historyStoredBytes)} B stored), out ${st.outPublished}`);

    console.log("");
    console.log(`ingest vs raw JetStream, medians of ${o.reps} interleaved rounds (points = rows × ${channels.length} channels):`);
    printTable([
      ["shape", "B/msg", "raw JetStream msg/s", "ingest msg/s", "ingest points/s", "ratio (median)", `target ≥ ${targetRatio * 100} %`],
      ...results.map((r) => {
        const ratio = median(r.ratios);
        return [
          `${r.rows} rows × ${channels.length} ch`, String(r.bytes), fmtInt(median(r.raw)), fmtInt(median(r.ingest)), fmtInt(median(r.pointsPerSec)),
          `${(100 * ratio).toFixed(1)} %`, ratio >= targetRatio ? "met" : "not met",
        ];
      }),
    ]);

    console.log("");
    console.log("CPU per message, µs (medians; user + system, independent of how busy the machine is):");
    printTable([
      ["shape", "raw: client", "raw: server", "raw: total", "ingest process", "server (MQTT+JS)", "MQTT publishers", "ingest path: total", "raw / ingest-path CPU"],
      ...results.map((r) => {
        const rawTotal = median(r.rawClientUs) + median(r.rawServerUs);
        const pathTotal = median(r.ingestUs) + median(r.serverUs) + median(r.publisherUs);
        return [`${r.rows} rows × ${channels.length} ch`, fmtInt(median(r.rawClientUs)), fmtInt(median(r.rawServerUs)), fmtInt(rawTotal),
          fmtInt(median(r.ingestUs)), fmtInt(median(r.serverUs)), fmtInt(median(r.publisherUs)), fmtInt(pathTotal), `${(100 * rawTotal / pathTotal).toFixed(1)} %`];
      }),
    ]);
    // Both phases keep the 2 cores busy, so the wall ratio tracks the CPU
    // ratio (the last column). What the ratio could reach if a part of the
    // path cost nothing: the bound the server's share alone sets.
    console.log("");
    console.log("ceiling of the ratio from CPU per message (raw total / what would remain):");
    printTable([
      ["shape", "as measured", "ingest process free", "ingest process and publishers free", `reachable ≥ ${targetRatio * 100} %?`],
      ...results.map((r) => {
        const rawTotal = median(r.rawClientUs) + median(r.rawServerUs);
        const [ing, srv, pub] = [median(r.ingestUs), median(r.serverUs), median(r.publisherUs)];
        const freeIngest = rawTotal / (srv + pub);
        return [`${r.rows} rows × ${channels.length} ch`, `${(100 * rawTotal / (ing + srv + pub)).toFixed(1)} %`, `${(100 * freeIngest).toFixed(1)} %`,
          `${(100 * rawTotal / srv).toFixed(1)} %`, freeIngest >= targetRatio ? "only with a near-free ingest process" : "no: server + publishers alone exceed it"];
      }),
    ]);

    // Latency at half the measured throughput of the first shape, paced.
    const first = results[0]!;
    const paceRate = Math.max(10, Math.floor(median(first.ingest) / 2));
    const paceMessages = Math.max(5, Math.ceil((paceRate * 8) / o.devices));
    const lat = await runPhase("lat-", first.rows, ["--rate", String(paceRate)], paceMessages);
    console.log(`latency device publish → state recorded, ${first.rows}-row batches at ${fmtInt(paceRate)} msg/s (50 % load, paced): ` +
      `p50 ${percentile(lat.latencies, 50)} ms, p99 ${percentile(lat.latencies, 99)} ms, max ${lat.latencies.at(-1)} ms (${lat.latencies.length} batches)`);
    const dec = decodeRate(buildPayloads(first.rows, 64));
    console.log(`ceiling on this machine: shared/codec decodes ${fmtInt(dec)} rows/s of ${first.rows}-row batches on one core (a reused BatchDecoder as ingest's; decode alone, no I/O)`);
    console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(" ")} (other processes share these ${os.cpus().length} cores)`);
    await role.stop();
    await nc.drain();
    await rawPool.drain();
  } finally {
    await nats.stop();
  }
}

await main();
