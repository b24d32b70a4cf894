// bench:cache — the distributed cache (docs/data-plane.md), in one run:
//   1. ring balance: key-load standard deviation (relative to the mean) vs
//      virtual nodes, printed beside 1/sqrt(vnodes);
//   2. keys moved when one node joins or leaves n nodes, beside 1/(n+1) and 1/n;
//   3. reads of device-state-sized values on a real nats-server: JetStream KV
//      directly (the baseline) vs read-through the ring (3 cache nodes, rf 2,
//      invalidated by their KV watches while a writer changes keys): hit rate,
//      p50/p99 latency, reads/s;
//   3b. registry lookups on the Raft control plane, directly vs through the ring;
//   4. pools: the same cache reads with the cache nodes and the client on one
//      NATS connection each vs a pool of 4 (cloud/nats/pool.ts).
//
//   npm run bench:cache [-- --seconds 5 --keys 2000 --concurrency 32 --no-raft]
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { connect } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { CacheRingView, CachedRegistry, HashRing, RingCacheClient, fixedCacheMembers, type Loaded } from "../cloud/cache";
import { ControlClient } from "../cloud/controlplane";
import { ControlPlaneRegistry } from "../cloud/registry";
import { ProcessCluster } from "../test/harness/control-plane";
import { NatsPool } from "../cloud/nats";
import { startNats, type NatsCluster } from "../test/harness/nats";
import { describeMachine } from "./lib/machine";
import { drive, fmt, printTable, type Point } from "./lib/load";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" }, keys: { type: "string", default: "2000" }, concurrency: { type: "string", default: "32" },
    "no-raft": { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const keysN = Number(values.keys);
const concurrency = Number(values.concurrency);

function ringBalance(): void {
  console.log("\n1. ring balance: 10 nodes, 100,000 keys; load = keys per node (primary owner)");
  const keys = Array.from({ length: 100_000 }, (_, i) => `state:dev-${i}`);
  const nodes = Array.from({ length: 10 }, (_, i) => `cloud-${i + 1}`);
  const rows: string[][] = [["vnodes", "stddev/mean", "1/sqrt(vnodes)", "ratio", "max/mean"]];
  for (const v of [1, 4, 16, 64, 128, 256, 1024]) {
    const ring = new HashRing({ vnodes: v, nodes });
    const load = new Map<string, number>(nodes.map((n) => [n, 0]));
    for (const k of keys) { const o = ring.ownersOf(k, 1)[0]!; load.set(o, load.get(o)! + 1); }
    const mean = keys.length / nodes.length;
    const sd = Math.sqrt([...load.values()].reduce((s, x) => s + (x - mean) ** 2, 0) / nodes.length);
    const rel = sd / mean;
    rows.push([String(v), fmt(rel, 3), fmt(1 / Math.sqrt(v), 3), fmt(rel * Math.sqrt(v), 2), fmt(Math.max(...load.values()) / mean, 2)]);
  }
  printTable(rows);
}

function movedKeys(): void {
  console.log("\n2. keys moved (primary owner changed) when one node joins or leaves; 128 vnodes, 100,000 keys");
  const keys = Array.from({ length: 100_000 }, (_, i) => `state:dev-${i}`);
  const rows: string[][] = [["nodes n", "join: moved", "1/(n+1)", "leave: moved", "1/n"]];
  for (const n of [3, 4, 8, 16]) {
    const nodes = Array.from({ length: n }, (_, i) => `cloud-${i + 1}`);
    const ring = new HashRing({ vnodes: 128, nodes });
    const before = keys.map((k) => ring.ownersOf(k, 1)[0]);
    ring.add(`cloud-${n + 1}`);
    const joined = keys.map((k) => ring.ownersOf(k, 1)[0]).filter((o, i) => o !== before[i]).length / keys.length;
    ring.remove(`cloud-${n + 1}`);
    ring.remove("cloud-1");
    const left = keys.map((k) => ring.ownersOf(k, 1)[0]).filter((o, i) => o !== before[i]).length / keys.length;
    rows.push([String(n), fmt(joined * 100, 1) + "%", fmt(100 / (n + 1), 1) + "%", fmt(left * 100, 1) + "%", fmt(100 / n, 1) + "%"]);
  }
  printTable(rows);
}

/** Zipf(1) over keysN keys: a few devices are read often (a dashboard's, an operator's), most rarely. */
function zipf(n: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) { sum += 1 / (i + 1); cdf[i] = sum; }
  return () => {
    const u = Math.random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (cdf[mid]! < u) lo = mid + 1; else hi = mid; }
    return lo;
  };
}

