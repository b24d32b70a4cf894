// Fenced resources: what makes a lock safe against a holder paused past its
// TTL (GC pause, VM freeze, SIGSTOP). The lock service cannot stop the
// zombie from writing; the resource can, if it keeps the highest fencing
// token it accepted next to its value (Kleppmann, "How to do distributed
// locking", 2016).
//
// Checking the token on the write alone is NOT enough for a
// read-modify-write. A lapsed holder A (token 5) reads v=10 and pauses; B
// (token 6) takes the lock and reads v=10; A wakes and writes 11 (accepted:
// nobody wrote a 6 yet); B writes 11 (accepted: 6 >= 5). Both increments
// "succeeded", one is lost. The safe rule is a fenced compare-and-set: the
// resource stores (value, version, highest token), and a write carries the
// version its writer read; it is accepted only if
//     token >= stored token  AND  expected version == stored version,
// checked and applied in one atomic step. In the run above A's write lands
// (version moves on) and B's is refused as a version conflict: B re-reads
// 11 and writes 12. A zombie whose read is older than a newer holder's write
// is refused by the token. Nothing accepted is lost.
//
// `judgeFencedWrite` is that rule; FencedKv (NATS KV, the CAS on the key's
// revision) and FencedRedis (one Lua script) apply it atomically. Both
// implement FencedStore, so code holding a lock writes through one contract.

/** What a fenced store holds under one key. */
export interface FencedEntry<V> {
  readonly value: V;
  /** Highest fencing token accepted for this key (the writer of `value`'s). */
  readonly token: number;
  /** Changes with every accepted write; the expected version of the next compare-and-set. */
  readonly version: number;
  /** Who wrote `value` (for operators; not part of the rule). */
  readonly writer: string;
}

export const FencedOutcome = {
  Ok: "ok",
  /** A newer holder wrote: the writer's lock is gone; it must stop. */
  StaleToken: "stale-token",
  /** Someone wrote since the writer read: read again, recompute, retry (if still the holder). */
  VersionConflict: "version-conflict",
} as const;
export type FencedOutcome = (typeof FencedOutcome)[keyof typeof FencedOutcome];

export type FencedCasResult =
  | { readonly ok: true; readonly version: number }
  /** `by`: the resource's stored token, or the lock service's fence check (highestToken 0: not known). */
  | { readonly ok: false; readonly error: typeof FencedOutcome.StaleToken; readonly highestToken: number; readonly by: "resource" | "lock-service" }
  | { readonly ok: false; readonly error: typeof FencedOutcome.VersionConflict; readonly version: number };

/** Version of a key that does not exist yet: the expected version of its first write. */
export const VERSION_ABSENT = 0;

/**
 * A resource written under a lock. `compareAndSet` is the safe
 * read-modify-write; `writeTokenOnly` is the token check alone, kept for
 * blind writes (a value that does not depend on what was there) and as the
 * measured counter-example (test/cloud/lock/fenced-rmw.test.ts).
 */
export interface FencedStore<V> {
  read(key: string): Promise<FencedEntry<V> | undefined>;
  compareAndSet(key: string, token: number, expectedVersion: number, writer: string, value: V): Promise<FencedCasResult>;
  writeTokenOnly(key: string, token: number, writer: string, value: V): Promise<FencedCasResult>;
}

/** The fencing rule alone: a token below the highest accepted one is stale (one holder may write many times). */
export function isStaleToken(token: number, highestToken: number): boolean {
  return token < highestToken;
}

/** The fenced compare-and-set rule, pure: what a store must do with this write, given what it holds. */
export function judgeFencedWrite(stored: { token: number; version: number } | undefined, token: number, expectedVersion: number): FencedOutcome {
  checkToken(token);
  if (stored && isStaleToken(token, stored.token)) return FencedOutcome.StaleToken;
  const version = stored ? stored.version : VERSION_ABSENT;
  return version === expectedVersion ? FencedOutcome.Ok : FencedOutcome.VersionConflict;
}

export function checkToken(token: number): void {
  if (!Number.isSafeInteger(token) || token < 1) throw new RangeError(`fencing token must be a positive integer, got ${token}`);
}

/** Bound on retries of one read-modify-write that keeps losing version races. */
export const FENCED_UPDATE_ATTEMPTS_MAX = 16;

export type FencedUpdateResult<V> =
  | { readonly ok: true; readonly value: V; readonly version: number; readonly attempts: number }
  | { readonly ok: false; readonly error: typeof FencedOutcome.StaleToken; readonly highestToken: number; readonly attempts: number };

/**
 * Read-modify-write through a fenced store: read, compute, compare-and-set;
 * on a version conflict read again and recompute (bounded). A stale token
 * ends it: the caller no longer holds the lock. Throws after
 * FENCED_UPDATE_ATTEMPTS_MAX conflicts in a row.
 */
export async function fencedUpdate<V>(
  store: FencedStore<V>, key: string, token: number, writer: string, f: (current: V | undefined) => V,
): Promise<FencedUpdateResult<V>> {
  for (let attempts = 1; attempts <= FENCED_UPDATE_ATTEMPTS_MAX; attempts++) {
    const cur = await store.read(key);
    const next = f(cur?.value);
    const r = await store.compareAndSet(key, token, cur ? cur.version : VERSION_ABSENT, writer, next);
    if (r.ok) return { ok: true, value: next, version: r.version, attempts };
    if (r.error === FencedOutcome.StaleToken) return { ok: false, error: r.error, highestToken: r.highestToken, attempts };
  }
  throw new Error(`fenced update of ${key}: ${FENCED_UPDATE_ATTEMPTS_MAX} version conflicts in a row`);
}
