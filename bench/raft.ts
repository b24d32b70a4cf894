// Raft control-plane benchmark (`npm run bench:raft`; not part of npm test).
//
// One load generator, three 3-node systems on this machine, run one after
// the other in the same process:
//   xsfleet  — cloud/controlplane (3 OS processes, Raft over NATS, disk WAL
//              with fsync), writes = device.update-metadata (CAS on the worker's own
//              device, always succeeds), reads = device.get via ReadIndex
//   etcd 3.4 — Debian etcd-server, 3 members on loopback, fsync on (default);
//              client = its native gRPC client (`etcd3` package, the fair
//              baseline: ratios are against this row), and as a second row
//              its v3 HTTP/JSON gateway via fetch (POST /v3/kv/put,
//              POST /v3/kv/range, linearizable by default), to the leader
//   JetStream R3 — nats-server 2.9 cluster of 3 (NATS's own Raft), file
//              storage, js.publish awaiting the PubAck; reads = stream msg
//              get of the last message (answered by the stream leader).
//              nats-server 2.9 does not fsync each write (no sync_interval
//              option before 2.10): it is not durable in the same sense.
// Values are 256 bytes. Writes at client concurrency 1, 16 and 256; reads at
// 16. Each point runs for BENCH_SECONDS (default 4) after a short warm-up;
// all systems run at once and points are interleaved (see measureAll).
//
// xsfleet runs twice: as deployed (the leader replicates while its own fsync
// runs, as etcd does) and with --strict-leader-append (every message waits
// for its Ready's fsync).
//
// The load generator (bench/lib/load.ts) and the etcd baseline
// (bench/lib/etcd.ts) are shared with bench:consensus.
//
// After xsfleet's single-client write point, the replicas' stage timings
// (raft.status, cloud/controlplane/stage-timings.ts) read before and after
// it give where that write's round trip goes: each stage on the leader, the
// followers' MsgApp→ack, and the remainder on the NATS legs
// (bench/lib/raft-stages.ts).
//
// Env: BENCH_SECONDS, BENCH_SKIP=etcd,etcd-http,jetstream,xsfleet,xsfleet-strict,
// BENCH_BREAKDOWN=1,16,256 (the write points to break down; default 1).
// `npm run bench:raft -- --busy N`: N busy-loop processes run for the whole
// measurement (bench/lib/busy.ts), the repeatable "machine is busy" setting:
// every system meets the same CPU contention.

import os from "node:os";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { describeMachine } from "./lib/machine";
import { drive, fmt, printTable, type Point } from "./lib/load";
import { etcdAvailable, etcdTarget } from "./lib/etcd";
import { startNats, type NatsCluster } from "../test/harness/nats";
import { ProcessCluster } from "../test/harness/control-plane";
import { ControlClient } from "../cloud/controlplane/client";
import { connectNats } from "../cloud/nats";
import { CommandKind } from "../cloud/control";
import { busyFromArgv, startBusyLoad } from "./lib/busy";
import { pingNode, printStageBreakdown, readStages, type StageReading } from "./lib/raft-stages";

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 4);
const SKIP = new Set((process.env["BENCH_SKIP"] ?? "").split(",").filter(Boolean));
const CONCURRENCY = [1, 16, 256] as const;
const READ_CONCURRENCY = 16;
const BREAKDOWN = new Set((process.env["BENCH_BREAKDOWN"] ?? "1").split(",").map(Number));
const VALUE = "v".repeat(256);

import type { Target } from "./lib/load";

/** A target that can explain a write point (xsfleet: its replicas' stage timings). */
interface Explained {
  /** Called right before and right after each write point in BENCH_BREAKDOWN. */
  explainBegin?(): Promise<void>;
  explainEnd?(concurrency: number, p: Point): Promise<void>;
}
type BenchTarget = Target & Explained & { extra?: () => string };

// ------------------------------------------------------------ xsfleet

