// RoleHolder: the driver of FailoverCore for one singleton role. Owns the
// tick timer, performs the lease requests on a DistributedLock (cloud/lock;
// the lock's owner is this node), and calls onActivate/onDeactivate
// so the role starts on exactly one node at a time (modulo the fencing
// window, which the resource closes with the token). Records failover
// history: "acquired" names the previous holder this node saw; the failover
// time when that holder died is measured by the caller (kill time → this entry's atMs).

import { HistoryKind } from "../membership";
import type { RecoveryHistory } from "../membership";
import { monotonicNowMs } from "../base";
import { FailoverCore, failoverConfig, type DeactivateReason, type FailoverConfig } from "./failover";
import type { DistributedLock } from "../lock";

export interface RoleHolderOptions {
  /** The lease service; its ownerId is this node's id (the lease holder). */
  lock: DistributedLock;
  /** Lease name, e.g. "role/command-retry". */
  role: string;
  ttlMs: number;
  config?: Partial<FailoverConfig>;
  tickIntervalMs?: number;
  onActivate?: (token: number) => void | Promise<void>;
  onDeactivate?: (token: number, reason: DeactivateReason) => void | Promise<void>;
  history?: RecoveryHistory;
  nowMs?: () => number;
  log?: (msg: string) => void;
}

export class RoleHolder {
  readonly role: string;
  readonly #o: RoleHolderOptions;
  readonly #core: FailoverCore;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  /** The other holder this standby last saw (recorded on activation). */
  #lastSeenOther: { holder?: string; atMs: number } | undefined;

  constructor(opts: RoleHolderOptions) {
    this.#o = opts;
    this.role = opts.role;
    this.#now = opts.nowMs ?? monotonicNowMs;
    this.#core = new FailoverCore(failoverConfig(opts.ttlMs, opts.config), this.#now());
  }

  get token(): number | undefined {
    return this.#core.token;
  }

  isActive(): boolean {
    return this.#core.isActive(this.#now());
  }

  start(): void {
    const c = this.#core.config;
    const tickMs = this.#o.tickIntervalMs ?? Math.max(10, Math.floor(Math.min(c.renewIntervalMs, c.retryIntervalMs) / 4));
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#tick();
  }

  /** Stops ticking; releases the lease if held (clean shutdown). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.stepDown("stop");
  }

  /** Escalation (e.g. from the supervisor): release now and hold off re-acquiring. */
  async stepDown(why: string): Promise<void> {
    const wasActive = this.#core.token !== undefined;
    this.#core.stepDown(this.#now());
    if (wasActive) this.#o.history?.record(HistoryKind.Failover, this.role, "stepped-down", { why });
    await this.#run();
  }

  #tick(): void {
    this.#core.tick(this.#now());
    void this.#run();
  }

  async #run(): Promise<void> {
    for (const a of this.#core.takeActions()) {
      switch (a.type) {
        case "acquire":
          void this.#acquire(a.reqId);
          break;
        case "renew":
          void this.#renew(a.reqId, a.token);
          break;
        case "release":
          await this.#o.lock.release(this.role, a.token).catch((e: unknown) => this.#o.log?.(`release ${this.role}: ${String(e)}`));
          break;
        case "activate": {
          this.#o.history?.record(HistoryKind.Failover, this.role, "acquired", { token: a.token, previousHolder: this.#lastSeenOther?.holder });
          this.#lastSeenOther = undefined;
          await this.#call(() => this.#o.onActivate?.(a.token));
          break;
        }
        case "deactivate":
          this.#o.history?.record(HistoryKind.Failover, this.role, "lost", { token: a.token, reason: a.reason });
          await this.#call(() => this.#o.onDeactivate?.(a.token, a.reason));
          break;
      }
    }
  }

  async #acquire(reqId: number): Promise<void> {
    try {
      // timeoutMs 0: one try; FailoverCore owns the retry timing.
      const r = await this.#o.lock.acquire(this.role, { ttlMs: this.#core.config.ttlMs, timeoutMs: 0 });
      if (!r.ok && r.holder !== this.#o.lock.ownerId) this.#lastSeenOther = { ...(r.holder !== undefined ? { holder: r.holder } : {}), atMs: this.#now() };
      this.#core.acquired(reqId, r.ok ? { ok: true, token: r.lock.token } : { ok: false }, this.#now());
    } catch (e) {
      this.#o.log?.(`acquire ${this.role}: ${String(e)}`);
      this.#core.requestFailed(reqId, this.#now());
    }
    await this.#run();
  }

  async #renew(reqId: number, token: number): Promise<void> {
    try {
      const r = await this.#o.lock.extend(this.role, token, this.#core.config.ttlMs);
      this.#core.renewed(reqId, r, this.#now());
    } catch (e) {
      this.#o.log?.(`renew ${this.role}: ${String(e)}`);
      this.#core.requestFailed(reqId, this.#now());
    }
    await this.#run();
  }

  async #call(f: () => void | Promise<void>): Promise<void> {
    try {
      await f();
    } catch (e) {
      this.#o.log?.(`role ${this.role} callback failed: ${String(e)}`);
    }
  }
}