interface Cluster {
  client: RingCacheClient;
  close(): Promise<void>;
}

/** Three cache nodes in a child process (as cloud nodes run them, apart from the reader), and a ring client here. */
async function cacheCluster(nats: NatsCluster, bucket: string, poolSize: number): Promise<Cluster> {
  const ids = ["cache-1", "cache-2", "cache-3"];
  const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "lib", "cache-nodes-process.ts"), nats.servers.join(","), bucket, String(poolSize)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`cache nodes exited with ${code}`)));
    child.stdout!.on("data", (d: Buffer) => { if (d.toString().includes("ready")) resolve(); });
  });
  const clientPool = await NatsPool.open({ servers: nats.servers, name: "bench-client" }, poolSize, { healthCheckMs: 0 });
  const client = new RingCacheClient({ send: (f) => clientPool.use(f), view: new CacheRingView({ members: fixedCacheMembers(() => ids), rf: 2 }), timeoutMs: 1_000 });
  return {
    client,
    close: async () => {
      child.removeAllListeners("exit");
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      await clientPool.drain();
    },
  };
}

async function main(): Promise<void> {
  console.log(describeMachine());
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  ringBalance();
  movedKeys();

  const nats = await startNats();
  const admin = await connect({ servers: nats.servers, name: "bench-cache-admin" });
  const bucket = "BENCH_CACHE_STATE";
  const kv: KV = await new Kvm(admin).create(bucket, { history: 1 });
  // ~600 bytes: a device state with a few readings and counters.
  const value = (i: number, v: number): string => JSON.stringify({ deviceId: `dev-${i}`, v, readings: Object.fromEntries(Array.from({ length: 8 }, (_, c) => [`ch${c}`, { value: c * 1.5, atMs: 1_700_000_000_000 + v }])), pad: "x".repeat(200) });
  for (let i = 0; i < keysN; i++) await kv.put(`dev-${i}`, value(i, 0));
  const pick = zipf(keysN);
  const readerNc = await connect({ servers: nats.servers, name: "bench-cache-reader" });
  const readerKv = await new Kvm(readerNc).open(bucket);

  // A writer changes 20 keys a second (ingest updating device state): the cache must invalidate them.
  let writes = 0;
  const writer = setInterval(() => { const i = pick(); writes++; kv.put(`dev-${i}`, value(i, writes)).catch(() => undefined); }, 50);

  console.log(`\n3. reads: ${keysN} device states (~${value(0, 0).length} B), Zipf(1) key popularity, ${concurrency} concurrent readers, ${seconds} s each, a writer changing 20 keys/s`);
  const direct = await drive(concurrency, seconds, async () => { const e = await readerKv.get(`dev-${pick()}`); if (!e) throw new Error("missing"); });
  const c1 = await cacheCluster(nats, bucket, 1);
  const loader = (i: number) => async (): Promise<Loaded | null> => { const e = await readerKv.get(`dev-${i}`); return e ? { value: e.value, version: e.revision } : null; };
  // Steady state of a running system: the cache process warmed up (JIT) and the keys read once.
  for (let i = 0; i < keysN; i++) await c1.client.readThrough(`state:dev-${i}`, loader(i), 60_000);
  await drive(concurrency, 1, async () => { const i = pick(); await c1.client.readThrough(`state:dev-${i}`, loader(i), 60_000); });
  const before = { ...c1.client.stats };
  const cached = await drive(concurrency, seconds, async () => { const i = pick(); if (!(await c1.client.readThrough(`state:dev-${i}`, loader(i), 60_000))) throw new Error("missing"); });
  const hits = c1.client.stats.hits - before.hits;
  const misses = c1.client.stats.misses - before.misses;
  const row = (name: string, p: Point, hit: string): string[] => [name, fmt(p.opsPerSec), fmt(p.p50Ms, 2), fmt(p.p99Ms, 2), hit, String(p.errors)];
  printTable([
    ["path", "reads/s", "p50 ms", "p99 ms", "hit rate", "errors"],
    row("JetStream KV get (baseline)", direct, "-"),
    row("read-through ring cache, rf 2", cached, `${fmt((100 * hits) / Math.max(1, hits + misses), 1)}%`),
  ]);
  console.log(`ratio cache/KV: reads/s ${fmt(cached.opsPerSec / direct.opsPerSec, 2)}x, p50 ${fmt(cached.p50Ms / direct.p50Ms, 2)}x, p99 ${fmt(cached.p99Ms / direct.p99Ms, 2)}x; sets refused as stale: ${c1.client.stats.staleRefused}`);

  if (!values["no-raft"]) {
    const devices = 500;
    console.log(`\n3b. registry lookups: ${devices} devices on the Raft control plane (3 replica processes), Zipf(1), ${concurrency} readers, a writer changing 5 records/s through the cached registry`);
    const cluster = await ProcessCluster.start(nats.servers[0]!, [1, 2, 3]);
    await cluster.waitLeader(60_000);
    const raw = new ControlPlaneRegistry(new ControlClient(cluster.nc, { clientId: "bench-cache-registry", timeoutMs: 30_000, lanesMax: 1024 }).proposer());
    for (let i = 0; i < devices; i++) await raw.register(`reg-${i}`);
    const cachedReg = new CachedRegistry(raw, { cache: c1.client, ttlMs: 60_000 });
    const pickDev = zipf(devices);
    let regWrites = 0;
    const regWriter = setInterval(() => { regWrites++; cachedReg.setMetadata(`reg-${pickDev()}`, { v: String(regWrites) }).catch(() => undefined); }, 200);
    const rawP = await drive(concurrency, seconds, async () => { if (!(await raw.get(`reg-${pickDev()}`))) throw new Error("missing"); });
    for (let i = 0; i < devices; i++) await cachedReg.get(`reg-${i}`);
    const b = { ...c1.client.stats };
    const cachedP = await drive(concurrency, seconds, async () => { if (!(await cachedReg.get(`reg-${pickDev()}`))) throw new Error("missing"); });
    const h = c1.client.stats.hits - b.hits;
    const m = c1.client.stats.misses - b.misses;
    clearInterval(regWriter);
    printTable([
      ["path", "reads/s", "p50 ms", "p99 ms", "hit rate", "errors"],
      row("control-plane registry get (Raft read)", rawP, "-"),
      row("through the ring cache, rf 2", cachedP, `${fmt((100 * h) / Math.max(1, h + m), 1)}%`),
    ]);
    console.log(`ratio cache/Raft: reads/s ${fmt(cachedP.opsPerSec / rawP.opsPerSec, 2)}x, p50 ${fmt(cachedP.p50Ms / rawP.p50Ms, 2)}x, p99 ${fmt(cachedP.p99Ms / rawP.p99Ms, 2)}x; invalidations unacknowledged: ${cachedReg.unacknowledged}`);
    await cluster.stop();
  }

  console.log(`\n4. pools: cache gets (warm, all hits, keys nobody writes) with the cache nodes and the client on 1 connection each vs a pool of 4; ${concurrency * 2} concurrent readers`);
  const hot = async (c: Cluster): Promise<Point> => {
    const v = new TextEncoder().encode(value(0, 0));
    for (let i = 0; i < 200; i++) await c.client.set(`hot:${i}`, v, { ttlMs: 600_000 });
    return drive(concurrency * 2, seconds, async () => { if (!(await c.client.get(`hot:${Math.floor(Math.random() * 200)}`))) throw new Error("miss"); });
  };
  const one = await hot(c1);
  await c1.close();
  const c4 = await cacheCluster(nats, bucket, 4);
  const four = await hot(c4);
  await c4.close();
  printTable([
    ["connections per process", "gets/s", "p50 ms", "p99 ms", "errors"],
    ["1", fmt(one.opsPerSec), fmt(one.p50Ms, 2), fmt(one.p99Ms, 2), String(one.errors)],
    ["pool of 4", fmt(four.opsPerSec), fmt(four.p50Ms, 2), fmt(four.p99Ms, 2), String(four.errors)],
  ]);
  console.log(`ratio pool/1: gets/s ${fmt(four.opsPerSec / one.opsPerSec, 2)}x, p99 ${fmt(four.p99Ms / one.p99Ms, 2)}x`);

  clearInterval(writer);
  await new Promise((r) => setTimeout(r, 200));
  await readerNc.close();
  await admin.close();
  await nats.stop();
  console.log(`\nload average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
