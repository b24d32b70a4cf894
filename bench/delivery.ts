// Delivery benchmark: the cost of end-to-end confirmation (issue 16,
// docs/delivery.md). Simulated devices (MQTT 3.1.1 clients in this
// process, realistic telemetry batches) publish through nats-server's MQTT
// listener to an ingest node (child process) and its device state, in
// alternating phases of the same run on the same server:
//   - without confirmation: a device forgets a message at its PUBACK (the
//     rule before issue 16) and does not listen for receipts;
//   - with confirmation: a device also subscribes to its receipt downlink
//     (`xsfleet/v1/dev/<id>/rcpt`, QoS 0) and holds each message until a
//     receipt confirms it, at most `held` messages (the firmware outbox's
//     messagesMax); the PUBACK only frees an in-flight slot.
// Both phases keep `inflight` publishes in flight per device. Reported per
// phase: messages applied per second end to end (ingest's counters) and the
// device's "done" latency (publish → PUBACK, or publish → receipt), then
// the ratio with/without. Ingest sends receipts in both phases (it has no
// switch); without listeners nats-server drops them at once.
//
//   npm run bench:delivery [-- --devices 40 --messages 200 --points 50 --inflight 8 --held 256 --rounds 2]
import os from "node:os";
import type { MqttClient } from "mqtt";
import { connect } from "@nats-io/transport-node";
import { defaultIngestConfig, type IngestConfig } from "../cloud/ingest";
import { KvDeviceRegistry } from "../cloud/registry";
import { decodeEnvelope, encodeEnvelope } from "../shared/proto/xsfleet.gen";
import { deviceTopic, Downlink, Uplink } from "../shared/topics";
import { startIngestProcess, type IngestProcess } from "../test/harness/ingest-process";
import { startControlPlaneInProcess } from "../test/harness/control-plane";
import { startNats } from "../test/harness/nats";
import { publishUplink, rawMqttClient, telemetryUplink } from "../test/harness/uplinks";

interface Options { devices: number; messages: number; points: number; inflight: number; held: number; rounds: number }

