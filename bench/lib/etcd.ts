// etcd 3.4 (Debian's etcd-server) as a benchmark baseline: 3 members on
// loopback, fsync on (its default), driven either through the native gRPC
// client its users run (the `etcd3` package: one client over all members,
// linearizable reads) — the fair baseline — or through its v3 HTTP/JSON
// gateway (POST /v3/kv/put and /v3/kv/range), kept as a second row. Members
// can be killed and restarted for the failover measurement of bench:consensus.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { Etcd3 } from "etcd3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort, isPortOpen } from "../../cloud/infra";
import { until } from "../../test/harness/wait";
import { sleep, type Target } from "./load";

export function etcdAvailable(): boolean {
  return spawnSync("etcd", ["--version"], { encoding: "utf8" }).status === 0;
}

interface Member { name: string; client: number; peer: number; proc: ChildProcess | null }

export interface EtcdTarget extends Target {
  /** Index of the member that leads now. */
  leader(): Promise<number>;
  kill9(i: number): Promise<void>;
  restart(i: number): Promise<void>;
  /** Writes worker w's key through member i (its gateway forwards to the leader). */
  writeVia(i: number, w: number): Promise<void>;
  readonly size: number;
}

/** How the benchmark talks to etcd: its gRPC client (default, fair) or the HTTP/JSON gateway. */
export type EtcdClientKind = "grpc" | "http";

export async function etcdTarget(value: string, kind: EtcdClientKind = "grpc"): Promise<EtcdTarget> {
  const root = mkdtempSync(path.join(tmpdir(), "xsfleet-etcd-"));
  const members: Member[] = await Promise.all([1, 2, 3].map(async (i) => ({ name: `e${i}`, client: await freePort(), peer: await freePort(), proc: null })));
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
  const start = (m: Member, state: "new" | "existing"): void => {
    m.proc = spawn("etcd", [
      "--name", m.name, "--data-dir", path.join(root, m.name),
      "--listen-client-urls", `http://127.0.0.1:${m.client}`, "--advertise-client-urls", `http://127.0.0.1:${m.client}`,
      "--listen-peer-urls", `http://127.0.0.1:${m.peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${m.peer}`,
      "--initial-cluster", initialCluster, "--initial-cluster-state", state, "--initial-cluster-token", "xsfleet-bench",
      "--log-level", "error", "--logger", "zap",
    ], { stdio: ["ignore", "ignore", "ignore"] });
  };
  for (const m of members) start(m, "new");
  await Promise.all(members.map((m) => until(`etcd ${m.name} to listen on ${m.client}`, () => isPortOpen(m.client), 60_000)));
  const post = async (port: number, p: string, body: unknown, timeoutMs = 10_000): Promise<Record<string, unknown>> => {
    const res = await fetch(`http://127.0.0.1:${port}${p}`, {
      method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" }, signal: AbortSignal.timeout(timeoutMs),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok || json["error"]) throw new Error(`etcd ${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const leader = async (): Promise<number> => {
    for (let attempt = 0; attempt < 200; attempt++) {
      for (const [i, m] of members.entries()) {
        if (!m.proc) continue;
        try {
          const st = await post(m.client, "/v3/maintenance/status", {}, 1_000);
          const lead = String((st as { leader?: string }).leader ?? "");
          const self = String((st["header"] as { member_id?: string }).member_id);
          if (lead && lead !== "0" && lead === self) return i;
        } catch { /* not ready yet */ }
      }
      await sleep(100);
    }
    throw new Error("etcd has no leader");
  };
  let leaderPort = members[await leader()]!.client;
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  const valueB64 = b64(value);
  // BENCH_ETCD_ENDPOINTS=all spreads workers over every member (as clientv3 balances); default: the leader.
  const spread = process.env["BENCH_ETCD_ENDPOINTS"] === "all";
  const portOf = (w: number): number => (spread ? members[w % members.length]!.client : leaderPort);
  // gRPC: one etcd3 client over every member (it balances and follows the leader, as clientv3 does);
  // writeVia uses a client bound to that one member, with a short deadline.
  const grpc = kind === "grpc" ? new Etcd3({ hosts: members.map((m) => `http://127.0.0.1:${m.client}`) }) : null;
  const grpcVia = new Map<number, Etcd3>();
  const via = (i: number): Etcd3 => {
    let c = grpcVia.get(i);
    if (!c) grpcVia.set(i, (c = new Etcd3({ hosts: `http://127.0.0.1:${members[i]!.client}` })));
    return c;
  };
  const ops = grpc
    ? {
      write: async (w: number) => { await grpc.put(`bench-${w}`).value(value).exec(); },
      read: async (w: number) => { await grpc.get(`bench-${w}`).string(); },
      writeVia: async (i: number, w: number) => { await via(i).put(`bench-${w}`).value(value).options({ deadline: new Date(Date.now() + 500) }).exec(); },
    }
    : {
      write: async (w: number) => { await post(portOf(w), "/v3/kv/put", { key: b64(`bench-${w}`), value: valueB64 }); },
      read: async (w: number) => { await post(portOf(w), "/v3/kv/range", { key: b64(`bench-${w}`) }); },
      writeVia: async (i: number, w: number) => { await post(members[i]!.client, "/v3/kv/put", { key: b64(`bench-${w}`), value: valueB64 }, 500); },
    };
  return {
    name: kind === "grpc" ? "etcd 3.4 (gRPC client etcd3)" : "etcd 3.4 (HTTP/JSON gateway)",
    size: members.length,
    async prepare() {},
    write: ops.write,
    read: ops.read,
    writeVia: ops.writeVia,
    async leader() {
      const i = await leader();
      leaderPort = members[i]!.client;
      return i;
    },
    async kill9(i) {
      const p = members[i]!.proc;
      if (!p) return;
      const gone = new Promise((r) => p.once("exit", r));
      p.kill("SIGKILL");
      await gone;
      members[i]!.proc = null;
    },
    async restart(i) {
      const m = members[i]!;
      if (m.proc) return;
      start(m, "existing");
      await until(`etcd ${m.name} to listen again`, () => isPortOpen(m.client), 60_000);
    },
    async close() {
      grpc?.close();
      for (const c of grpcVia.values()) c.close();
      const procs = members.map((m) => m.proc).filter((p): p is ChildProcess => p !== null);
      for (const p of procs) p.kill("SIGTERM");
      await Promise.all(procs.map((p) => (p.exitCode !== null ? undefined : new Promise((r) => p.once("exit", r)))));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
