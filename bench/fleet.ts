// Fleet-scale benchmark (`npm run bench:fleet`; not part of npm test):
// N concurrent MQTT device sessions (default 10,000; heartbeat every 10 s,
// a 10-point telemetry batch every 30 s, QoS 1) as light clients in a few
// worker processes (bench/lib/fleet-worker.ts), against nats-server's MQTT
// listener with the cloud tier (one cloud node: ingest, api, commands)
// keeping presence and state for all of them. Reports broker and cloud
// memory per device, CPU, ingest lag; then restarts the broker and measures
// the reconnect storm (time until every session is back, with the
// firmware's jittered backoff) and checks that no confirmed or PUBACKed
// telemetry is missing from device state. Beside it, the same sessions
// against Mosquitto (Debian's) as the baseline for memory and CPU per
// connection. Bounded: BENCH_DEVICES, BENCH_STEADY_S (default 60).
// BENCH_BROKER_HEAP=1 also prints where nats-server's Go heap goes at steady
// state (its pprof listener; bench/lib/go-pprof.ts), per session.
import { fork, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import os from "node:os";
import path from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ApiClient } from "../cloud/api";
import { cloudNodeProcess, controlReplicaProcess } from "../cloud/cli/cloud-processes";
import { defaultIngestConfig } from "../cloud/ingest";
import { uplinkPartitionMappings } from "../cloud/subjects";
import { freePort, isPortOpen, startLocalNats, type LocalNats } from "../cloud/infra";
import { decodeState, deviceStateBucket } from "../cloud/state";
import { until } from "../test/harness/wait";
import { describeMachine } from "./lib/machine";
import { fetchHeap, heapTable, type HeapSummary } from "./lib/go-pprof";
import type { FleetWorkerConfig, FleetWorkerStats } from "./lib/fleet-worker";

const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const STEADY_S = Number(process.env.BENCH_STEADY_S ?? 60);
const HEARTBEAT_MS = 10_000;
const TELEMETRY_MS = 30_000;
const CONNECT_TIMEOUT_MS = 600_000;
const BROKER_HEAP = process.env.BENCH_BROKER_HEAP === "1";
const workerScript = path.join(import.meta.dirname, "lib", "fleet-worker.ts");

function log(m: string): void {
  process.stderr.write(`… ${m}\n`);
}

/** RSS (bytes) and CPU time (s) of a process, from /proc. */
function procUsage(pid: number): { rss: number; cpuS: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const tick = 100;
  const rssPages = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]);
  return { rss: rssPages * 4096, cpuS: (Number(f[11]) + Number(f[12])) / tick };
}

/** Pids whose command line contains `needle`. */
function pidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").includes(needle)) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

class Workers {
  readonly procs: ChildProcess[] = [];
  constructor(mqttUrl: string, ids: string[], rampMs: number) {
    const per = Math.ceil(ids.length / WORKERS);
    for (let w = 0; w < WORKERS; w++) {
      const cfg: FleetWorkerConfig = { mqttUrl, ids: ids.slice(w * per, (w + 1) * per), heartbeatMs: HEARTBEAT_MS, telemetryMs: TELEMETRY_MS, rampMs };
      this.procs.push(fork(workerScript, [JSON.stringify(cfg)], { execArgv: ["--import", "tsx", "--max-old-space-size=4096"], stdio: ["ignore", "inherit", "inherit", "ipc"] }));
    }
  }
  /** Sends `type` to every worker; resolves with their answers of type `reply` (default the same). */
  #ask<T>(type: string, reply = type): Promise<T[]> {
    return Promise.all(this.procs.map((p) => new Promise<T>((resolve, reject) => {
      const on = (m: { type: string; stats?: T }): void => {
        if (m.type !== reply) return;
        p.off("message", on);
        p.off("exit", gone);
        resolve((m.stats ?? m) as T);
      };
      const gone = (): void => reject(new Error(`fleet worker ${p.pid} exited`));
      p.on("message", on);
      p.once("exit", gone);
      p.send({ type });
    })));
  }
  async stats(): Promise<FleetWorkerStats> {
    const all = await this.#ask<FleetWorkerStats>("stats");
    return all.reduce((a, b) => ({
      devices: a.devices + b.devices, connected: a.connected + b.connected, connects: a.connects + b.connects, published: a.published + b.published,
      errors: a.errors + b.errors, telemetryPubacked: { ...a.telemetryPubacked, ...b.telemetryPubacked }, telemetryConfirmed: { ...a.telemetryConfirmed, ...b.telemetryConfirmed },
    }));
  }
  quiet(): Promise<unknown> { return this.#ask("quiet"); }
  async stop(): Promise<void> {
    await this.#ask("stop", "stopped").catch(() => undefined);
  }
  kill(): void { for (const p of this.procs) p.kill("SIGKILL"); }
  /** Workers' own memory (the clients), for context. */
  rss(): number { return this.procs.reduce((a, p) => a + (p.pid ? procUsage(p.pid).rss : 0), 0); }
}