function parseArgs(argv: string[]): Options {
  const o: Options = { devices: 40, messages: 200, points: 50, inflight: 8, held: 256, rounds: 2 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const k = a.slice(2) as keyof Options;
    if (!a.startsWith("--") || !(k in o)) throw new Error(`unknown argument ${a} (--devices --messages --points --inflight --held --rounds)`);
    const v = Number(argv[++i]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
    o[k] = v;
  }
  return o;
}

/** Wait for receipts after the last publish before calling a phase unconfirmed. */
const receiptDeadlineMs = 30_000;
/** Messages per device in the warm-up round. */
const warmupMessages = 10;
/** Wait for ingest to apply a phase's messages. */
const applyDeadlineMs = 300_000;

interface PhaseResult {
  confirm: boolean;
  messages: number;
  elapsedS: number;
  /** Messages applied per second, end to end. */
  rate: number;
  doneLatenciesMs: number[];
  /** Messages a receipt confirmed (confirm phases). */
  confirmed: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One device: `messages` telemetry batches, `inflight` publishes in flight, at most `held` unconfirmed (confirm). */
async function runDevice(c: MqttClient, id: string, o: Options, confirm: boolean, epoch: number, out: { latencies: number[]; confirmed: number }): Promise<void> {
  const sentAt = new Map<number, number>();
  const unconfirmed = new Set<number>();
  let wake: (() => void) | null = null;
  const poke = (): void => { const w = wake; wake = null; w?.(); };
  if (confirm) {
    c.on("message", (_topic, payload) => {
      const r = decodeEnvelope(payload).receipt;
      if (!r || r.epoch !== epoch) return;
      for (const range of r.confirmed) {
        for (let q = range.first; q <= range.last; q++) {
          if (!unconfirmed.delete(q)) continue;
          out.confirmed++;
          out.latencies.push(performance.now() - sentAt.get(q)!);
        }
      }
      poke();
    });
    await c.subscribeAsync(deviceTopic(id, Downlink.Receipt), { qos: 0 });
  }
  let next = 1;
  const lowest = (): number => (unconfirmed.size === 0 ? next : Math.min(...unconfirmed));
  const worker = async (): Promise<void> => {
    while (next <= o.messages) {
      while (confirm && unconfirmed.size >= o.held) await new Promise<void>((r) => { wake = r; });
      const seq = next++;
      sentAt.set(seq, performance.now());
      if (confirm) unconfirmed.add(seq);
      const bytes = encodeEnvelope(telemetryUplink({ deviceId: id, seq, epoch, settledBelow: Math.min(seq, lowest()) }, o.points));
      await publishUplink(c, id, Uplink.Telemetry, bytes, 1);
      if (!confirm) out.latencies.push(performance.now() - sentAt.get(seq)!);
    }
  };
  await Promise.all(Array.from({ length: o.inflight }, worker));
  if (confirm) {
    const deadline = Date.now() + receiptDeadlineMs;
    while (unconfirmed.size > 0 && Date.now() < deadline) await new Promise<void>((r) => { wake = r; setTimeout(r, 250); });
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const cpus = os.cpus();
  console.log(`machine: ${cpus[0]?.model ?? "?"}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, ${os.platform()} ${os.release()}`);
  console.log(`workload: ${o.devices} devices × ${o.messages} telemetry batches × ${o.points} points × 2 channels per phase, ${o.inflight} publishes in flight per device, ` +
    `with confirmation at most ${o.held} unconfirmed per device; ${o.rounds} rounds of (without, with); one nats-server (file store), one ingest node (child process)`);
  const partitions = defaultIngestConfig.partitions;
  const nats = await startNats({ size: 1, partitions });
  // The Raft control plane (one replica, in this process): ingest's partition leases.
  const cp = await startControlPlaneInProcess(nats.servers);
  let ingest: IngestProcess | null = null;
  const nc = await connect({ servers: nats.servers, name: "bench-delivery" });
  try {
    const known = (cfg: Record<string, unknown>): Partial<IngestConfig> => Object.fromEntries(Object.entries(cfg).filter(([k]) => k in defaultIngestConfig)) as Partial<IngestConfig>;
    // Per-device rate limits opened wide: this measures confirmation, not the limiter.
    const registry = await KvDeviceRegistry.open(nc, { replicas: 1 });
    ingest = await startIngestProcess({ servers: nats.servers, nodeId: "bench-delivery", config: known({ batchMax: 256, prefetchMax: 1024, maxAckPending: 8192, deviceRatePerSec: 1_000_000, deviceBurst: 1_000_000 }) });
    const results: PhaseResult[] = [];
    // Round 0 warms up (connections, partition ownership, JIT) and is not reported.
    for (let round = 0; round <= o.rounds; round++) {
      for (const confirm of [false, true]) {
        const warmup = round === 0;
        const prefix = `${confirm ? "rc" : "pa"}${round}-`;
        const ids = Array.from({ length: o.devices }, (_, d) => `${prefix}${d}`);
        for (const id of ids) await registry.register(id);
        const clients = await Promise.all(ids.map((id) => rawMqttClient(nats.nodes[0]!.mqttUrl, id)));
        const before = (await ingest.nextStats()).applied;
        const out = { latencies: [] as number[], confirmed: 0 };
        const t0 = performance.now();
        const messages = warmup ? Math.min(o.messages, warmupMessages) : o.messages;
        const total = o.devices * messages;
        const devicesDone = Promise.all(clients.map((c, d) => runDevice(c, ids[d]!, { ...o, messages }, confirm, 1 + round * 2 + (confirm ? 1 : 0), out)));
        let appliedAt = 0;
        for (const deadline = Date.now() + applyDeadlineMs; Date.now() < deadline;) {
          const st = await ingest.nextStats(30_000);
          if (st.applied - before >= total) { appliedAt = performance.now(); break; }
        }
        await devicesDone;
        await Promise.all(clients.map((c) => c.endAsync()));
        if (appliedAt === 0) throw new Error(`ingest applied fewer than ${total} messages of the phase within ${applyDeadlineMs} ms`);
        const elapsedS = (appliedAt - t0) / 1000;
        out.latencies.sort((a, b) => a - b);
        if (warmup) continue;
        const r: PhaseResult = { confirm, messages: total, elapsedS, rate: total / elapsedS, doneLatenciesMs: out.latencies, confirmed: out.confirmed };
        results.push(r);
        const lat = r.doneLatenciesMs;
        console.log(`round ${round} ${confirm ? "with confirmation   " : "without confirmation"}: ${Math.round(r.rate).toLocaleString("en-US")} msg/s ` +
          `(${(r.rate * o.points).toLocaleString("en-US", { maximumFractionDigits: 0 })} points/s) applied end to end in ${elapsedS.toFixed(2)} s; ` +
          `done at ${confirm ? "receipt" : "PUBACK"}: ${lat.length === 0 ? "none" : `p50 ${percentile(lat, 50).toFixed(0)} ms, p99 ${percentile(lat, 99).toFixed(0)} ms`}` +
          (confirm ? `; ${r.confirmed} of ${total} confirmed` : ""));
      }
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const without = results.filter((r) => !r.confirm);
    const withC = results.filter((r) => r.confirm);
    const ratio = mean(withC.map((r) => r.rate)) / mean(without.map((r) => r.rate));
    const allConfirmed = withC.every((r) => r.confirmed === r.messages);
    console.log(`ratio with / without confirmation, end-to-end message rate: ${(ratio * 100).toFixed(1)} %` +
      (allConfirmed ? "" : `   (NOT every message was confirmed: ${withC.map((r) => r.confirmed).join("/")} of ${withC[0]?.messages ?? 0} — this ingest sends no or too few receipts)`));
    const lw = without.flatMap((r) => r.doneLatenciesMs).sort((a, b) => a - b);
    const lc = withC.flatMap((r) => r.doneLatenciesMs).sort((a, b) => a - b);
    if (lc.length > 0) {
      console.log(`device-visible: a message is done after p50 ${percentile(lc, 50).toFixed(0)} ms / p99 ${percentile(lc, 99).toFixed(0)} ms with confirmation ` +
        `vs p50 ${percentile(lw, 50).toFixed(0)} ms / p99 ${percentile(lw, 99).toFixed(0)} ms at the PUBACK`);
    }
    const st = await ingest.nextStats();
    console.log(`ingest: applied ${st.applied}, duplicates ${st.duplicates}, dead letters ${st.deadLetters}, redeliveries ${st.redeliveries}`);
    console.log(`load average during the run: ${os.loadavg().map((x) => x.toFixed(1)).join(" ")} (other processes share these ${os.cpus().length} cores)`);
  } finally {
    await ingest?.stop();
    await nc.close();
    await cp.stop();
    await nats.stop();
  }
}

await main();
