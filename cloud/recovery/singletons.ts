// Singleton work: things the cloud tier must do on exactly one node at a
// time (scheduled backups, the replacement coordinator, …). Each piece of
// work is a lease on the lock service (cloud/lock; the Raft control plane
// by default) contended for by every orchestration node through a
// RoleHolder (failover with fencing), and run on the holder under a
// Supervisor (restart with backoff):
//
//   lease acquired (token t) ──► Supervisor starts work.start(t)
//   work crashes (its handle's `exited` settles) ──► restarted after backoff
//   more than attemptsMax crashes without a stable run ──► escalate:
//       the holder steps down (releases the lease, holds off 2 × TTL), so a
//       node where the work can run takes it over at once
//   lease lost (renewal refused, local validity over) ──► work stopped
//
// Work receives its fencing token and must pass it to every resource it
// writes (a fenced store, cloud/lock/fence.ts): a holder paused past its
// lease cannot overwrite a newer holder's writes.
//
// Adding singleton work is one entry in the node's list (cloud/node/roles.ts).

import type { RecoveryHistory } from "../membership";
import type { DistributedLock } from "../lock";
import type { FailoverConfig } from "./failover";
import type { RestartConfig } from "./restart";
import { RoleHolder } from "./role-holder";
import { Supervisor } from "./supervisor";
import type { ExitInfo, RunningHandle } from "./types";

export interface SingletonWork {
  /** Lease name on the lock service, e.g. "singleton/backup"; also what heartbeats announce. */
  readonly lease: string;
  /** Restart policy of the work while this node holds the lease (defaults: SINGLETON_RESTART_DEFAULTS). */
  readonly restart?: Partial<RestartConfig>;
  /** Starts the work as the holder of fencing token `token`. */
  start(token: number): Promise<RunningHandle>;
}

/** A crashing singleton is retried quickly a few times, then handed to another node. */
export const SINGLETON_RESTART_DEFAULTS: Partial<RestartConfig> = Object.freeze({
  attemptsMax: 4,
  backoffBaseMs: 500,
  backoffMaxMs: 10_000,
  jitterRatio: 0.3,
  resetAfterMs: 60_000,
});

/** Singleton work one node may contend for. */
export const SINGLETONS_MAX = 64;

/** A RunningHandle over an async loop: it exits when `run` returns or throws; stop() aborts it and waits. */
export function loopHandle(run: (signal: AbortSignal) => Promise<void>): RunningHandle {
  const ac = new AbortController();
  const exited: Promise<ExitInfo> = run(ac.signal).then(
    () => ({ code: 0, signal: null }),
    (e: unknown) => ({ code: null, signal: null, error: e instanceof Error ? e.message : String(e) }),
  );
  return { exited, stop: async () => { ac.abort(); await exited; } };
}

/** Resolves after ms, or early (false) when the signal aborts. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) { resolve(false); return; }
    const t = setTimeout(() => { signal.removeEventListener("abort", onAbort); resolve(true); }, Math.max(0, ms));
    const onAbort = (): void => { clearTimeout(t); resolve(false); };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export interface SingletonHostOptions {
  /** The lease service; its ownerId is this node's id. */
  lock: DistributedLock;
  ttlMs: number;
  failover?: Partial<FailoverConfig>;
  history?: RecoveryHistory;
  /** Restart policy for all work here (between SINGLETON_RESTART_DEFAULTS and each work's own). */
  restart?: Partial<RestartConfig>;
  /** Called whenever the set of leases this node holds changes. */
  onHeldChange?: (held: readonly string[]) => void;
  log?: (msg: string) => void;
}

interface Slot {
  readonly work: SingletonWork;
  readonly holder: RoleHolder;
  supervisor: Supervisor | undefined;
}

export class SingletonHost {
  readonly #o: SingletonHostOptions;
  readonly #slots = new Map<string, Slot>();
  #started = false;

  constructor(opts: SingletonHostOptions) {
    this.#o = opts;
  }

  /** Registers work (before start). */
  add(work: SingletonWork): void {
    if (this.#started) throw new Error(`singleton ${work.lease}: add() after start()`);
    if (this.#slots.has(work.lease)) throw new Error(`singleton ${work.lease} registered twice`);
    if (this.#slots.size >= SINGLETONS_MAX) throw new Error(`more than ${SINGLETONS_MAX} singletons`);
    const slot: Slot = {
      work, supervisor: undefined,
      holder: new RoleHolder({
        lock: this.#o.lock, role: work.lease, ttlMs: this.#o.ttlMs, ...(this.#o.failover ? { config: this.#o.failover } : {}),
        ...(this.#o.history ? { history: this.#o.history } : {}), ...(this.#o.log ? { log: this.#o.log } : {}),
        onActivate: (token) => this.#activate(slot, token),
        onDeactivate: () => this.#deactivate(slot),
      }),
    };
    this.#slots.set(work.lease, slot);
  }

  /** Leases this node holds now. */
  held(): string[] {
    return [...this.#slots.values()].filter((s) => s.holder.token !== undefined).map((s) => s.work.lease);
  }

  holder(lease: string): RoleHolder | undefined {
    return this.#slots.get(lease)?.holder;
  }

  start(): void {
    this.#started = true;
    for (const s of this.#slots.values()) s.holder.start();
  }

  /** Escalation of the whole node (it is unhealthy): give up every lease now. */
  async stepDownAll(why: string): Promise<void> {
    await Promise.all([...this.#slots.values()].map((s) => s.holder.stepDown(why)));
  }

  /** Clean shutdown: stop the work, release the leases. */
  async stop(): Promise<void> {
    await Promise.all([...this.#slots.values()].map((s) => s.holder.stop().catch((e: unknown) => this.#o.log?.(`stopping singleton ${s.work.lease}: ${String(e)}`))));
  }

  #activate(slot: Slot, token: number): void {
    const lease = slot.work.lease;
    this.#o.log?.(`singleton ${lease}: this node holds it (token ${token}); starting its work`);
    const supervisor = new Supervisor({
      unit: { name: lease, start: () => slot.work.start(token) },
      restart: { ...SINGLETON_RESTART_DEFAULTS, ...this.#o.restart, ...slot.work.restart },
      ...(this.#o.history ? { history: this.#o.history } : {}),
      onEscalate: async ({ attempts, lastExit }) => {
        this.#o.log?.(`singleton ${lease}: crashed ${attempts + 1} times in a row (last: ${lastExit.error ?? `exit ${String(lastExit.code)}`}); giving the lease up`);
        await slot.holder.stepDown(`work crashed ${attempts + 1} times in a row`);
      },
    });
    slot.supervisor = supervisor;
    supervisor.start();
    this.#o.onHeldChange?.(this.held());
  }

  async #deactivate(slot: Slot): Promise<void> {
    const sup = slot.supervisor;
    slot.supervisor = undefined;
    this.#o.onHeldChange?.(this.held());
    await sup?.stop();
  }
}
