// The Raft control plane for tests and benchmarks, nothing mocked:
//  - ProcessCluster: replicas as real OS processes (`node --import tsx
//    cloud/controlplane/main.ts`) on a real nats-server, for crash tests and
//    the benchmark: kill -9 a replica, restart it from its data dir, find the
//    leader, wait for replicas to converge;
//  - startControlPlaneInProcess: one replica (RaftNode + service) inside the
//    test process, for tests whose subject is something else (recovery
//    agents) and that need a control plane on NATS with the least start-up.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ControlClient, RaftNode, startControlService, type NodeStatus } from "../../cloud/controlplane";
import { waitFor } from "./wait";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const LOG_LINES_MAX = 200;

export interface ReplicaSpec {
  readonly id: number;
  readonly peers: readonly number[];
  readonly learners?: readonly number[];
}

interface Replica {
  spec: ReplicaSpec;
  dataDir: string;
  proc: ChildProcess | null;
  log: string[];
}

export class ProcessCluster {
  readonly root: string;
  readonly natsUrl: string;
  readonly nc: NatsConnection;
  /** Short-deadline client for probing single nodes. */
  readonly probe: ControlClient;
  readonly #replicas = new Map<number, Replica>();
  readonly #extraArgs: string[];

  private constructor(natsUrl: string, nc: NatsConnection, extraArgs: string[]) {
    this.root = mkdtempSync(path.join(tmpdir(), "xsfleet-cp-"));
    this.natsUrl = natsUrl;
    this.nc = nc;
    this.#extraArgs = extraArgs;
    this.probe = new ControlClient(nc, { timeoutMs: 1500, attemptTimeoutMs: 1500 });
  }

  static async start(natsUrl: string, ids: readonly number[], extraArgs: string[] = []): Promise<ProcessCluster> {
    const nc = await connect({ servers: natsUrl, name: "cp-test-cluster", maxReconnectAttempts: -1 });
    const c = new ProcessCluster(natsUrl, nc, extraArgs);
    for (const id of ids) c.spawn({ id, peers: ids });
    return c;
  }

