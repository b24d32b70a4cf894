// DistributedLock on CASPaxos registers (cloud/paxos): one register per lock
// name (`lock/<name>`), no leader. Every operation is one change function
// run by a proposer over a majority of acceptors, so the lock works while
// any majority of acceptors is up, from any process, without waiting for an
// election.
//
// Register value (JSON): { o: holder | null, t: token, e: expiresAtMs, a: acquire id, x: release id }.
//
// Fencing token: the register's version at the write that granted the lock.
// The version counts every write of that register and never goes back
// (acceptors persist it with fsync and never delete a register), so each
// grant's token is larger than every earlier one, across holders, releases,
// expiries and acceptor restarts.
//
// TTL: the expiry is judged with the PROPOSER's clock (Date.now of the
// process running the change), not the acceptors'. CASPaxos acceptors store
// opaque bytes and never run change functions, which keeps them simple and
// the register general; the price is an assumption: the clocks of the
// processes using one lock agree within a skew that is small against the
// TTL (NTP on one LAN: milliseconds). A client whose clock runs ahead by d
// sees a lease end d early and may take it while the holder still believes
// it holds it — the same failure as a holder that pauses past its TTL, and
// the same defence: the resource checks the fencing token (fence.ts). Holders
// should extend well before ttlMs.
//
// Retries: the proposer may run a change again after an attempt whose
// accept went unconfirmed, so each change recognises its own earlier effect
// (acquire by its acquire id, release by its release id); a lost reply never
// takes a second token or reports a successful release as failed.

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { ChangeRunner, OpOutcome, RegisterState } from "../paxos";
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

export interface PaxosLockOptions {
  /** The proposer (cloud/paxos PaxosClient); may be shared by many locks. */
  readonly client: ChangeRunner & { close?(): Promise<void> };
  /** Holder identity; defaults to host:pid:uuid. Visible ASCII, <= 128 bytes. */
  readonly ownerId?: string;
  /** Register key prefix (default "lock/"). */
  readonly keyPrefix?: string;
  /** Backoff and clock injection for the acquire loop; nowMs is also the lease clock. */
  readonly retry?: Omit<RetryOptions, "timeoutMs">;
  /** close() also closes the client (when this lock created it). */
  readonly ownsClient?: boolean;
}

interface LockValue {
  readonly o: string | null;
  readonly t: number;
  readonly e: number;
  readonly a: string;
  readonly x: string;
}

type AcquireStep = { readonly granted: true; readonly token: number } | { readonly granted: false; readonly holder: string; readonly expiresAtMs: number };

const enc = new TextEncoder();
const dec = new TextDecoder();

function decodeLock(cur: RegisterState): LockValue | null {
  if (cur.data === null) return null;
  const v = JSON.parse(dec.decode(cur.data)) as Partial<LockValue>;
  if (typeof v !== "object" || v === null || (v.o !== null && typeof v.o !== "string") || typeof v.t !== "number" || typeof v.e !== "number") {
    throw new Error(`lock register holds something that is not a lock: ${dec.decode(cur.data).slice(0, 80)}`);
  }
  return { o: v.o ?? null, t: v.t, e: v.e, a: v.a ?? "", x: v.x ?? "" };
}

const encodeLock = (v: LockValue): Uint8Array => enc.encode(JSON.stringify(v));

export class PaxosLock implements DistributedLock {
  readonly ownerId: string;
  readonly #client: PaxosLockOptions["client"];
  readonly #prefix: string;
  readonly #retry: Omit<RetryOptions, "timeoutMs">;
  readonly #nowMs: () => number;
  readonly #ownsClient: boolean;
  #closed = false;

  constructor(opts: PaxosLockOptions) {
    this.ownerId = opts.ownerId ?? `${hostname()}:${process.pid}:${randomUUID()}`;
    checkName(this.ownerId);
    this.#client = opts.client;
    this.#prefix = opts.keyPrefix ?? "lock/";
    this.#retry = opts.retry ?? {};
    this.#nowMs = opts.retry?.nowMs ?? Date.now;
    this.#ownsClient = opts.ownsClient ?? false;
  }

  registerKey(name: string): string {
    return `${this.#prefix}${name}`;
  }

