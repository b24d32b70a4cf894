// Consensus benchmark (`npm run bench:consensus`; not part of npm test):
// the leaderless CASPaxos registers beside the Raft control plane and etcd,
// with the load generator of bench:raft (bench/lib/load.ts), all in one run.
//
//   Raft     — cloud/controlplane: 3 replica processes, Raft over NATS, WAL
//              with fsync; write = device.update-metadata (CAS) on the worker's own device,
//              read = device.get (ReadIndex); lock = ControlPlaneLock.
//   CASPaxos — cloud/paxos: 3 acceptor processes, fsync before every reply;
//              one PaxosClient (a proposer) per system; write = change on the
//              worker's own register (256 B value), read = identity change
//              (written back, so linearizable); lock = PaxosLock. Run twice:
//              with the one-round-trip optimization (a proposer that keeps
//              its ballot sends accepts only) and without (prepare + accept).
//   etcd 3.4 — bench/lib/etcd.ts through its gRPC client (etcd3), when installed.
//
// 1. Writes at concurrency 1, 16, 256 and reads at 16: ops/s, p50, p99.
// 2. Lock acquire + release cycles (each worker its own lock) at 1 and 16.
// 3. What leaderless buys: 16 workers write continuously; kill -9 the Raft
//    leader / the etcd leader / one CASPaxos acceptor (there is no leader),
//    and measure the time from the kill to the first successful write that
//    was issued after it, and the longest gap between successful writes.
//    Raft and etcd clients keep writing through surviving nodes and give up
//    on a request after 500 ms (ControlClient attemptTimeoutMs; the etcd
//    request's abort signal), then retry. Median and max of
//    BENCH_FAILOVER_ROUNDS rounds (default 3).
//
// Env: BENCH_SECONDS (per point, default 4), BENCH_FAILOVER_ROUNDS,
// BENCH_SKIP=raft,paxos,paxos-2rtt,etcd,throughput,failover.

import os from "node:os";
import { performance } from "node:perf_hooks";
import { ControlClient } from "../cloud/controlplane/client";
import { CommandKind } from "../cloud/control";
import { ControlPlaneLock, PaxosLock, type DistributedLock } from "../cloud/lock";
import type { PaxosClient } from "../cloud/paxos";
import { ProcessCluster } from "../test/harness/control-plane";
import { startNats, type NatsCluster } from "../test/harness/nats";
import { AcceptorCluster } from "../test/harness/paxos";
import { etcdAvailable, etcdTarget, type EtcdTarget } from "./lib/etcd";
import { drive, fmt, pct, printTable, sleep, type Point, type Target } from "./lib/load";
import { describeMachine } from "./lib/machine";

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 4);
const ROUNDS = Number(process.env["BENCH_FAILOVER_ROUNDS"] ?? 3);
const SKIP = new Set((process.env["BENCH_SKIP"] ?? "").split(",").filter(Boolean));
const CONCURRENCY = [1, 16, 256] as const;
const READ_CONCURRENCY = 16;
const LOCK_CONCURRENCY = [1, 16] as const;
const FAILOVER_WORKERS = 16;
const VALUE = "v".repeat(256);
const VALUE_BYTES = new TextEncoder().encode(VALUE);

interface System extends Target {
  /** One acquire + release of worker w's own lock; undefined when the system has no lock. */
  lockCycle?(w: number): Promise<void>;
  /** Picks the node whose loss hurts most (e.g. finds the leader); kill() kills it, recover() brings it back. */
  victim?(): Promise<{ victim: string; role: string; kill: () => Promise<void>; recover: () => Promise<void> }>;
  /** A write for the failover test (its own client, short per-request timeouts). */
  failoverWrite?(w: number): Promise<void>;
}

// ------------------------------------------------------------ systems

