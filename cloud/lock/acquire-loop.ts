// Acquire-with-timeout as a client-side loop over a non-blocking try. The
// backends only ever "try" (the control plane's tryAcquire is a
// deterministic command; Redis SET NX never waits), so waiting, backoff and
// giving up live here, once, for both.
//
// Backoff: exponential from retryMinMs to retryMaxMs with full jitter (so
// many waiters do not retry in lockstep), but never sleeping past the
// holder's expiry hint or the deadline. One last try is made at the
// deadline, so timeoutMs = 0 means "try exactly once".

import type { HeldLock, LockOpResult } from "./types";

export type TryOutcome<T> =
  | { readonly ok: true; readonly value: T }
  /** Held by someone else; `retryAfterMs` is a hint (time until the holder's expiry). */
  | { readonly ok: false; readonly retryAfterMs?: number };

export interface RetryOptions {
  readonly timeoutMs: number;
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** Injected for tests; defaults to Date.now / setTimeout / Math.random. */
  readonly nowMs?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export type RetryResult<T> =
  | { readonly ok: true; readonly value: T; readonly attempts: number }
  | { readonly ok: false; readonly attempts: number; readonly waitedMs: number };

/** Hard cap on attempts, whatever the timeout: a loop must end. */
export const ATTEMPTS_MAX = 1_000_000;

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function retryUntil<T>(tryOnce: () => Promise<TryOutcome<T>>, opts: RetryOptions): Promise<RetryResult<T>> {
  const nowMs = opts.nowMs ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const retryMinMs = opts.retryMinMs ?? 5;
  const retryMaxMs = opts.retryMaxMs ?? 250;
  if (!(retryMinMs >= 1 && retryMaxMs >= retryMinMs)) throw new RangeError(`retry bounds must satisfy 1 <= retryMinMs <= retryMaxMs, got ${retryMinMs}..${retryMaxMs}`);
  const startMs = nowMs();
  const deadlineMs = startMs + opts.timeoutMs;
  let backoffMs = retryMinMs;
  for (let attempts = 1; attempts <= ATTEMPTS_MAX; attempts++) {
    const outcome = await tryOnce();
    if (outcome.ok) return { ok: true, value: outcome.value, attempts };
    const leftMs = deadlineMs - nowMs();
    if (leftMs <= 0) return { ok: false, attempts, waitedMs: nowMs() - startMs };
    // Full jitter over [retryMinMs, backoff], capped by the hint and the deadline.
    let waitMs = retryMinMs + Math.floor(random() * (backoffMs - retryMinMs + 1));
    if (outcome.retryAfterMs !== undefined && outcome.retryAfterMs >= 0) waitMs = Math.min(waitMs, Math.max(retryMinMs, outcome.retryAfterMs));
    await sleep(Math.min(waitMs, leftMs));
    backoffMs = Math.min(retryMaxMs, backoffMs * 2);
  }
  return { ok: false, attempts: ATTEMPTS_MAX, waitedMs: nowMs() - startMs };
}

/** The handle both backends return: release/extend bound to name and token. */
export function makeHeldLock(
  lock: { release(name: string, token: number): Promise<LockOpResult>; extend(name: string, token: number, ttlMs: number): Promise<LockOpResult> },
  name: string,
  token: number,
  ttlMs: number,
): HeldLock {
  return {
    name,
    token,
    ttlMs,
    release: () => lock.release(name, token),
    extend: (extendMs?: number) => lock.extend(name, token, extendMs ?? ttlMs),
  };
}
