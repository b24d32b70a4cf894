// DistributedLock over the replicated control plane. Every operation is a
// command proposed through an injected `Proposer`: the Raft control plane's
// client (cloud/controlplane ControlClient.proposer()) in the product, the
// in-process state machine (test/harness/local-proposer.ts) in single-process tests. Safety comes
// from the log: one order of acquires on every replica, fencing tokens from
// a counter that is part of the replicated state and its snapshots, and TTL
// judged against leader-stamped time (so no replica's clock decides alone).
//
// Each request carries a client session (a session id fresh for every
// instance, seq), so a proposal retried after a leader change cannot take the
// lock twice, and a restarted process with the same ownerId never gets the
// remembered answer of its previous incarnation. At most
// `inFlightMax` requests are outstanding per client: the state machine
// remembers that many responses per session (sessionResponsesMax), so
// requests that commit out of order are still deduplicated, never refused.

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { CommandKind, ControlError, type ApplyResult, type Command, type Proposer } from "../control";
import { makeHeldLock, retryUntil, type RetryOptions } from "./acquire-loop";
import {
  LockFailure,
  checkAcquireArgs,
  checkName,
  checkTtl,
  type AcquireOptions,
  type AcquireResult,
  type DistributedLock,
  type LockOpResult,
} from "./types";

export interface ControlPlaneLockOptions {
  readonly propose: Proposer;
  /** Holder identity; defaults to host:pid:uuid. Visible ASCII, <= 128 bytes. */
  readonly ownerId?: string;
  /** Backoff and clock injection for the acquire loop. */
  readonly retry?: Omit<RetryOptions, "timeoutMs">;
  /** Outstanding proposals per client; keep <= the control plane's sessionResponsesMax. */
  readonly inFlightMax?: number;
}

export const CONTROL_LOCK_IN_FLIGHT_MAX = 16;

export class ControlPlaneLock implements DistributedLock {
  readonly ownerId: string;
  readonly #propose: Proposer;
  readonly #retry: Omit<RetryOptions, "timeoutMs">;
  readonly #inFlightMax: number;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #sessionId = `lock:${randomUUID()}`;
  #seq = 0;
  #closed = false;

  constructor(opts: ControlPlaneLockOptions) {
    this.ownerId = opts.ownerId ?? `${hostname()}:${process.pid}:${randomUUID()}`;
    checkName(this.ownerId);
    this.#propose = opts.propose;
    this.#retry = opts.retry ?? {};
    this.#inFlightMax = opts.inFlightMax ?? CONTROL_LOCK_IN_FLIGHT_MAX;
    if (!Number.isInteger(this.#inFlightMax) || this.#inFlightMax < 1) throw new RangeError(`inFlightMax must be a positive integer, got ${this.#inFlightMax}`);
  }

  async acquire(name: string, opts: AcquireOptions): Promise<AcquireResult> {
    checkAcquireArgs(name, opts);
    const nowMs = this.#retry.nowMs ?? Date.now;
    let holder: string | undefined;
    const outcome = await retryUntil<number>(async () => {
      const r = await this.#send({ kind: CommandKind.LockTryAcquire, name, holder: this.ownerId, ttlMs: opts.ttlMs });
      if (r.ok && r.kind === CommandKind.LockTryAcquire) return { ok: true as const, value: r.value.token };
      if (!r.ok && r.code === ControlError.Held) {
        holder = r.holder;
        // expiresAtMs is leader time; with roughly synced clocks it bounds the wait.
        return { ok: false as const, ...(r.expiresAtMs !== undefined ? { retryAfterMs: r.expiresAtMs - nowMs() } : {}) };
      }
      throw unexpected("lock.try-acquire", r);
    }, { ...this.#retry, timeoutMs: opts.timeoutMs });
    if (!outcome.ok) return { ok: false, error: LockFailure.Timeout, attempts: outcome.attempts, waitedMs: outcome.waitedMs, ...(holder !== undefined ? { holder } : {}) };
    return { ok: true, lock: makeHeldLock(this, name, outcome.value, opts.ttlMs), attempts: outcome.attempts };
  }

  async release(name: string, token: number): Promise<LockOpResult> {
    checkName(name);
    if (!isToken(token)) return notAToken(token);
    const r = await this.#send({ kind: CommandKind.LockRelease, name, holder: this.ownerId, token });
    return this.#opResult("lock.release", r);
  }

  async extend(name: string, token: number, ttlMs: number): Promise<LockOpResult> {
    checkName(name);
    checkTtl(ttlMs);
    if (!isToken(token)) return notAToken(token);
    const r = await this.#send({ kind: CommandKind.LockExtend, name, holder: this.ownerId, token, ttlMs });
    return this.#opResult("lock.extend", r);
  }

  async checkFence(name: string, token: number): Promise<boolean> {
    checkName(name);
    if (!isToken(token)) return false;
    const r = await this.#send({ kind: CommandKind.LockCheckFence, name, token });
    if (r.ok) return true;
    if (r.code === ControlError.StaleToken) return false;
    throw unexpected("lock.check-fence", r);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async #send(cmd: Command): Promise<ApplyResult> {
    if (this.#closed) throw new Error(`control-plane lock ${this.ownerId} is closed`);
    while (this.#inFlight >= this.#inFlightMax) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#inFlight++;
    try {
      return await this.#propose(cmd, { clientId: this.#sessionId, seq: ++this.#seq });
    } finally {
      this.#inFlight--;
      this.#waiting.shift()?.();
    }
  }

  #opResult(op: string, r: ApplyResult): LockOpResult {
    if (r.ok) return { ok: true };
    if (r.code === ControlError.NotHolder) return { ok: false, error: LockFailure.NotHolder, message: r.message };
    throw unexpected(op, r);
  }
}

function isToken(token: number): boolean {
  return Number.isSafeInteger(token) && token >= 1;
}

/** A token that is not a positive integer cannot be anyone's. */
function notAToken(token: number): LockOpResult {
  return { ok: false, error: LockFailure.NotHolder, message: `${String(token)} is not a fencing token` };
}

function unexpected(op: string, r: ApplyResult): Error {
  return new Error(`control plane ${op} failed: ${r.ok ? `unexpected result ${r.kind}` : `${r.code}: ${r.message}`}`);
}