async function raftSystem(nats: NatsCluster): Promise<System> {
  const cluster = await ProcessCluster.start(nats.servers[0]!, [1, 2, 3]);
  await cluster.waitLeader(60_000);
  const client = new ControlClient(cluster.nc, { clientId: "bench", timeoutMs: 30_000, lanesMax: 1024 });
  const failoverClient = new ControlClient(cluster.nc, { clientId: "bench-failover", timeoutMs: 30_000, attemptTimeoutMs: 500 });
  const lock = new ControlPlaneLock({ propose: client.proposer(), ownerId: "bench", inFlightMax: 16 });
  const versions = new Map<number, number>();
  const setOwn = async (c: ControlClient, w: number): Promise<void> => {
    // A compare-and-set of the device record (its revision; 1 after registration).
    const r = await c.command({ kind: CommandKind.DeviceUpdateMetadata, deviceId: `bench-${w}`, metadata: { v: VALUE }, expectedRevision: versions.get(w) ?? 1 });
    if (!r.ok) {
      if (r.code === "conflict" && r.current !== undefined) versions.set(w, r.current);
      throw new Error(r.code);
    }
    versions.set(w, r.value.revision);
  };
  return {
    name: "Raft control plane",
    async prepare(w) {
      if (versions.has(w)) return;
      const r = await client.registerDevice(`bench-${w}`, "sensor");
      if (!r.ok && r.code !== "already-exists") throw new Error(JSON.stringify(r));
      versions.set(w, 1);
    },
    write: (w) => setOwn(client, w),
    async read(w) {
      const r = await client.getDevice(`bench-${w}`);
      if (!r.ok) throw new Error(r.code);
    },
    lockCycle: (w) => lockCycle(lock, w),
    failoverWrite: (w) => setOwn(failoverClient, w),
    async victim() {
      const leader = await cluster.waitLeader(30_000);
      return {
        victim: `leader (replica ${leader})`, role: "leader",
        kill: () => cluster.kill9(leader),
        recover: async () => {
          cluster.restart(leader);
          await cluster.waitConverged(0, 60_000);
        },
      };
    },
    async close() {
      await cluster.stop();
    },
  };
}

async function paxosSystem(nats: NatsCluster, oneRoundTrip: boolean): Promise<System> {
  const cluster = await AcceptorCluster.start(nats.servers[0]!, [1, 2, 3], { group: `bench${oneRoundTrip ? 1 : 2}` });
  const client: PaxosClient = cluster.client({ name: "bench", oneRoundTrip });
  const failoverClient: PaxosClient = cluster.client({ name: "bench-failover", oneRoundTrip });
  const lock = new PaxosLock({ client, ownerId: "bench" });
  const set = async (c: PaxosClient, w: number): Promise<void> => {
    const o = await c.change(`bench-${w}`, () => ({ write: true, data: VALUE_BYTES, result: null }));
    if (!o.ok) throw new Error(o.message);
  };
  let victim = 0;
  return {
    name: oneRoundTrip ? "CASPaxos (1 round trip)" : "CASPaxos (prepare+accept)",
    async prepare(w) {
      await set(client, w);
    },
    write: (w) => set(client, w),
    async read(w) {
      const o = await client.read(`bench-${w}`);
      if (!o.ok) throw new Error(o.message);
    },
    lockCycle: (w) => lockCycle(lock, w),
    failoverWrite: (w) => set(failoverClient, w),
    async victim() {
      // No leader: any acceptor will do; take each in turn.
      const id = cluster.ids[victim++ % cluster.ids.length]!;
      return {
        victim: `acceptor ${id}`, role: "one acceptor (no leader)",
        kill: () => cluster.kill9(id),
        recover: async () => {
          cluster.spawn(id);
          await cluster.waitUp(id);
        },
      };
    },
    async close() {
      await client.close();
      await failoverClient.close();
      await cluster.stop();
    },
  };
}

async function etcdSystem(): Promise<System> {
  const etcd: EtcdTarget = await etcdTarget(VALUE);
  let via = 0;
  return {
    ...etcd,
    name: etcd.name,
    failoverWrite: (w) => etcd.writeVia(via, w),
    async victim() {
      const leader = await etcd.leader();
      via = (leader + 1) % etcd.size; // write through a member that survives
      await sleep(300); // workers move to that member before the kill
      return {
        victim: `leader (member ${leader + 1})`, role: "leader",
        kill: () => etcd.kill9(leader),
        recover: async () => {
          await etcd.restart(leader);
          await etcd.leader();
        },
      };
    },
  };
}

async function lockCycle(lock: DistributedLock, w: number): Promise<void> {
  const r = await lock.acquire(`bench-lock-${w}`, { ttlMs: 10_000, timeoutMs: 5_000 });
  if (!r.ok) throw new Error(`lock not acquired: ${r.error}`);
  const rel = await r.lock.release();
  if (!rel.ok) throw new Error(`release failed: ${rel.message}`);
}