async function xsfleetTarget(strict: boolean): Promise<BenchTarget> {
  const nats = await startNats();
  const cluster = await ProcessCluster.start(nats.servers[0]!, [1, 2, 3], strict ? ["--strict-leader-append"] : []);
  await cluster.waitLeader(60_000);
  // The client connects as the product's services do (cloud/nats connectNats: no async stack traces per request).
  const clientNc = await connectNats({ servers: nats.servers, name: "bench-raft-client" });
  const client = new ControlClient(clientNc, { clientId: "bench", timeoutMs: 30_000, lanesMax: 1024 });
  const versions = new Map<number, number>();
  const name = strict ? "xsfleet strict-append" : "xsfleet (Raft/NATS)";
  const reading = async (): Promise<StageReading> => readStages(await cluster.waitLeader(), cluster.ids(), (id) => cluster.statusOf(id));
  let before: StageReading | undefined;
  return {
    name,
    async explainBegin() { before = await reading(); },
    async explainEnd(c, p) {
      if (!before) return;
      const after = await reading();
      printStageBreakdown(`${name} writes c=${c}`, c, p, before, after, c === 1 ? await pingNode(clientNc, after.leader) : undefined);
    },
    async prepare(w) {
      if (versions.has(w)) return;
      const r = await client.registerDevice(`bench-${w}`, "sensor");
      if (!r.ok && r.code !== "already-exists") throw new Error(JSON.stringify(r));
      versions.set(w, 1); // the record's revision after registration
    },
    async write(w) {
      // A compare-and-set of the device record (its revision), as etcd's is of a key's.
      const r = await client.command({ kind: CommandKind.DeviceUpdateMetadata, deviceId: `bench-${w}`, metadata: { v: VALUE }, expectedRevision: versions.get(w)! });
      if (!r.ok) {
        if (r.code === "conflict" && r.current !== undefined) versions.set(w, r.current);
        throw new Error(r.code);
      }
      versions.set(w, r.value.revision);
    },
    async read(w) {
      const r = await client.getDevice(`bench-${w}`);
      if (!r.ok) throw new Error(r.code);
    },
    extra: () => `retries ${client.retries}`,
    async close() {
      const leader = await cluster.waitLeader();
      const s = await cluster.statusOf(leader);
      if (s) console.log(`  xsfleet leader ${leader}: ${s.commit} entries committed, ${s.fsyncs} fsyncs, snapshot at ${s.snapshotIndex}`);
      await clientNc.close().catch(() => undefined);
      await cluster.stop();
      await nats.stop();
    },
  };
}

// ------------------------------------------------------------ JetStream R3

async function jetstreamTarget(): Promise<Target> {
  const nats: NatsCluster = await startNats({ size: 3, replicas: 3 });
  const nc: NatsConnection = await connect({ servers: nats.servers, maxReconnectAttempts: -1 });
  const jsm: JetStreamManager = await jetstreamManager(nc);
  await jsm.streams.add({ name: "BENCH", subjects: ["bench.>"], num_replicas: 3, storage: "file" as never, max_msgs_per_subject: 1 });
  const js: JetStreamClient = jetstream(nc);
  const payload = new TextEncoder().encode(VALUE);
  return {
    name: "JetStream R3 (nats 2.9)",
    async prepare(w) { await js.publish(`bench.${w}`, payload); },
    async write(w) { await js.publish(`bench.${w}`, payload); },
    async read(w) { await jsm.streams.getMessage("BENCH", { last_by_subj: `bench.${w}` }); },
    async close() {
      await nc.close();
      await nats.stop();
    },
  };
}

// ------------------------------------------------------------ main

interface Row { target: string; writes: Point[]; reads: Point }

/**
 * All systems are started first and every point is measured for each system
 * back to back (interleaved), so load that drifts on a shared machine hits
 * every system about equally. Idle clusters only exchange heartbeats.
 */
async function measureAll(makers: (() => Promise<BenchTarget>)[]): Promise<Row[]> {
  const targets: BenchTarget[] = [];
  try {
    for (const make of makers) {
      const t = await make();
      targets.push(t);
      for (let w = 0; w < Math.max(...CONCURRENCY); w++) await t.prepare(w);
    }
    const rows: Row[] = targets.map((t) => ({ target: t.name, writes: [], reads: { opsPerSec: NaN, p50Ms: NaN, p99Ms: NaN, errors: 0 } }));
    for (const c of CONCURRENCY) {
      for (const [i, t] of targets.entries()) {
        if (BREAKDOWN.has(c)) await t.explainBegin?.();
        const p = await drive(c, SECONDS, (w) => t.write(w));
        console.log(`  ${t.name}: writes c=${c}: ${p.opsPerSec.toFixed(0)}/s p50 ${p.p50Ms.toFixed(2)} ms p99 ${p.p99Ms.toFixed(2)} ms errors ${p.errors}`);
        if (BREAKDOWN.has(c)) await t.explainEnd?.(c, p);
        rows[i]!.writes.push(p);
      }
    }
    for (const [i, t] of targets.entries()) {
      const reads = await drive(READ_CONCURRENCY, SECONDS, (w) => t.read(w));
      console.log(`  ${t.name}: reads c=${READ_CONCURRENCY}: ${reads.opsPerSec.toFixed(0)}/s p50 ${reads.p50Ms.toFixed(2)} ms p99 ${reads.p99Ms.toFixed(2)} ms errors ${reads.errors}${t.extra ? `; ${t.extra()}` : ""}`);
      rows[i]!.reads = reads;
    }
    return rows;
  } finally {
    for (const t of targets) await t.close();
  }
}