/** Messages pending or unacked in every ingest consumer. */
async function ingestLag(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  let lag = 0;
  for await (const si of jsm.streams.list()) {
    for await (const ci of jsm.consumers.list(si.config.name)) {
      if ((ci.config.durable_name ?? ci.name).startsWith("xsf-ingest")) lag += ci.num_pending + ci.num_ack_pending;
    }
  }
  return lag;
}

async function waitConnected(workers: Workers, n: number, what: string): Promise<number> {
  const t0 = Date.now();
  let last = 0;
  await until(what, async () => {
    const s = await workers.stats();
    if (Date.now() - last > 5_000) { last = Date.now(); log(`${what}: ${s.connected}/${n} connected`); }
    return s.connected >= n;
  }, { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 500 });
  return (Date.now() - t0) / 1000;
}

/** Average CPU % and peak RSS of pids over `seconds`, sampled each second (lag too, when nc is given). */
async function observe(pids: Record<string, number>, seconds: number, nc: NatsConnection | null): Promise<{ cpuPct: Record<string, number>; rss: Record<string, number>; lagMax: number }> {
  const start = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, procUsage(p)]));
  const rss: Record<string, number> = {};
  let lagMax = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 1_000));
    for (const [k, p] of Object.entries(pids)) rss[k] = Math.max(rss[k] ?? 0, procUsage(p).rss);
    if (nc) lagMax = Math.max(lagMax, await ingestLag(nc).catch(() => 0));
  }
  const el = (Date.now() - t0) / 1000;
  const cpuPct = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((procUsage(p).cpuS - start[k]!.cpuS) / el) * 100]));
  return { cpuPct, rss, lagMax };
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;