// ------------------------------------------------------------ failover

interface Failover { victim: string; role: string; firstWriteMs: number; longestGapMs: number; failedWrites: number }

/**
 * Workers write continuously; after a steady second the worst node is
 * killed. firstWriteMs: kill → completion of the first successful write
 * issued after the kill. longestGapMs: the longest stretch without any
 * successful write completion, around the kill.
 */
async function failoverRound(s: System): Promise<Failover> {
  const done: number[] = [];
  const issuedAfterKill: number[] = [];
  let failedWrites = 0;
  let killAt = Number.POSITIVE_INFINITY;
  let stop = false;
  const worker = async (w: number): Promise<void> => {
    while (!stop) {
      const t0 = performance.now();
      try {
        await s.failoverWrite!(w);
        const t1 = performance.now();
        done.push(t1);
        if (t0 > killAt) issuedAfterKill.push(t1);
      } catch {
        failedWrites++;
        await sleep(5);
      }
    }
  };
  const running = Array.from({ length: FAILOVER_WORKERS }, (_, w) => worker(w));
  await sleep(1500);
  const { victim, role, kill, recover } = await s.victim!();
  const before = performance.now();
  killAt = performance.now();
  await kill();
  const deadline = performance.now() + 30_000;
  while (issuedAfterKill.length < 20 && performance.now() < deadline) await sleep(50);
  await sleep(1000);
  stop = true;
  await Promise.all(running);
  const firstWriteMs = issuedAfterKill.length > 0 ? Math.min(...issuedAfterKill) - killAt : Number.POSITIVE_INFINITY;
  const window = [before, ...done.filter((t) => t >= before).sort((a, b) => a - b)];
  let longestGapMs = 0;
  for (let i = 1; i < window.length; i++) longestGapMs = Math.max(longestGapMs, window[i]! - window[i - 1]!);
  await recover();
  return { victim, role, firstWriteMs, longestGapMs, failedWrites };
}

// ------------------------------------------------------------ main

interface Row { name: string; writes: Point[]; reads: Point | null; locks: Point[]; failover: Failover[] }

