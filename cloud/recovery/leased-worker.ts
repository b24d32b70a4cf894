// LeasedWorker: the skeleton of work that one node runs while it holds a
// fenced lease — a partition of a partitioned role (ingest, analytics).
// It owns the RoleHolder and runs activation and deactivation one after the
// other (never interleaved, whatever order the lease events come in); the
// subclass says what an activation starts and what a deactivation stops.
//
//   lease acquired (token t) ──► activate(t)
//   lease lost (renew refused, local validity over) ──► deactivate(reason, t)
//   stop() (graceful handoff) ──► deactivate("handoff", t), then release the
//       lease, waiting at most leaseReleaseWaitMs (an unreachable control
//       plane must not hold a shutdown: the lease then lapses by its TTL)
//
// The local validity ends `leaseMarginRatio` of the TTL before the lease
// does, leaving room for a write in flight.
import { settledWithin } from "../base";
import type { DistributedLock } from "../lock";
import type { DeactivateReason, FailoverConfig } from "./failover";
import { RoleHolder } from "./role-holder";

/** Longest a handoff waits for the lease release. */
export const leaseReleaseWaitMs = 1_000;
/** Local validity ends this fraction of the TTL before the lease does. */
export const leaseMarginRatio = 0.25;

export type WorkerDeactivateReason = DeactivateReason | "handoff";

export interface LeasedWorkerOptions {
  lock: DistributedLock;
  /** Lease name on the lock service, e.g. `work/ingest/p3`. */
  lease: string;
  ttlMs: number;
  /** Lease timing overrides (tests). */
  failover?: Partial<FailoverConfig>;
  log: (msg: string) => void;
}

export abstract class LeasedWorker {
  protected readonly holder: RoleHolder;
  #stopping = false;
  /** Activation and deactivation run one after the other. */
  #serial: Promise<void> = Promise.resolve();

  constructor(o: LeasedWorkerOptions) {
    this.holder = new RoleHolder({
      lock: o.lock, role: o.lease, ttlMs: o.ttlMs,
      config: { safetyMarginMs: Math.max(1, Math.floor(o.ttlMs * leaseMarginRatio)), holdOffMs: 0, ...o.failover },
      onActivate: (token) => this.queue(() => this.activate(token)),
      onDeactivate: (token, reason) => this.queue(() => this.deactivate(reason, token)),
      log: o.log,
    });
  }

  /** Starts contending for the lease. */
  start(): void {
    this.holder.start();
  }

  /** Graceful handoff: deactivate, then release the lease. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.queue(() => this.deactivate("handoff", this.activeToken() ?? 0));
    await settledWithin(this.holder.stop(), leaseReleaseWaitMs);
  }

  /** stop() was called: no new activation. */
  protected get stopping(): boolean {
    return this.#stopping;
  }

  /** Runs `f` after every activation/deactivation queued before it. */
  protected queue(f: () => Promise<void>): Promise<void> {
    const next = this.#serial.then(f, f);
    this.#serial = next.catch(() => undefined);
    return next;
  }

  /** The token of the running activation, if any. */
  protected abstract activeToken(): number | undefined;
  protected abstract activate(token: number): Promise<void>;
  /** `token` 0: whatever activation runs. */
  protected abstract deactivate(reason: WorkerDeactivateReason, token: number): Promise<void>;
}