async function main(): Promise<void> {
  console.log(describeMachine());
  const busy = startBusyLoad(busyFromArgv(process.argv.slice(2)));
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; ${SECONDS}s per point; values 256 B; 3 nodes each on loopback; ` +
    `background load: ${busy.processes} busy-loop process(es) (--busy)`);
  const makers: (() => Promise<BenchTarget>)[] = [];
  if (!SKIP.has("xsfleet")) makers.push(() => xsfleetTarget(false));
  if (!SKIP.has("xsfleet-strict")) makers.push(() => xsfleetTarget(true));
  if (!SKIP.has("etcd")) {
    if (etcdAvailable()) {
      makers.push(() => etcdTarget(VALUE, "grpc"));
      if (!SKIP.has("etcd-http")) makers.push(() => etcdTarget(VALUE, "http"));
    }
    else console.log("etcd not found: install it with `sudo apt-get install -y etcd-server` (Debian ships 3.4)");
  }
  if (!SKIP.has("jetstream")) makers.push(jetstreamTarget);
  let rows: Row[];
  try {
    rows = await measureAll(makers);
  } finally {
    busy.stop();
  }
  // The fair baseline: etcd through the gRPC client its users run.
  const etcd = rows.find((r) => r.target.startsWith("etcd") && r.target.includes("gRPC"));
  console.log(`\nload average at end: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  const header = ["system", ...CONCURRENCY.flatMap((c) => [`w/s c=${c}`, `p50 ms`, `p99 ms`]), `reads/s c=${READ_CONCURRENCY}`, "read p99 ms"];
  const lines = [header];
  for (const r of rows) {
    lines.push([r.target, ...r.writes.flatMap((p) => [fmt(p.opsPerSec), fmt(p.p50Ms, 1), fmt(p.p99Ms, 1)]), fmt(r.reads.opsPerSec), fmt(r.reads.p99Ms, 1)]);
  }
  if (etcd) {
    for (const r of rows) {
      if (r === etcd) continue;
      lines.push([`${r.target.startsWith("etcd") ? "etcd HTTP gateway" : r.target.replace(/ \(.*\)$/, "")} / etcd gRPC`,
        ...r.writes.flatMap((p, i) => [`${fmt(p.opsPerSec / etcd.writes[i]!.opsPerSec, 2)}x`, `${fmt(p.p50Ms / etcd.writes[i]!.p50Ms, 2)}x`, `${fmt(p.p99Ms / etcd.writes[i]!.p99Ms, 2)}x`]),
        `${fmt(r.reads.opsPerSec / etcd.reads.opsPerSec, 2)}x`, `${fmt(r.reads.p99Ms / etcd.reads.p99Ms, 2)}x`]);
    }
  }
  console.log("");
  printTable(lines);
  if (etcd) {
    for (const xs of rows.filter((r) => r.target.startsWith("xsfleet"))) {
      const misses = xs.writes.flatMap((p, i) => [
        ...(p.opsPerSec < etcd.writes[i]!.opsPerSec ? [`writes/s at c=${CONCURRENCY[i]}`] : []),
        ...(p.p99Ms > etcd.writes[i]!.p99Ms ? [`p99 at c=${CONCURRENCY[i]}`] : []),
      ]);
      console.log(`target for ${xs.target} (writes/s >= etcd, p99 <= etcd at every concurrency): ${misses.length === 0 ? "met" : `NOT met (${misses.join(", ")})`}`);
    }
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
