// Replication modes under the loss of the primary (`npm run bench:replication`;
// not part of npm test). For each mode — sync (R3), semi-sync (R1 + mirror,
// the writer waits for the mirror up to a timeout), async (R1 + mirror) —
// a fresh 3-server nats-server 2.9 cluster on this machine, one data set in
// that mode (cloud/replication, as ingest sets up its streams), and
// BENCH_CONCURRENCY closed-loop writers for BENCH_SECONDS; then the server
// leading the primary is SIGKILLed under load, and:
//   RPO   messages acknowledged before the kill that the survivor lacks (sync:
//         the stream after a new leader was elected; semi-sync and async: the
//         mirror, read while the primary is down — the primary's disk counts
//         as lost);
//   RTO   kill → first write acknowledged again. Sync: a survivor becomes
//         leader. Semi-sync and async: nats-server 2.9 cannot promote a mirror,
//         so writes wait for the primary's server, restarted at once after the
//         survivor was read (as a supervisor would); reads of the mirror stay
//         available throughout.
// Latency and throughput are of the steady phase before the kill; ratios
// are against sync, measured in the same run. "max mirror lag" is the largest
// lag sampled (every 100 ms) in the steady phase: the async loss had the
// primary died at that moment.
//
// Env: BENCH_SECONDS (default 4), BENCH_CONCURRENCY (default 32), BENCH_SEMI_TIMEOUT_MS (default 500).
import os from "node:os";
import { performance } from "node:perf_hooks";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { ReplicationMode } from "../cloud/replication";
import { startNats } from "../test/harness/nats";
import { leaderIndex, modeDataSet, storedIds } from "../test/harness/replication";
import { describeMachine } from "./lib/machine";
import { fmt, pct, printTable, sleep } from "./lib/load";

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const semiTimeoutMs = Number(process.env.BENCH_SEMI_TIMEOUT_MS ?? 500);
/** Give up on recovery after this long. */
const rtoMaxMs = 60_000;

interface Row {
  mode: ReplicationMode;
  p50: number;
  p99: number;
  perSec: number;
  ackedBeforeKill: number;
  lost: number;
  lostReplicated: number;
  rtoMs: number;
  /** Largest mirror lag sampled during the steady phase (messages): what async could lose at a worse moment. */
  maxLag: number | null;
  note: string;
}

async function runMode(mode: ReplicationMode): Promise<Row> {
  const cluster = await startNats({ size: 3 });
  const nc = await connect({ servers: cluster.servers, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
  try {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const ds = await modeDataSet(nc, `BENCH_${mode.replace("-", "_").toUpperCase()}`, mode, { semiSyncTimeoutMs: semiTimeoutMs });
    let nextId = 0;
    let stop = false;
    let measuring = false;
    let killAt = Infinity;
    let firstAckAfterKill = Infinity;
    const lat: number[] = [];
    /** id → (ack time, counted as replicated). */
    const acked = new Map<number, { at: number; replicated: boolean }>();
    const worker = async (): Promise<void> => {
      while (!stop) {
        const id = ++nextId;
        const t0 = performance.now();
        try {
          const r = await ds.write(js, id);
          const t1 = performance.now();
          acked.set(id, { at: t1, replicated: r.replicated });
          if (measuring) lat.push(t1 - t0);
          if (t0 > killAt && t1 < firstAckAfterKill) firstAckAfterKill = t1;
        } catch {
          await sleep(20); // the primary is gone: retry soon, not in a hot loop
        }
      }
    };
    const workers = Array.from({ length: concurrency }, () => worker());
    await sleep(1000); // warm-up
    measuring = true;
    const m0 = performance.now();
    // Mirror lag, sampled every 100 ms while measuring (primary last seq − mirror last seq).
    let maxLag: number | null = null;
    const sampler = (async () => {
      if (!ds.plan.mirror) return;
      maxLag = 0;
      while (measuring) {
        try {
          const [p, m] = await Promise.all([jsm.streams.info(ds.stream), jsm.streams.info(ds.survivor)]);
          maxLag = Math.max(maxLag, p.state.last_seq - m.state.last_seq);
        } catch { /* next sample */ }
        await sleep(100);
      }
    })();
    await sleep(seconds * 1000);
    measuring = false;
    await sampler;
    const elapsedS = (performance.now() - m0) / 1000;
    const steady = lat.length;

    const victim = await leaderIndex(jsm, cluster, ds.stream);
    killAt = performance.now();
    await cluster.stopNode(victim, "SIGKILL");
    let survivorIds: Set<number>;
    if (mode === ReplicationMode.Sync) {
      // The stream is readable again once a survivor leads it.
      for (;;) {
        try { survivorIds = (await storedIds(nc, ds.survivor)).ids; break; } catch { await sleep(100); }
        if (performance.now() - killAt > rtoMaxMs) throw new Error("sync: no new leader");
      }
    } else {
      survivorIds = (await storedIds(nc, ds.survivor)).ids;
    }
    const readAt = performance.now();
    await cluster.startNode(victim);
    while (firstAckAfterKill === Infinity && performance.now() - killAt < rtoMaxMs) await sleep(20);
    stop = true;
    await Promise.all(workers);
    let lost = 0;
    let lostReplicated = 0;
    let ackedBeforeKill = 0;
    for (const [id, a] of acked) {
      if (a.at >= Math.min(killAt, readAt)) continue;
      ackedBeforeKill++;
      if (!survivorIds.has(id)) { lost++; if (a.replicated) lostReplicated++; }
    }
    const st = ds.writer?.stats;
    ds.writer?.stop();
    lat.sort((a, b) => a - b);
    return {
      mode, p50: pct(lat, 0.5), p99: pct(lat, 0.99), perSec: steady / elapsedS, ackedBeforeKill, lost, lostReplicated,
      rtoMs: firstAckAfterKill - killAt, maxLag,
      note: st ? `${st.replicated} replicated, ${st.unreplicated} not, ${st.degradations} degradation(s)` : mode === ReplicationMode.Async ? "mirror lag at the kill = loss" : "quorum ack",
    };
  } finally {
    await nc.close().catch(() => undefined);
    await cluster.stop();
  }
}

console.log(`bench:replication — ${describeMachine()}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.log(`3 nats-server 2.9 processes per mode, ${concurrency} writers, ${seconds} s steady, then SIGKILL of the primary's server; semi-sync timeout ${semiTimeoutMs} ms\n`);
const rows: Row[] = [];
for (const mode of [ReplicationMode.Sync, ReplicationMode.SemiSync, ReplicationMode.Async]) {
  const r = await runMode(mode);
  rows.push(r);
  console.log(`  ${mode}: done (${r.ackedBeforeKill} acknowledged before the kill)`);
}
const base = rows[0]!;
console.log("");
printTable([
  ["mode", "p50 ms", "p99 ms", "writes/s", "vs sync", "acked", "lost (RPO)", "of them 'replicated'", "max mirror lag", "RTO s", "notes"],
  ...rows.map((r) => [
    r.mode, fmt(r.p50, 2), fmt(r.p99, 2), fmt(r.perSec), `${fmt(r.perSec / base.perSec, 2)}x`, String(r.ackedBeforeKill), String(r.lost),
    r.mode === ReplicationMode.SemiSync ? String(r.lostReplicated) : "-", r.maxLag === null ? "-" : String(r.maxLag), Number.isFinite(r.rtoMs) ? fmt(r.rtoMs / 1000, 2) : "> 60", r.note,
  ]),
]);
console.log(`\nload average after: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
process.exit(0);
