// Contract of the distributed lock, implemented over a single Redis
// (redis-lock.ts), over the replicated control plane (control-plane-lock.ts)
// and over CASPaxos registers (paxos-lock.ts); all pass
// test/cloud/lock/conformance.ts.
//
// A lock is a lease, not a mutex: after ttlMs without extend() it is lost
// whether or not the holder noticed (GC pause, VM freeze, partition). Code
// that writes to a shared resource under the lock must pass the fencing
// token along, and the resource must apply the fenced compare-and-set
// (fence.ts: token >= the highest it stored AND the version the writer
// read), atomically with the write — a token check alone loses
// read-modify-writes. See README.md.

export interface AcquireOptions {
  /** Lease length; the holder must extend() before it runs out. */
  readonly ttlMs: number;
  /** Give up after this long; 0 = try once. */
  readonly timeoutMs: number;
}

export const LockFailure = {
  /** Not acquired within timeoutMs. */
  Timeout: "timeout",
  /** Not the live holder with this token: released, expired, or someone else's. */
  NotHolder: "not-holder",
} as const;
export type LockFailure = (typeof LockFailure)[keyof typeof LockFailure];

export interface HeldLock {
  readonly name: string;
  /** Fencing token: strictly larger than every earlier holder's token for this lock. */
  readonly token: number;
  readonly ttlMs: number;
  release(): Promise<LockOpResult>;
  /** Restarts the TTL (from now) with `ttlMs`, or the original TTL. */
  extend(ttlMs?: number): Promise<LockOpResult>;
}

export type AcquireResult =
  | { readonly ok: true; readonly lock: HeldLock; readonly attempts: number }
  | {
    readonly ok: false;
    readonly error: typeof LockFailure.Timeout;
    readonly attempts: number;
    readonly waitedMs: number;
    /** Who held the lock at the last attempt, when the backend says. */
    readonly holder?: string;
  };

export type LockOpResult = { readonly ok: true } | { readonly ok: false; readonly error: typeof LockFailure.NotHolder; readonly message: string };

/**
 * Expected outcomes are typed results; a backend that is unreachable or
 * broken rejects the promise (the caller cannot know whether it holds the
 * lock, so it must assume it does not).
 */
export interface DistributedLock {
  /** Identity of this client; locks it takes are released/extended only through it. */
  readonly ownerId: string;
  acquire(name: string, opts: AcquireOptions): Promise<AcquireResult>;
  release(name: string, token: number): Promise<LockOpResult>;
  extend(name: string, token: number, ttlMs: number): Promise<LockOpResult>;
  /** True only if `token` is the live holder's token of `name` right now. */
  checkFence(name: string, token: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Bounds shared by both backends (validated at every call: programming errors throw). */
export const LOCK_LIMITS = {
  nameBytesMax: 128,
  ttlMsMin: 1,
  ttlMsMax: 24 * 3600_000,
  timeoutMsMax: 24 * 3600_000,
} as const;

export function checkAcquireArgs(name: string, opts: AcquireOptions): void {
  checkName(name);
  checkTtl(opts.ttlMs);
  if (!Number.isSafeInteger(opts.timeoutMs) || opts.timeoutMs < 0 || opts.timeoutMs > LOCK_LIMITS.timeoutMsMax) {
    throw new RangeError(`lock timeoutMs must be an integer in 0..${LOCK_LIMITS.timeoutMsMax}, got ${opts.timeoutMs}`);
  }
}

export function checkName(name: string): void {
  if (typeof name !== "string" || !/^[\x21-\x7e]+$/.test(name) || name.length > LOCK_LIMITS.nameBytesMax) {
    throw new RangeError(`lock name must be 1..${LOCK_LIMITS.nameBytesMax} visible ASCII characters, got ${JSON.stringify(name)}`);
  }
}

export function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < LOCK_LIMITS.ttlMsMin || ttlMs > LOCK_LIMITS.ttlMsMax) {
    throw new RangeError(`lock ttlMs must be an integer in ${LOCK_LIMITS.ttlMsMin}..${LOCK_LIMITS.ttlMsMax}, got ${ttlMs}`);
  }
}
