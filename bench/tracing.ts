// Tracing overhead on ingest: the same backlog of device telemetry drained
// by a real ingest role on a real nats-server with tracing off, on at 1 %
// sampling and at 100 % (real OTLP/HTTP protobuf exporter with the batch
// processor, to a sink that accepts and discards), and with metrics scraped
// 10 times a second — side by side, interleaved over rounds so drift on a
// shared machine hits every setting alike; the median round is reported.
//
//   npm run bench:tracing [-- --devices 100 --messages 40 --points 60 --rounds 3]
//
// Every message carries a device traceparent (sampled, as devices send
// them), so "on" exercises the parent-based path: context from the
// envelope, six spans per device batch, trace headers on history records.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { jetstream } from "@nats-io/jetstream";
import { createLogger } from "../cloud/base";
import {
  admitAllDevices, DeviceLocks, ensureIngestStreams, emptyIngestStats, IngestPipeline, parseIngestConfig, defaultIngestConfig, registerIngestMetrics, startIngestRole, StateCache, type Delivery, type ProcessingObserver,
} from "../cloud/ingest";
import { emptyDeviceState, type LoadedState } from "../cloud/state";
import { createProcessMetrics } from "../cloud/metrics";
import { NatsPool } from "../cloud/nats";
import { defaultTracingSettings, otlpTracesUrl, ProcessKind, startTracing, type Tracing } from "../cloud/tracing";
import { encodeBatch } from "../shared/codec/batch";
import { Encoding, createEnvelope, encodeEnvelope } from "../shared/proto/xsfleet.gen";
import { deviceSubject, Uplink } from "../shared/topics";
import { startNats } from "../test/harness/nats";
import { localProposer } from "../test/harness/local-proposer";
import { ControlStateMachine } from "../cloud/control";
import { describeMachine } from "./lib/machine";
import { jetstreamManager } from "@nats-io/jetstream";
import { randomBytes } from "node:crypto";

interface Options { devices: number; messages: number; points: number; rounds: number }

function parseArgs(argv: string[]): Options {
  const o: Options = { devices: 100, messages: 40, points: 60, rounds: 3 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!.replace(/^--/, "");
    const v = Number(argv[++i]);
    if (!(k in o) || !Number.isInteger(v) || v < 1) throw new Error(`usage: --devices N --messages N --points N --rounds N (bad ${argv[i - 1]})`);
    (o as unknown as Record<string, number>)[k] = v;
  }
  return o;
}

const Setting = { Off: "tracing off", Ratio1: "tracing 1 %", Ratio100: "tracing 100 %", Metrics: "metrics only (scraped 10/s)" } as const;
type Setting = (typeof Setting)[keyof typeof Setting];
const settings: Setting[] = [Setting.Off, Setting.Ratio1, Setting.Ratio100, Setting.Metrics];

const channels = [
  { name: "temperature", unit: "C", resolution: 0.01 },
  { name: "humidity", unit: "%RH", resolution: 0.001 },
];

function payload(points: number, k: number): Uint8Array {
  const ts = Array.from({ length: points }, (_, i) => 1.7e12 + (k * points + i) * 1000);
  return encodeBatch({ t0Ms: ts[0]!, timestampsMs: ts, channels: [
    { resolution: 0.01, values: ts.map((_, i) => 20 + ((i * 7 + k) % 13) * 0.01) },
    { resolution: 0.001, values: ts.map((_, i) => 40 + ((i * 13 + k) % 17) * 0.001) },
  ] }, { pointsMax: points });
}

