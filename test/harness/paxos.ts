// CASPaxos acceptors as real OS processes (`node --import tsx
// cloud/paxos/main.ts`) on a real nats-server, for crash tests and the
// consensus benchmark: kill -9 an acceptor, restart it from its data dir,
// ask each one for its status. Nothing is mocked.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { PaxosClient, type AcceptorStatus, type PaxosClientOptions } from "../../cloud/paxos";
import { paxosStatusSubject } from "../../cloud/subjects";
import { waitFor } from "./wait";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const LOG_LINES_MAX = 200;

interface Proc {
  readonly id: number;
  readonly dataDir: string;
  proc: ChildProcess | null;
  log: string[];
}

export class AcceptorCluster {
  readonly root: string;
  readonly natsUrl: string;
  readonly group: string;
  readonly nc: NatsConnection;
  readonly #procs = new Map<number, Proc>();
  readonly #extraArgs: string[];

  private constructor(natsUrl: string, nc: NatsConnection, group: string, extraArgs: string[]) {
    this.root = mkdtempSync(path.join(tmpdir(), "xsfleet-paxos-"));
    this.natsUrl = natsUrl;
    this.nc = nc;
    this.group = group;
    this.#extraArgs = extraArgs;
  }

  /** Starts acceptors `ids` and waits until each answers its status subject. */
  static async start(natsUrl: string, ids: readonly number[] = [1, 2, 3], opts: { group?: string; extraArgs?: string[] } = {}): Promise<AcceptorCluster> {
    const nc = await connect({ servers: natsUrl, name: "paxos-test-cluster", maxReconnectAttempts: -1 });
    const c = new AcceptorCluster(natsUrl, nc, opts.group ?? `t${process.pid}`, opts.extraArgs ?? []);
    for (const id of ids) c.spawn(id);
    await Promise.all(ids.map((id) => c.waitUp(id)));
    return c;
  }

  get ids(): number[] {
    return [...this.#procs.keys()].sort((a, b) => a - b);
  }

  /** A new proposer (its own inbox and incarnation) on this cluster's connection. */
  client(opts: Partial<PaxosClientOptions> = {}): PaxosClient {
    return PaxosClient.overNats(this.nc, { group: this.group, acceptors: this.ids, ...opts });
  }

  running(id: number): boolean {
    const p = this.#procs.get(id)?.proc;
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  spawn(id: number): void {
    let p = this.#procs.get(id);
    if (!p) {
      p = { id, dataDir: path.join(this.root, `a${id}`), proc: null, log: [] };
      this.#procs.set(id, p);
    }
    if (this.running(id)) throw new Error(`acceptor ${id} already running`);
    const args = ["--import", "tsx", path.join(REPO, "cloud/paxos/main.ts"), "--id", String(id), "--data-dir", p.dataDir,
      "--nats", this.natsUrl, "--group", this.group, ...this.#extraArgs];
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ["ignore", "ignore", "pipe"] });
    const rec = p;
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      for (const line of d.split("\n")) if (line) rec.log.push(line);
      if (rec.log.length > LOG_LINES_MAX) rec.log.splice(0, rec.log.length - LOG_LINES_MAX);
    });
    p.proc = child;
  }

  /** kill -9: nothing that was not fsynced survives. */
  async kill9(id: number): Promise<void> {
    const p = this.#procs.get(id);
    if (!p?.proc || !this.running(id)) return;
    const child = p.proc;
    const exited = new Promise<void>((res) => child.once("exit", () => res()));
    child.kill("SIGKILL");
    await exited;
    p.proc = null;
  }

  /** SIGTERM and wait; the exit code. */
  async stopGracefully(id: number): Promise<number | null> {
    const p = this.#procs.get(id);
    if (!p?.proc || !this.running(id)) return null;
    const child = p.proc;
    const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
    child.kill("SIGTERM");
    const code = await exited;
    p.proc = null;
    return code;
  }

  logs(id: number): string {
    return this.#procs.get(id)?.log.join("\n") ?? "";
  }

  async status(id: number, timeoutMs = 1_000): Promise<AcceptorStatus | undefined> {
    if (!this.running(id)) return undefined;
    try {
      const m = await this.nc.request(paxosStatusSubject(this.group, id), new Uint8Array(0), { timeout: timeoutMs });
      return JSON.parse(new TextDecoder().decode(m.data)) as AcceptorStatus;
    } catch {
      return undefined;
    }
  }

  async waitUp(id: number, timeoutMs = 30_000): Promise<AcceptorStatus> {
    return waitFor(`paxos acceptor ${id} to answer its status`, () => this.status(id), {
      timeoutMs, intervalMs: 100, detail: () => `log of acceptor ${id}:\n${this.logs(id)}`,
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.kill9(id)));
    await this.nc.close().catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true });
  }
}