async function natsRun(ids: string[]): Promise<string[]> {
  const stateDir = mkdtempSync(path.join(tmpdir(), "xsfleet-bench-fleet-"));
  const basePort = await stableBasePort();
  // As `xsfleet up --insecure` runs it: uplinks mapped into ingest's partitions.
  const profPort = BROKER_HEAP ? await freePort() : undefined;
  const natsOpts = { stateDir, size: 1, basePort, mappings: uplinkPartitionMappings(defaultIngestConfig.partitions), ...(profPort ? { profPort } : {}) };
  const heap = (): Promise<HeapSummary> => fetchHeap(`http://127.0.0.1:${profPort}`);
  let nats: LocalNats = await startLocalNats(natsOpts);
  const natsPid = (): number => pidsWith(path.join(stateDir, "nats"))[0]!;
  const logDir = path.join(stateDir, "logs");
  // Ingest's partition leases live on the Raft control plane (one replica here).
  const control = controlReplicaProcess({ id: 1, peers: [1], servers: nats.servers, dataDir: path.join(stateDir, "control"), logDir });
  await control.start();
  const httpPort = await freePort();
  const cloud = cloudNodeProcess({ nodeId: "cloud-1", roles: ["ingest", "api", "commands"], servers: nats.servers, replicas: 1, logDir, registry: "kv", shutdownTimeoutMs: 4_000, httpPort });
  const pushes = (): Promise<Record<string, number>> => shadowPushes(`http://127.0.0.1:${httpPort}/metrics`);
  await cloud.start();
  const nc = await connect({ servers: nats.servers, name: "bench-fleet" });
  const lines: string[] = [];
  let workers: Workers | null = null;
  try {
    const api = new ApiClient(nc, { timeoutMs: 10_000 });
    await until("API answering", async () => api.list({ limit: 1 }).then(() => true, () => false), { timeoutMs: 60_000, intervalMs: 250 });
    log(`registering ${ids.length} devices …`);
    const t0 = Date.now();
    let registerErrors = 0;
    for (let i = 0; i < ids.length; i += 64) {
      await Promise.all(ids.slice(i, i + 64).map((id) => api.register(id, { source: "bench" }).catch((e: { code?: string }) => { if (e.code !== "already_exists") registerErrors++; })));
    }
    if (registerErrors > 0) throw new Error(`${registerErrors} devices could not be registered`);
    log(`registered in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const before = { nats: procUsage(natsPid()).rss, cloud: procUsage(cloud.pid!).rss };
    const heapBefore = BROKER_HEAP ? await heap() : null;
    workers = new Workers(nats.mqttUrls[0]!, ids, Math.min(120_000, ids.length * 5));
    const connectS = await waitConnected(workers, ids.length, "nats-server: sessions connecting");
    log(`all ${ids.length} connected in ${connectS.toFixed(1)} s; steady state for ${STEADY_S} s …`);
    const steady = await observe({ nats: natsPid(), cloud: cloud.pid! }, STEADY_S, nc);
    const pushesSteady = await pushes();
    log(`shadow delta pusher (on every Hello and online: reads the desired and reported documents) after connect and steady state: ${fmtCounts(pushesSteady)}`);
    if (heapBefore) {
      const h = await heap();
      const rssPer = (steady.rss.nats! - before.nats) / ids.length;
      console.log(`nats-server at steady state: RSS ${kib(rssPer)} per session above its start; Go heap in use ${kib((h.inuseBytes - heapBefore.inuseBytes) / ids.length)} per session above its start (the rest of RSS: the GC's headroom, goroutine stacks, freed pages not yet returned)\n`);
      console.log(heapTable(h, 15, ids.length).join("\n") + "\n");
    }
    const wrss = workers.rss();
    log("restarting the broker (SIGTERM, same data and ports) …");
    const tKill = Date.now();
    await nats.stop();
    const mqttBefore = nats.mqttUrls[0];
    nats = await startLocalNats(natsOpts);
    if (nats.mqttUrls[0] !== mqttBefore) throw new Error(`the broker restarted on ${nats.mqttUrls[0]}, not ${mqttBefore}: its port was taken in between`);
    const backS = await waitConnected(workers, ids.length, "reconnect storm");
    const stormS = (Date.now() - tKill) / 1000;
    log(`all sessions back ${stormS.toFixed(1)} s after the broker stop; draining …`);
    const pushesStorm = await pushes();
    log(`shadow delta pusher during the reconnect storm: ${fmtCounts(Object.fromEntries(Object.entries(pushesStorm).map(([k, v]) => [k, v - (pushesSteady[k] ?? 0)])))}`);
    await workers.quiet();
    const nc2 = await connect({ servers: nats.servers, name: "bench-fleet-2" });
    await until("ingest lag 0", async () => (await ingestLag(nc2).catch(() => 1)) === 0, { timeoutMs: 300_000, intervalMs: 1_000 });
    await new Promise((r) => setTimeout(r, 15_000)); // receipts in flight reach the clients
    const pushesEnd = await pushes();
    log(`shadow delta pusher from the broker restart to the end (the storm's Hellos it saw, its backlog drained): ${fmtCounts(Object.fromEntries(Object.entries(pushesEnd).map(([k, v]) => [k, v - (pushesSteady[k] ?? 0)])))}`);
    const s = await workers.stats();
    const kvm = new Kvm(nc2);
    const bucket = await kvm.open(deviceStateBucket);
    let lostPubacked = 0;
    let lostConfirmed = 0;
    let devicesShort = 0;
    let confirmedTotal = 0;
    let pubackedTotal = 0;
    for (const id of ids) {
      const e = await bucket.get(id);
      const batches = e ? decodeState(e.value, id).telemetry.batches : 0;
      const p = s.telemetryPubacked[id] ?? 0;
      const c = s.telemetryConfirmed[id] ?? 0;
      pubackedTotal += p;
      confirmedTotal += c;
      if (batches < p) { lostPubacked += p - batches; devicesShort++; }
      if (batches < c) lostConfirmed += c - batches;
    }
    await nc2.close();
    lines.push(
      `| nats-server 2.9 MQTT + cloud node | ${ids.length} | ${connectS.toFixed(1)} s | ${kib((steady.rss.nats! - before.nats) / ids.length)} | ${steady.cpuPct.nats!.toFixed(0)} % | ${kib((steady.rss.cloud! - before.cloud) / ids.length)} | ${steady.cpuPct.cloud!.toFixed(0)} % | ${steady.lagMax} | ${stormS.toFixed(1)} s (${backS.toFixed(1)} s after restart) | ${lostConfirmed} of ${confirmedTotal} confirmed; ${lostPubacked} of ${pubackedTotal} PUBACKed (${devicesShort} devices) |`,
    );
    log(`clients' own memory: ${mib(wrss)} over ${WORKERS} worker processes; errors ${s.errors}`);
    await workers.stop();
  } finally {
    workers?.kill();
    await nc.close().catch(() => undefined);
    await cloud.stop(5_000);
    await control.stop(3_000);
    await nats.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  return lines;
}

/**
 * A base port for the broker below the ephemeral range (32768–60999 on
 * Linux), its next four ports free: the broker restarts on the same ports,
 * and 20,000 client sockets churning through ephemeral ports took one of
 * them in between once (the sessions then had nowhere to reconnect).
 */
async function stableBasePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const b = 20_000 + Math.floor(Math.random() * 12_000);
    if (!(await Promise.all([0, 1, 2, 3].map((k) => isPortOpen(b + k)))).some(Boolean)) return b;
  }
  throw new Error("no free base port in 20000–32000 for the broker");
}