  async acquire(name: string, opts: AcquireOptions): Promise<AcquireResult> {
    checkAcquireArgs(name, opts);
    const acquireId = randomUUID();
    let holder: string | undefined;
    const outcome = await retryUntil<number>(async () => {
      const r = await this.#change("acquire", name, (cur): { write: boolean; data?: Uint8Array; result: AcquireStep } => {
        const v = decodeLock(cur);
        const now = this.#nowMs();
        if (v && v.o === this.ownerId && v.a === acquireId && v.e > now) return { write: false, result: { granted: true, token: v.t } };
        if (v && v.o !== null && v.e > now) return { write: false, result: { granted: false, holder: v.o, expiresAtMs: v.e } };
        const token = cur.version + 1;
        return { write: true, data: encodeLock({ o: this.ownerId, t: token, e: now + opts.ttlMs, a: acquireId, x: "" }), result: { granted: true, token } };
      });
      if (r.granted) return { ok: true as const, value: r.token };
      holder = r.holder;
      return { ok: false as const, retryAfterMs: r.expiresAtMs - this.#nowMs() };
    }, { ...this.#retry, timeoutMs: opts.timeoutMs });
    if (!outcome.ok) return { ok: false, error: LockFailure.Timeout, attempts: outcome.attempts, waitedMs: outcome.waitedMs, ...(holder !== undefined ? { holder } : {}) };
    return { ok: true, lock: makeHeldLock(this, name, outcome.value, opts.ttlMs), attempts: outcome.attempts };
  }

  async release(name: string, token: number): Promise<LockOpResult> {
    checkName(name);
    if (!isToken(token)) return notHolder(name, token);
    const releaseId = randomUUID();
    const ok = await this.#change("release", name, (cur) => {
      const v = decodeLock(cur);
      if (v && v.o === null && v.t === token && v.x === releaseId) return { write: false, result: true }; // our earlier attempt did it
      if (!v || v.o !== this.ownerId || v.t !== token || v.e <= this.#nowMs()) return { write: false, result: false };
      return { write: true, data: encodeLock({ o: null, t: v.t, e: 0, a: v.a, x: releaseId }), result: true };
    });
    return ok ? { ok: true } : notHolder(name, token);
  }

  async extend(name: string, token: number, ttlMs: number): Promise<LockOpResult> {
    checkName(name);
    checkTtl(ttlMs);
    if (!isToken(token)) return notHolder(name, token);
    const ok = await this.#change("extend", name, (cur) => {
      const v = decodeLock(cur);
      const now = this.#nowMs();
      // Extending twice (a retry) only restarts the lease again.
      if (!v || v.o !== this.ownerId || v.t !== token || v.e <= now) return { write: false, result: false };
      return { write: true, data: encodeLock({ ...v, e: now + ttlMs }), result: true };
    });
    return ok ? { ok: true } : notHolder(name, token);
  }

  async checkFence(name: string, token: number): Promise<boolean> {
    checkName(name);
    if (!isToken(token)) return false;
    return this.#change("check-fence", name, (cur) => {
      const v = decodeLock(cur);
      return { write: false, result: v !== null && v.o !== null && v.t === token && v.e > this.#nowMs() };
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#ownsClient) await this.#client.close?.();
  }

  /** Runs one change; a backend that cannot reach a majority rejects (the caller must assume it does not hold the lock). */
  async #change<R>(op: string, name: string, fn: (cur: RegisterState) => { write: boolean; data?: Uint8Array; result: R }): Promise<R> {
    if (this.#closed) throw new Error(`paxos lock ${this.ownerId} is closed`);
    const o: OpOutcome<R> = await this.#client.change(this.registerKey(name), (cur) => {
      const d = fn(cur);
      return d.write ? { write: true, data: d.data!, result: d.result } : { write: false, result: d.result };
    });
    if (!o.ok) throw new Error(`paxos lock ${op} ${name} failed: ${o.error}: ${o.message} (write applied: ${o.applied})`);
    return o.result;
  }
}

function isToken(token: number): boolean {
  return Number.isSafeInteger(token) && token >= 1;
}

function notHolder(name: string, token: number): LockOpResult {
  return { ok: false, error: LockFailure.NotHolder, message: `not the holder of lock ${name} with token ${String(token)} (released, expired or another owner's)` };
}