async function main(): Promise<void> {
  console.log(describeMachine());
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; ${SECONDS}s per point; values 256 B; 3 nodes each on loopback`);
  const nats = await startNats();
  const systems: System[] = [];
  try {
    if (!SKIP.has("raft")) systems.push(await raftSystem(nats));
    if (!SKIP.has("paxos")) systems.push(await paxosSystem(nats, true));
    if (!SKIP.has("paxos-2rtt")) systems.push(await paxosSystem(nats, false));
    if (!SKIP.has("etcd")) {
      if (etcdAvailable()) systems.push(await etcdSystem());
      else console.log("etcd not found: install it with `sudo apt-get install -y etcd-server` (Debian ships 3.4)");
    }
    for (const s of systems) for (let w = 0; w < Math.max(...CONCURRENCY); w++) await s.prepare(w);
    const rows: Row[] = systems.map((s) => ({ name: s.name, writes: [], reads: null, locks: [], failover: [] }));
    // Points interleaved across systems, so load drifting on a shared machine hits all of them alike.
    for (const c of SKIP.has("throughput") ? [] : CONCURRENCY) {
      for (const [i, s] of systems.entries()) {
        const p = await drive(c, SECONDS, (w) => s.write(w));
        console.log(`  ${s.name}: writes c=${c}: ${fmt(p.opsPerSec)}/s p50 ${fmt(p.p50Ms, 2)} ms p99 ${fmt(p.p99Ms, 2)} ms errors ${p.errors}`);
        rows[i]!.writes.push(p);
      }
    }
    for (const [i, s] of SKIP.has("throughput") ? [] : systems.entries()) {
      const p = await drive(READ_CONCURRENCY, SECONDS, (w) => s.read(w));
      console.log(`  ${s.name}: reads c=${READ_CONCURRENCY}: ${fmt(p.opsPerSec)}/s p50 ${fmt(p.p50Ms, 2)} ms p99 ${fmt(p.p99Ms, 2)} ms errors ${p.errors}`);
      rows[i]!.reads = p;
    }
    for (const c of SKIP.has("throughput") ? [] : LOCK_CONCURRENCY) {
      for (const [i, s] of systems.entries()) {
        if (!s.lockCycle) continue;
        const p = await drive(c, SECONDS, (w) => s.lockCycle!(w));
        console.log(`  ${s.name}: lock acquire+release c=${c}: ${fmt(p.opsPerSec)}/s p50 ${fmt(p.p50Ms, 2)} ms p99 ${fmt(p.p99Ms, 2)} ms errors ${p.errors}`);
        rows[i]!.locks.push(p);
      }
    }
    if (!SKIP.has("failover")) {
      for (let r = 0; r < ROUNDS; r++) {
        for (const [i, s] of systems.entries()) {
          if (!s.victim || !s.failoverWrite) continue;
          const f = await failoverRound(s);
          console.log(`  ${s.name}: kill -9 ${f.victim}: first write issued after the kill done in ${fmt(f.firstWriteMs)} ms, longest gap ${fmt(f.longestGapMs)} ms, ${f.failedWrites} failed writes`);
          rows[i]!.failover.push(f);
        }
      }
    }
    report(rows);
  } finally {
    for (const s of systems) await s.close().catch((e: unknown) => console.error(`closing ${s.name}: ${(e as Error).message}`));
    await nats.stop();
  }
}

function report(rows: Row[]): void {
  console.log(`\n${describeMachine()}\nload average at end: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}\n`);
  const w = [["register writes (256 B)", ...CONCURRENCY.flatMap((c) => [`w/s c=${c}`, "p50 ms", "p99 ms"]), `reads/s c=${READ_CONCURRENCY}`, "read p99 ms"]];
  for (const r of rows) {
    w.push([r.name, ...r.writes.flatMap((p) => [fmt(p.opsPerSec), fmt(p.p50Ms, 1), fmt(p.p99Ms, 1)]), fmt(r.reads?.opsPerSec ?? NaN), fmt(r.reads?.p99Ms ?? NaN, 1)]);
  }
  const raft = rows.find((r) => r.name.startsWith("Raft"));
  if (raft) {
    for (const r of rows.filter((x) => x !== raft && x.name.startsWith("CASPaxos"))) {
      w.push([`${r.name} / Raft`, ...r.writes.flatMap((p, i) => [`${fmt(p.opsPerSec / raft.writes[i]!.opsPerSec, 2)}x`, `${fmt(p.p50Ms / raft.writes[i]!.p50Ms, 2)}x`, `${fmt(p.p99Ms / raft.writes[i]!.p99Ms, 2)}x`]),
        `${fmt((r.reads?.opsPerSec ?? NaN) / (raft.reads?.opsPerSec ?? NaN), 2)}x`, `${fmt((r.reads?.p99Ms ?? NaN) / (raft.reads?.p99Ms ?? NaN), 2)}x`]);
    }
  }
  if (rows.some((r) => r.writes.length > 0)) {
    printTable(w);
    console.log("");
  }
  const l = [["lock acquire+release", ...LOCK_CONCURRENCY.flatMap((c) => [`cycles/s c=${c}`, "p50 ms", "p99 ms"])]];
  for (const r of rows.filter((x) => x.locks.length > 0)) l.push([r.name, ...r.locks.flatMap((p) => [fmt(p.opsPerSec), fmt(p.p50Ms, 1), fmt(p.p99Ms, 1)])]);
  if (l.length > 1) {
    printTable(l);
    console.log("");
  }
  const f = [["kill -9 while 16 clients write", "node killed", "first write after kill ms (median / max)", "longest gap ms (median / max)", "failed writes"]];
  for (const r of rows.filter((x) => x.failover.length > 0)) {
    const first = r.failover.map((x) => x.firstWriteMs).sort((a, b) => a - b);
    const gap = r.failover.map((x) => x.longestGapMs).sort((a, b) => a - b);
    f.push([r.name, r.failover[0]!.role, `${fmt(pct(first, 0.5))} / ${fmt(first[first.length - 1]!)}`,
      `${fmt(pct(gap, 0.5))} / ${fmt(gap[gap.length - 1]!)}`, String(r.failover.reduce((n, x) => n + x.failedWrites, 0))]);
  }
  if (f.length > 1) printTable(f);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
