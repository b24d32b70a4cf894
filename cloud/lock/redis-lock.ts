// DistributedLock on a single Redis instance: SET key value NX PX ttl to
// take it, compare-and-delete / compare-and-extend Lua scripts to release
// and extend it, and a fencing token from INCR of a per-lock counter key.
//
// Acquire is one Lua script (check, INCR, SET NX PX) rather than separate
// commands: with INCR outside, two clients could draw tokens 5 and 6, the
// holder of 6 could win first, and the holder of 5 win later, so tokens
// would not increase across holders. Inside a script the counter moves only
// when the lock is granted, in grant order.
//
// The value stored is "<ownerId>|<token>": release/extend succeed only for
// the same owner and the same grant.
//
// Limits of a single-instance Redis lock (Kleppmann, "How to do distributed
// locking", 2016), which the control-plane lock does not share:
// - Single point of failure: if Redis is down, nobody can take the lock.
// - No persistence here (the test and dev setups run --save "" and
//   --appendonly no): after a Redis restart the lock is free AND the
//   counter restarts at 1, so fencing tokens go backwards; a resource that
//   remembers a higher token then rejects every new holder until an
//   operator intervenes. With AOF (appendfsync always) the counter
//   survives; with a failover to an asynchronous replica, neither the lock
//   nor the counter is safe.
// - TTLs run on Redis's clock; a jump of that clock (or a holder that
//   pauses longer than the TTL) ends the lease early from the holder's point
//   of view. Only fencing (fence.ts / checkFence) protects the resource.
// - A reply lost on the wire leaves the caller not knowing whether it holds
//   the lock; it then holds it, unknowingly, until the TTL.
// - Counter keys (one per lock name) never expire: lock names should come
//   from a bounded set.

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { makeHeldLock, retryUntil, type RetryOptions } from "./acquire-loop";
import type { RedisPool } from "./redis-pool";
import { integerPair, luaScript as script, runScript } from "./redis-script";
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

/** KEYS: lock, counter. ARGV: owner, ttlMs. Returns {1, token} or {0, pttl of the holder}. */
const ACQUIRE = script(`
local pttl = redis.call('PTTL', KEYS[1])
if pttl ~= -2 then return {0, pttl} end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'NX', 'PX', ARGV[2])
return {1, token}
`);

/** KEYS: lock. ARGV: value. Compare-and-delete. */
const RELEASE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** KEYS: lock. ARGV: value, ttlMs. Compare-and-extend. */
const EXTEND = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

export interface RedisLockOptions {
  readonly pool: RedisPool;
  /** Prepended to every key; one per deployment (and per test run). */
  readonly keyPrefix: string;
  /** Holder identity; defaults to host:pid:uuid. Visible ASCII without "|", <= 128 bytes. */
  readonly ownerId?: string;
  readonly retry?: Omit<RetryOptions, "timeoutMs">;
}

export class RedisLock implements DistributedLock {
  readonly ownerId: string;
  readonly #pool: RedisPool;
  readonly #prefix: string;
  readonly #retry: Omit<RetryOptions, "timeoutMs">;

  constructor(opts: RedisLockOptions) {
    this.ownerId = opts.ownerId ?? `${hostname()}:${process.pid}:${randomUUID()}`;
    checkName(this.ownerId);
    if (this.ownerId.includes("|")) throw new RangeError(`Redis lock ownerId must not contain "|": ${this.ownerId}`);
    this.#pool = opts.pool;
    this.#prefix = opts.keyPrefix;
    this.#retry = opts.retry ?? {};
  }

  /** The hash tag keeps both keys of a lock in one Redis Cluster slot (scripts need that). */
  lockKey(name: string): string {
    return `${this.#prefix}lock:{${name}}`;
  }

  counterKey(name: string): string {
    return `${this.#prefix}lock:{${name}}:fence`;
  }

  async acquire(name: string, opts: AcquireOptions): Promise<AcquireResult> {
    checkAcquireArgs(name, opts);
    const outcome = await retryUntil<number>(async () => {
      const reply = await runScript(this.#pool.get(), ACQUIRE, [this.lockKey(name), this.counterKey(name)], [this.ownerId, String(opts.ttlMs)]);
      const [granted, n] = parsePair(reply);
      if (granted === 1) return { ok: true as const, value: n };
      return n >= 0 ? { ok: false as const, retryAfterMs: n } : { ok: false as const };
    }, { ...this.#retry, timeoutMs: opts.timeoutMs });
    if (!outcome.ok) return { ok: false, error: LockFailure.Timeout, attempts: outcome.attempts, waitedMs: outcome.waitedMs };
    return { ok: true, lock: makeHeldLock(this, name, outcome.value, opts.ttlMs), attempts: outcome.attempts };
  }

  async release(name: string, token: number): Promise<LockOpResult> {
    checkName(name);
    const reply = await runScript(this.#pool.get(), RELEASE, [this.lockKey(name)], [this.#value(token)]);
    return reply === 1 ? { ok: true } : notHolder(name, token);
  }

  async extend(name: string, token: number, ttlMs: number): Promise<LockOpResult> {
    checkName(name);
    checkTtl(ttlMs);
    const reply = await runScript(this.#pool.get(), EXTEND, [this.lockKey(name)], [this.#value(token), String(ttlMs)]);
    return reply === 1 ? { ok: true } : notHolder(name, token);
  }

  async checkFence(name: string, token: number): Promise<boolean> {
    checkName(name);
    const value = await this.#pool.get().get(this.lockKey(name));
    if (value === null) return false;
    const bar = value.lastIndexOf("|");
    return bar >= 0 && value.slice(bar + 1) === String(token);
  }

  /** The pool belongs to the caller (it may serve other users); nothing to close here. */
  async close(): Promise<void> {}

  #value(token: number): string {
    return `${this.ownerId}|${String(token)}`;
  }
}

function notHolder(name: string, token: number): LockOpResult {
  return { ok: false, error: LockFailure.NotHolder, message: `not the holder of lock ${name} with token ${token} (released, expired or another owner's)` };
}

function parsePair(reply: unknown): [number, number] {
  const pair = integerPair(reply, "acquire");
  if (pair[0] === 1 && (!Number.isSafeInteger(pair[1]) || pair[1] < 1)) throw new Error(`Redis fencing counter out of range: ${pair[1]}`);
  return pair;
}