  ids(): number[] {
    return [...this.#replicas.keys()].sort((a, b) => a - b);
  }

  running(id: number): boolean {
    const r = this.#replicas.get(id);
    return !!r?.proc && r.proc.exitCode === null && r.proc.signalCode === null;
  }

  /** Starts replica `spec.id` (new, or again from its data dir). */
  spawn(spec: ReplicaSpec): void {
    let r = this.#replicas.get(spec.id);
    if (!r) {
      r = { spec, dataDir: path.join(this.root, `n${spec.id}`), proc: null, log: [] };
      this.#replicas.set(spec.id, r);
    }
    if (this.running(spec.id)) throw new Error(`replica ${spec.id} already running`);
    const args = [
      "--import", "tsx", path.join(REPO, "cloud/controlplane/main.ts"),
      "--id", String(spec.id), "--peers", r.spec.peers.join(","),
      ...(r.spec.learners && r.spec.learners.length > 0 ? ["--learners", r.spec.learners.join(",")] : []),
      "--data-dir", r.dataDir, "--nats", this.natsUrl, ...this.#extraArgs,
    ];
    const proc = spawn(process.execPath, args, { cwd: REPO, stdio: ["ignore", "ignore", "pipe"] });
    const rep = r;
    proc.stderr!.setEncoding("utf8");
    proc.stderr!.on("data", (d: string) => {
      for (const line of d.split("\n")) if (line) rep.log.push(line);
      if (rep.log.length > LOG_LINES_MAX) rep.log.splice(0, rep.log.length - LOG_LINES_MAX);
    });
    r.proc = proc;
  }

  restart(id: number): void {
    const r = this.#replicas.get(id);
    if (!r) throw new Error(`no replica ${id}`);
    this.spawn(r.spec);
  }

  /** kill -9: no chance to flush anything that was not fsynced. */
  async kill9(id: number): Promise<void> {
    const r = this.#replicas.get(id);
    if (!r?.proc || !this.running(id)) return;
    const p = r.proc;
    const exited = new Promise<void>((res) => p.once("exit", () => res()));
    p.kill("SIGKILL");
    await exited;
    r.proc = null;
  }

  /** SIGSTOP: the replica misses elections and later wakes up believing it still leads. */
  suspend(id: number): void {
    const p = this.#replicas.get(id)?.proc;
    if (p && this.running(id)) p.kill("SIGSTOP");
  }

  resume(id: number): void {
    const p = this.#replicas.get(id)?.proc;
    if (p && this.running(id)) p.kill("SIGCONT");
  }

  /** SIGTERM and wait; returns the exit code. */
  async stopGracefully(id: number): Promise<number | null> {
    const r = this.#replicas.get(id);
    if (!r?.proc || !this.running(id)) return null;
    const p = r.proc;
    const exited = new Promise<number | null>((res) => p.once("exit", (code) => res(code)));
    p.kill("SIGTERM");
    const code = await exited;
    r.proc = null;
    return code;
  }

  forget(id: number): void {
    this.#replicas.delete(id);
  }

  logs(id: number): string {
    return this.#replicas.get(id)?.log.join("\n") ?? "";
  }

  async statusOf(id: number): Promise<NodeStatus | undefined> {
    if (!this.running(id)) return undefined;
    try {
      return await this.probe.status(id);
    } catch {
      return undefined;
    }
  }

  /** Waits until some running replica reports itself leader and a majority of others agree. */
  async waitLeader(timeoutMs = 30_000, exclude?: number): Promise<number> {
    return waitFor("a control-plane leader that a majority follows", async () => {
      const statuses = (await Promise.all(this.ids().filter((id) => id !== exclude).map((id) => this.statusOf(id)))).filter((s): s is NodeStatus => !!s);
      const leader = statuses.find((s) => s.state === "Leader");
      return leader && statuses.filter((s) => s.leader === leader.id).length * 2 > leader.confState.voters.length ? leader.id : undefined;
    }, { timeoutMs, intervalMs: 100, detail: () => this.ids().map((id) => `--- ${id}\n${this.logs(id).split("\n").slice(-15).join("\n")}`).join("\n") });
  }

  /** Waits until every running replica has applied the same index (at least `atLeast`). */
  async waitConverged(atLeast = 0, timeoutMs = 30_000): Promise<NodeStatus[]> {
    let last: (NodeStatus | undefined)[] = [];
    return waitFor("the running replicas to apply the same index", async () => {
      last = await Promise.all(this.ids().filter((id) => this.running(id)).map((id) => this.statusOf(id)));
      if (last.length === 0 || last.some((s) => s === undefined)) return undefined;
      const applied = last.map((s) => s!.applied);
      return applied.every((a) => a === applied[0] && a >= atLeast) ? (last as NodeStatus[]) : undefined;
    }, { timeoutMs, intervalMs: 200, detail: () => JSON.stringify(last.map((s) => s && { id: s.id, applied: s.applied, commit: s.commit, state: s.state })) });
  }

  async stop(): Promise<void> {
    await Promise.all(this.ids().map((id) => this.kill9(id)));
    await this.nc.close().catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true });
  }
}


export interface InProcessControlPlane {
  readonly node: RaftNode;
  readonly client: ControlClient;
  stop(): Promise<void>;
}

/** One control-plane replica in this process, serving on `natsUrl` (several: it fails over between them); resolves once it leads. */
export async function startControlPlaneInProcess(natsUrl: string | readonly string[]): Promise<InProcessControlPlane> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "xsfleet-cp1-"));
  const nc = await connect({ servers: typeof natsUrl === "string" ? natsUrl : [...natsUrl], name: "cp-in-process", maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const node = await RaftNode.open({ id: 1, peers: [1], dataDir, nc, tickMs: 20 });
  const service = await startControlService({ nc, node });
  const client = new ControlClient(nc, { timeoutMs: 5_000 });
  await waitFor("the in-process control-plane replica to lead", async () => (await client.status(1)).state === "Leader");
  return {
    node, client,
    stop: async () => {
      await service.stop();
      await node.stop();
      await nc.drain().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
