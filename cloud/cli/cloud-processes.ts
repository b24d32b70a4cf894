// The local stack's cloud nodes (`xsfleet cloud`) and control-plane replicas
// (cloud/controlplane/main.ts) as supervised child processes of `xsfleet up`:
//
//  - owned children (cloud/infra/owned-child.ts): own process group, so
//    Ctrl-C reaches only `up`, which stops them in order; SIGTERM from the
//    kernel if `up` dies without stopping them;
//  - output appended to <logDir>/<name>.log through a file descriptor, not a
//    pipe, so a child never blocks on or dies from a parent that went away;
//  - a Supervisor (cloud/recovery) restarts one that exits by itself, with
//    bounded exponential backoff, and gives up after `attemptsMax` quick
//    failures; every exit, restart and give-up is reported through `onEvent`
//    as it happens, so the status line and the dashboard never show a dead
//    process as up.
import { closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { childExited, describeExit, spawnOwnedChild, stopChild, type ChildExit } from "../infra";
import { RecoveryHistory } from "../membership";
import { Supervisor, type RestartConfig } from "../recovery";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = path.join(root, "bin", "xsfleet.mjs");
const controlMain = path.join(root, "cloud", "controlplane", "main.ts");

export const ProcessKind = {
  CloudNode: "cloud node",
  ControlReplica: "control-plane replica",
  PaxosAcceptor: "paxos acceptor",
} as const;
export type ProcessKind = (typeof ProcessKind)[keyof typeof ProcessKind];

/** Where a supervised process is in its life, as the status line and dashboard show it. */
export const ProcessState = {
  Starting: "starting",
  Running: "running",
  /** Exited by itself; the supervisor restarts it after a backoff delay. */
  Restarting: "restarting",
  /** Exited too often in a row; the supervisor gave up. */
  Failed: "failed",
  Stopping: "stopping",
  Stopped: "stopped",
} as const;
export type ProcessState = (typeof ProcessState)[keyof typeof ProcessState];

/** Restart policy of `up`'s processes: quick first retry, at most 5 in a row. */
export const stackRestartConfig: Partial<RestartConfig> = {
  attemptsMax: 5,
  backoffBaseMs: 500,
  backoffMaxMs: 10_000,
  jitterRatio: 0.3,
  resetAfterMs: 60_000,
};

export type ProcessEvent =
  | { type: "exited"; process: StackProcess; exit: ChildExit; attempt: number; delayMs: number }
  | { type: "restarted"; process: StackProcess; pid: number; restarts: number }
  | { type: "gave-up"; process: StackProcess; exit: ChildExit | null; attempts: number };

export interface StackProcessOptions {
  name: string;
  kind: ProcessKind;
  /** Arguments to node (this runtime). */
  nodeArgs: string[];
  logDir: string;
  restart?: Partial<RestartConfig>;
  onEvent?: (e: ProcessEvent) => void;
}

export interface ProcessSnapshot {
  name: string;
  kind: ProcessKind;
  state: ProcessState;
  pid: number | null;
  restarts: number;
  /** How the last run ended and when (ms since epoch); null while the first run lasts. */
  lastExit: { text: string; atMs: number } | null;
  logFile: string;
}

export class StackProcess {
  readonly name: string;
  readonly kind: ProcessKind;
  readonly logFile: string;
  readonly #o: StackProcessOptions;
  readonly #supervisor: Supervisor;
  #child: ChildProcess | null = null;
  #state: ProcessState = ProcessState.Starting;
  #lastExit: { exit: ChildExit; atMs: number } | null = null;
  #stopGraceMs = 5_000;
  /** Resolves once the first run is up (spawned) or failed to spawn. */
  readonly #firstStart: Promise<void>;

  constructor(o: StackProcessOptions) {
    this.name = o.name;
    this.kind = o.kind;
    this.#o = o;
    mkdirSync(o.logDir, { recursive: true });
    this.logFile = path.join(o.logDir, `${o.name}.log`);
    const history = new RecoveryHistory("xsfleet-up", 64);
    history.onRecord((e) => {
      const exit = this.#lastExit?.exit ?? null;
      if (e.action === "restarting" && exit) {
        this.#state = ProcessState.Restarting;
        o.onEvent?.({ type: "exited", process: this, exit, attempt: Number(e.detail.attempt), delayMs: Number(e.detail.delayMs) });
      } else if (e.action === "escalated") {
        this.#state = ProcessState.Failed;
        o.onEvent?.({ type: "gave-up", process: this, exit, attempts: Number(e.detail.attempts) });
      }
    });
    let started: () => void = () => undefined;
    this.#firstStart = new Promise<void>((r) => (started = r));
    this.#supervisor = new Supervisor({
      unit: { name: o.name, start: async () => {
        try {
          return await this.#run();
        } finally {
          started();
        }
      } },
      restart: { ...stackRestartConfig, ...o.restart },
      history,
    });
  }

  get pid(): number | null {
    return this.#child?.pid ?? null;
  }
  get state(): ProcessState {
    return this.#state;
  }
  /** The running child, if any (tests kill it to see the restart). */
  get child(): ChildProcess | null {
    return this.#child;
  }
  get restarts(): number {
    return Math.max(0, this.#supervisor.starts - 1);
  }
  get running(): boolean {
    return this.#state === ProcessState.Running || this.#state === ProcessState.Starting;
  }

  snapshot(): ProcessSnapshot {
    const e = this.#lastExit;
    return {
      name: this.name, kind: this.kind, state: this.#state, pid: this.running ? this.pid : null, restarts: this.restarts,
      lastExit: e ? { text: describeExit(e.exit), atMs: e.atMs } : null, logFile: this.logFile,
    };
  }

  /** Starts the first run; resolves once it is spawned. */
  start(): Promise<void> {
    this.#supervisor.start();
    return this.#firstStart;
  }

  /** Graceful stop: no more restarts, SIGTERM, SIGKILL after graceMs. Null when it was not running. */
  async stop(graceMs: number): Promise<ChildExit | null> {
    this.#stopGraceMs = graceMs;
    const child = this.#child;
    const wasRunning = child !== null && this.#state !== ProcessState.Stopped && child.exitCode === null && child.signalCode === null;
    if (this.#state !== ProcessState.Stopped) this.#state = ProcessState.Stopping;
    await this.#supervisor.stop();
    // A run the supervisor did not know about yet (spawn in flight) is stopped here.
    const last = this.#child;
    if (last && last.exitCode === null && last.signalCode === null) await stopChild(last, graceMs);
    this.#state = ProcessState.Stopped;
    return wasRunning && last ? childExited(last) : null;
  }

  /** Immediate SIGKILL, no restart (a second Ctrl-C). */
  kill(): void {
    void this.#supervisor.stop();
    this.#state = ProcessState.Stopped;
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
  }

  async #run(): Promise<{ exited: Promise<ChildExit>; stop: () => Promise<void> }> {
    const fd = openSync(this.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawnOwnedChild(process.execPath, this.#o.nodeArgs, { stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.#child = child;
    const exited = childExited(child).then((exit) => {
      this.#lastExit = { exit, atMs: Date.now() };
      if (this.#state === ProcessState.Running || this.#state === ProcessState.Starting) this.#state = ProcessState.Restarting;
      return exit;
    });
    await new Promise<void>((resolve) => {
      child.once("spawn", () => resolve());
      child.once("error", () => resolve());
    });
    if (child.pid !== undefined && this.#state !== ProcessState.Stopping && this.#state !== ProcessState.Stopped) {
      const restart = this.#supervisor.starts > 1;
      this.#state = ProcessState.Running;
      if (restart) this.#o.onEvent?.({ type: "restarted", process: this, pid: child.pid, restarts: this.restarts });
    }
    return {
      exited: exited.then((e) => ({ code: e.code, signal: e.signal, ...(e.error ? { error: e.error } : {}) })),
      stop: async () => { await stopChild(child, this.#stopGraceMs); },
    };
  }
}

export function cloudNodeProcess(opts: {
  nodeId: string; roles: string[]; servers: string[]; replicas: number; logDir: string; registry: "kv" | "control"; shutdownTimeoutMs: number;
  /** Port of /healthz and /metrics (default: any free one). */
  httpPort?: number;
  /** More `xsfleet cloud` flags: the orchestration role's backup schedule, credentials and TLS (cloud/cli/stack-security.ts). */
  extraArgs?: readonly string[];
  onEvent?: (e: ProcessEvent) => void;
}): StackProcess {
  return new StackProcess({
    name: opts.nodeId, kind: ProcessKind.CloudNode, logDir: opts.logDir, ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    nodeArgs: [bin, "cloud", "--node-id", opts.nodeId, "--roles", opts.roles.join(","), "--nats-servers", opts.servers.join(","),
      "--replicas", String(opts.replicas), "--http-port", String(opts.httpPort ?? 0), "--registry", opts.registry, "--shutdown-timeout-ms", String(opts.shutdownTimeoutMs),
      ...(opts.extraArgs ?? [])],
  });
}

/** One Raft replica of the control plane (cloud/controlplane/main.ts); it restarts from its WAL. */
export function controlReplicaProcess(opts: {
  id: number; peers: number[]; servers: string[]; dataDir: string; logDir: string; onEvent?: (e: ProcessEvent) => void;
  /** Credentials and TLS flags (cloud/cli/stack-security.ts). */
  extraArgs?: string[];
}): StackProcess {
  return new StackProcess({
    name: `control-${opts.id}`, kind: ProcessKind.ControlReplica, logDir: opts.logDir, ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    nodeArgs: ["--import", "tsx", controlMain, "--id", String(opts.id), "--peers", opts.peers.join(","), "--data-dir", opts.dataDir,
      "--nats", opts.servers.join(","), ...(opts.extraArgs ?? [])],
  });
}

/** "cloud-1 exited with code 0, cloud-2 killed by SIGKILL" — the shutdown summary of a group. */
export function describeExits(results: ReadonlyArray<{ name: string; exit: ChildExit | null }>): string {
  return results.map((r) => `${r.name} ${r.exit ? describeExit(r.exit) : "was not running"}`).join(", ");
}