/** An OTLP/HTTP sink: reads and discards (a collector's work happens elsewhere). */
async function startSink(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = createServer((req, res) => { req.resume(); req.on("end", () => { n++; res.writeHead(200, { "content-type": "application/x-protobuf" }).end(); }); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => n, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * CPU per message of the pipeline alone (no NATS): in-memory state and
 * outputs, the same batches, tracing off / 1 % / 100 % (batch processor, an
 * exporter that discards). Alternating repetitions; the median of each.
 */
async function pipelineCost(o: Options): Promise<Map<string, number>> {
  const cfg = parseIngestConfig({});
  const payloads = Array.from({ length: 16 }, (_, k) => payload(o.points, k));
  const discard = { export: (_s: unknown, cb: (r: { code: number }) => void) => cb({ code: 0 }), shutdown: async () => {} };
  const modes: Array<[string, number | null]> = [["tracing off", null], ["tracing 1 %", 0.01], ["tracing 100 %", 1]];
  const costs = new Map<string, number[]>(modes.map(([m]) => [m, []]));
  let run = 0;
  for (let rep = 0; rep <= 2 * o.rounds; rep++) {
    for (const [mode, ratio] of modes) {
      run++;
      const tracing = ratio === null ? startTracing({ serviceName: ProcessKind.Bench, instanceId: "p", settings: defaultTracingSettings })
        : startTracing({ serviceName: ProcessKind.Bench, instanceId: "p", settings: { ...defaultTracingSettings, ratio }, exporter: discard as never, implicitContext: false });
      const states = new Map<string, LoadedState>();
      const pipeline = new IngestPipeline({
        cfg, cache: new StateCache(10_000), locks: new DeviceLocks(), stats: emptyIngestStats("p"), log: createLogger({ level: "warn" }), tracer: tracing.tracer, admission: admitAllDevices,
        state: {
          load: async (id) => states.get(id) ?? { state: emptyDeviceState(id), revision: 0 },
          compareAndSet: async (id, st, rev) => { const n = rev + 1; states.set(id, { state: st, revision: n }); return n; },
        },
        out: { telemetry: () => [Promise.resolve()], outCore: () => {}, event: () => {}, deadLetter: async () => {}, receipt: () => {} },
      });
      const batch: Delivery[] = [];
      let streamSeq = 0;
      for (let seq = 1; seq <= o.messages; seq++) {
        for (let d = 0; d < o.devices; d++) {
          const id = `p${run}x${d}`;
          const data = encodeEnvelope(createEnvelope({
            schemaVersion: 1, deviceId: id, seq, deviceTimeMs: Date.now(),
            traceparent: `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`,
            telemetry: { batchSeq: seq, channels, encoding: Encoding.ENCODING_XSF_TS1, payload: payloads[(seq + d) % payloads.length]!, pointCount: o.points, firstTimeMs: 0, lastTimeMs: 0 },
          }));
          batch.push({ subject: deviceSubject(id, Uplink.Telemetry), data, stream: "XSF_UP", streamSeq: ++streamSeq, timeMs: Date.now(), redelivered: false, deliveryCount: 1, pending: 0, ack: () => {}, nak: () => {} });
        }
      }
      // CPU time of this process, not wall time: other processes on a shared machine preempt us, they do not add CPU to us.
      const c0 = process.cpuUsage();
      for (let i = 0; i < batch.length; i += 256) await pipeline.processBatch("bench", batch.slice(i, i + 256));
      const c = process.cpuUsage(c0);
      const usPerMsg = (c.user + c.system) / batch.length;
      await tracing.shutdown();
      if (rep > 0) costs.get(mode)!.push(usPerMsg);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return new Map([...costs].map(([m, xs]) => [m, median(xs)]));
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  console.log(describeMachine());
  const cost = await pipelineCost(o);
  const off = cost.get("tracing off")!;
  console.log("pipeline alone (decode, dedup/apply, in-memory state and outputs; no NATS), CPU time per message, median of " + 2 * o.rounds + " alternating runs:");
  for (const [m, us] of cost) console.log(`  ${m}: ${us.toFixed(1)} µs/msg (${m === "tracing off" ? "baseline" : `+${(us - off).toFixed(1)} µs, ${((us / off - 1) * 100).toFixed(1)} %`})`);
  console.log(`workload per run: ${o.devices} devices × ${o.messages} telemetry batches × ${o.points} points (${channels.length} channels), each with a sampled device traceparent, ` +
    `drained from a JetStream backlog by one ingest role (history batch, no out JSON); ${o.rounds} rounds of ${settings.length} settings, interleaved, after a warm-up round`);
  const nats = await startNats({ size: 1, partitions: defaultIngestConfig.partitions });
  const sink = await startSink();
  const payloads = Array.from({ length: 16 }, (_, k) => payload(o.points, k));
  const results = new Map<Setting, number[]>(settings.map((s) => [s, []]));
  /** CPU of this process (the ingest role and its NATS clients) per message drained, µs. */
  const cpuPerMsg = new Map<Setting, number[]>(settings.map((s) => [s, []]));
  try {
    const nc = await NatsPool.open({ servers: nats.servers, name: "bench-tracing" }, 4);
    const js = jetstream(nc.all()[0]!);
    await ensureIngestStreams(await jetstreamManager(nc.all()[0]!), { replicas: 1, messageBytesMax: defaultIngestConfig.messageBytesMax });
    let run = 0;
    // Round 0 warms up (JIT, server caches) and is not counted; each round starts at another setting, so no setting always runs first.
    for (let round = 0; round <= o.rounds; round++) {
      for (let k = 0; k < settings.length; k++) {
        const setting = settings[(k + round) % settings.length]!;
        run++;
        const prefix = `r${run}x`;
        // The backlog, published while no ingest runs.
        const total = o.devices * o.messages;
        const pubs: Promise<unknown>[] = [];
        for (let seq = 1; seq <= o.messages; seq++) {
          for (let d = 0; d < o.devices; d++) {
            const id = `${prefix}${d}`;
            const env = encodeEnvelope(createEnvelope({
              schemaVersion: 1, deviceId: id, seq, deviceTimeMs: Date.now(),
              traceparent: `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`,
              telemetry: { batchSeq: seq, channels, encoding: Encoding.ENCODING_XSF_TS1, payload: payloads[(seq + d) % payloads.length]!, pointCount: o.points, firstTimeMs: 0, lastTimeMs: 0 },
            }));
            pubs.push(js.publish(deviceSubject(id, Uplink.Telemetry), env));
            if (pubs.length >= 512) await Promise.all(pubs.splice(0));
          }
        }
        await Promise.all(pubs);

        const tracing: Tracing = setting === Setting.Ratio1 || setting === Setting.Ratio100
          ? startTracing({ serviceName: ProcessKind.Bench, instanceId: prefix, settings: { ...defaultTracingSettings, otlpEndpoint: otlpTracesUrl(sink.url, "bench"), ratio: setting === Setting.Ratio1 ? 0.01 : 1 }, implicitContext: false })
          : startTracing({ serviceName: ProcessKind.Bench, instanceId: prefix, settings: defaultTracingSettings });
        let applied = 0;
        let observe: ProcessingObserver | null = null;
        const cpu0 = process.cpuUsage();
        let firstMs = 0;
        let lastMs = 0;
        let done!: () => void;
        const finished = new Promise<void>((r) => (done = r));
        const role = await startIngestRole({
          nc, nodeId: `bench-${prefix}`, log: createLogger({ level: "warn" }), tracer: tracing.tracer,
          control: localProposer(new ControlStateMachine()), admission: admitAllDevices,
          // Lifted rate limit: the bench's publishers never resend.
          config: { history: true, historyLayout: "batch", out: false, batchMax: 256, prefetchMax: 1024, maxAckPending: 8192, deviceRatePerSec: 1_000_000, deviceBurst: 10_000_000 },
          // As a cloud node: the processing histogram is fed once per device batch (metrics setting only).
          onDeviceBatch: (sec, t) => observe?.(sec, t),
          onTelemetryApplied: (id) => {
            if (!id.startsWith(prefix)) return;
            const now = performance.now();
            if (applied++ === 0) firstMs = now;
            lastMs = now;
            if (applied >= total) done();
          },
        });
        let scrape: NodeJS.Timeout | undefined;
        if (setting === Setting.Metrics) {
          // OpenMetrics with exemplars, as a cloud node serves them.
          const m = createProcessMetrics({ process: "bench" }, { processMetrics: true, openMetrics: true });
          observe = registerIngestMetrics(m.registry, () => role.stats());
          scrape = setInterval(() => { void m.registry.metrics(); }, 100);
        }
        const timeout = setTimeout(done, 300_000);
        await finished;
        const cpu = process.cpuUsage(cpu0);
        clearTimeout(timeout);
        clearInterval(scrape);
        await role.stop();
        await tracing.shutdown(); // exports what is queued (not timed)
        const rate = (applied - 1) / ((lastMs - firstMs) / 1000);
        if (round > 0) results.get(setting)!.push(rate);
        if (round > 0) cpuPerMsg.get(setting)!.push((cpu.user + cpu.system) / total);
        process.stderr.write(`  round ${round}${round === 0 ? " (warm-up)" : ""} ${setting}: ${Math.round(rate).toLocaleString("en-US")} msg/s\n`);
      }
    }
    await nc.drain();
  } finally {
    await sink.close();
    await nats.stop();
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(results.get(Setting.Off)!);
  console.log("");
  const cpuBase = median(cpuPerMsg.get(Setting.Off)!);
  console.log("| setting | ingest msg/s (median) | points/s | vs off | rounds (msg/s) | ingest process CPU per message | vs off |");
  console.log("|---|---|---|---|---|---|---|");
  for (const s of settings) {
    const m = median(results.get(s)!);
    const c = median(cpuPerMsg.get(s)!);
    console.log(`| ${s} | ${Math.round(m).toLocaleString("en-US")} | ${Math.round(m * o.points).toLocaleString("en-US")} | ${((m / base - 1) * 100).toFixed(1)} % | ${results.get(s)!.map((x) => Math.round(x).toLocaleString("en-US")).join(", ")} | ${c.toFixed(0)} µs | ${((c / cpuBase - 1) * 100).toFixed(1)} % |`);
  }
  console.log(`\nOTLP export requests received by the sink: ${sink.requests()}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")} (other processes share these cores)`);
}

await main();
