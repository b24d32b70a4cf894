// Analytics benchmark on one nats-server: a backlog of device telemetry in
// XSF_UP, read once by a bare JetStream consumer (the raw rate of the same
// stream, the baseline) and once by one analytics node (decode + dedup +
// windows + rules + results + checkpoints), both in the same run; then the
// end-to-end alert latency, from a device sample published to its alert
// event received, over repeated episodes.
//
//   npm run bench:analytics [-- --devices 200 --batches 50 --points 20 --trials 60]
import os from "node:os";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { silentLogger } from "../cloud/base";
import { ControlStateMachine } from "../cloud/control";
import { ensureUplinkStream } from "../cloud/ingest";
import { checkpointBucket, checkpointKey, startAnalyticsRole, type PartitionCheckpoint } from "../cloud/analytics";
import { allAlertsSubject, partitionedUplinkSubject } from "../cloud/subjects";
import { encodeEnvelope } from "../shared/proto/xsfleet.gen";
import type { RuleDef } from "../shared/stream";
import { devicePartition, Uplink } from "../shared/topics";
import { telemetryEnvelope } from "../test/harness/envelopes";
import { localProposer } from "../test/harness/local-proposer";
import { startNats } from "../test/harness/nats";
import { describeMachine } from "./lib/machine";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const devices = arg("devices", 200);
const batches = arg("batches", 50);
const points = arg("points", 20);
const trials = arg("trials", 60);
const partitions = 4;
const channels = 2;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

const rules: RuleDef[] = [
  { id: "humid", match: { channel: "humidity" }, when: { kind: "threshold", above: 45, clearBelow: 42 } },
  { id: "hot-window", match: { channel: "temperature" }, when: { kind: "window", window: { kind: "tumbling", sizeMs: 60_000 }, aggregate: "mean", above: 24 } },
];

const nats = await startNats();
const url = nats.nodes[0]!.natsUrl;
const nc = await connect({ servers: url });
const js = jetstream(nc);
const jsm = await jetstreamManager(nc);
try {
  await ensureUplinkStream(jsm, { replicas: 1, messageBytesMax: 64 * 1024 });
  const base = Date.now() - batches * 10_000;
  const last = new Map<number, number>();
  process.stdout.write(`publishing ${devices * batches} messages (${devices} devices × ${batches} batches × ${points} points × ${channels} channels) …\n`);
  for (let b = 1; b <= batches; b++) {
    await Promise.all(Array.from({ length: devices }, async (_, d) => {
      const id = `bench-${d}`;
      const ack = await js.publish(partitionedUplinkSubject(id, Uplink.Telemetry, partitions), encodeEnvelope(telemetryEnvelope(id, b, points, base)));
      const p = devicePartition(id, partitions);
      last.set(p, Math.max(last.get(p) ?? 0, ack.seq));
    }));
  }
  const total = devices * batches;
  const totalPoints = total * points * channels;

  // Baseline: a bare pull consumer over the same stream, no decoding.
  const ci = await jsm.consumers.add("XSF_UP", { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 60_000_000_000 });
  const raw = await js.consumers.get("XSF_UP", ci.name);
  let got = 0;
  const r0 = performance.now();
  while (got < total) {
    const it = await raw.fetch({ max_messages: Math.min(1000, total - got), expires: 5_000 });
    for await (const _m of it) got++;
  }
  const rawS = (performance.now() - r0) / 1000;
  process.stdout.write(`raw consumer read ${got} messages\n`);

  // One analytics node over every partition.
  const propose = localProposer(new ControlStateMachine());
  const anNc = await connect({ servers: url });
  const a0 = performance.now();
  const role = await startAnalyticsRole({
    nc: anNc, nodeId: "bench-analytics", ingest: { partitions, replicas: 1, ensureStreams: false }, rules, control: propose, commands: null, log: silentLogger,
    operators: [{ id: "1m", spec: { kind: "tumbling", sizeMs: 60_000 }, allowedLatenessMs: 120_000, aggregates: ["p50", "p90", "p99"] }],
    settings: { ownershipTtlMs: 3_000, idleTickMs: 600_000 },
  });
  const kv = await new Kvm(nc).open(checkpointBucket);
  for (;;) {
    let done = true;
    for (const [p, seq] of last) {
      const e = await kv.get(checkpointKey(p));
      if (!e || e.operation !== "PUT" || e.json<{ value: PartitionCheckpoint }>().value.seq < seq) { done = false; break; }
    }
    if (done) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const anS = (performance.now() - a0) / 1000;
  process.stdout.write(`analytics node caught up\n`);
  const st = role.stats();

  // Alert latency: a sample above the threshold published → its "raised" event received; then cleared.
  const lat: number[] = [];
  const sub = nc.subscribe(allAlertsSubject);
  const waiting = new Map<string, (t: number) => void>();
  void (async () => {
    for await (const m of sub) {
      const ev = m.json<{ id: string }>();
      waiting.get(ev.id)?.(performance.now());
    }
  })();
  for (let i = 0; i < trials; i++) {
    const id = `lat-${i % 8}`;
    const episode = Math.floor(i / 8) + 1;
    const t0Dev = Date.now();
    const high = telemetryEnvelope(id, 2 * episode - 1 + 16, 1, t0Dev - (2 * episode - 1 + 16) * 10_000);
    // seq 17..65: humidity 40 + (3 seq) / 10 > 45 → raise.
    const raised = new Promise<number>((res) => waiting.set(`humid:${id}:${episode}:raised`, res));
    const s0 = performance.now();
    await js.publish(partitionedUplinkSubject(id, Uplink.Telemetry, partitions), encodeEnvelope(high));
    lat.push((await raised) - s0);
    const cleared = new Promise<number>((res) => waiting.set(`humid:${id}:${episode}:cleared`, res));
    // Humidity 40 + ((3 seq) mod 200) / 10 = 40 for seq a multiple of 200: below clearBelow.
    const lowSeq = 10_000 + 200 * episode;
    await js.publish(partitionedUplinkSubject(id, Uplink.Telemetry, partitions), encodeEnvelope(telemetryEnvelope(id, lowSeq, 1, Date.now() + 1 - lowSeq * 10_000)));
    await cleared;
  }
  sub.unsubscribe();
  await role.stop();
  await anNc.close();

  const rawRate = total / rawS;
  const anRate = totalPoints / anS;
  process.stdout.write([
    describeMachine(), `load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
    `raw consumer (same stream, no decoding): ${total} messages in ${rawS.toFixed(2)} s = ${rawRate.toFixed(0)} msgs/s = ${(rawRate * points * channels).toFixed(0)} points/s`,
    `analytics node (decode, dedup, 1 windowed operator with percentiles, ${rules.length} rules, results, checkpoints): ${st.points} points in ${anS.toFixed(2)} s = ${anRate.toFixed(0)} points/s ` +
      `(${(anRate / (rawRate * points * channels) * 100).toFixed(1)} % of the raw rate), ${st.resultsPublished} results, ${st.checkpoints} checkpoints`,
    `alert latency (sample published → alert event), ${lat.length} episodes: p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms`,
  ].join("\n") + "\n");
} finally {
  await nc.close();
  await nats.stop();
}