/** The cloud node's shadow-push counters (xsfleet_shadow_pushes_total by event) from its /metrics. */
async function shadowPushes(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(url)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^xsfleet_shadow_pushes_total\{[^}]*event="([a-z]+)"[^}]*\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

const fmtCounts = (c: Record<string, number>): string => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(", ") || "none";

async function mosquittoRun(ids: string[]): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), "xsfleet-bench-mosq-"));
  const port = await freePort();
  writeFileSync(path.join(dir, "m.conf"), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\nmax_queued_messages 1000\n`);
  const m = spawn("mosquitto", ["-c", path.join(dir, "m.conf")], { stdio: ["ignore", "ignore", "ignore"] });
  let workers: Workers | null = null;
  try {
    await until("mosquitto listening", () => isPortOpen(port), { timeoutMs: 10_000, intervalMs: 100 });
    const before = procUsage(m.pid!).rss;
    workers = new Workers(`mqtt://127.0.0.1:${port}`, ids, Math.min(120_000, ids.length * 5));
    const connectS = await waitConnected(workers, ids.length, "mosquitto: sessions connecting");
    const steady = await observe({ mosq: m.pid! }, STEADY_S, null);
    await workers.stop();
    return [`| Mosquitto 2 (broker only, baseline) | ${ids.length} | ${connectS.toFixed(1)} s | ${kib((steady.rss.mosq! - before) / ids.length)} | ${steady.cpuPct.mosq!.toFixed(0)} % | — | — | — | — | — |`];
  } finally {
    workers?.kill();
    m.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(describeMachine());
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; ${DEVICES} sessions in ${WORKERS} worker processes; heartbeat ${HEARTBEAT_MS / 1000} s, telemetry ${TELEMETRY_MS / 1000} s (10 points), QoS 1; steady state ${STEADY_S} s`);
  const ids = Array.from({ length: DEVICES }, (_, i) => `fleet-${String(i).padStart(5, "0")}`);
  const rows = [...(await natsRun(ids)), ...(await mosquittoRun(ids))];
  console.log(`load average at end: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}\n`);
  console.log("| broker | sessions | all connected after | broker memory / session | broker CPU | cloud memory / device | cloud CPU | ingest lag max | reconnect storm: all back | telemetry missing from device state |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const r of rows) console.log(r);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
