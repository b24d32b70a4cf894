// The cache's contract: one interface, two backends (the ring of cache
// nodes, ring-client.ts; Redis, redis-client.ts), one conformance suite
// (test/cloud/cache/conformance.test.ts) for both.
//
// Values are bytes with a version (the source's revision, 0 = unversioned).
// A versioned set older than an acknowledged invalidation of the key is
// refused (store.ts), which is what makes "no stale read after an
// invalidation is acknowledged" hold across a concurrent read-through.
import { checkKey, type CachedValue } from "./store";

export type { CachedValue };

export interface SetOptions {
  ttlMs: number;
  /** The source revision the value was read at (default 0: unversioned). */
  version?: number;
}

/** What a read-through loader found in the source; null when the key does not exist there (not cached). */
export interface Loaded {
  value: Uint8Array;
  version: number;
}

export interface CacheClientStats {
  hits: number;
  misses: number;
  /** Reads that found no cache node answering (served by the loader). */
  unavailable: number;
  /** A replica did not answer in time and the next owner on the ring was asked. */
  failovers: number;
  /** Sets refused because the key was invalidated after the value was read. */
  staleRefused: number;
  /** Loads that took longer than loadMsMax: their value is returned but not cached. */
  slowLoads: number;
}

export interface CacheClient {
  /** The cached value, or null on a miss. Throws CacheUnavailable when no owner answers. */
  get(key: string): Promise<CachedValue | null>;
  /** True when stored (false: refused as stale, or too large). */
  set(key: string, value: Uint8Array, opts: SetOptions): Promise<boolean>;
  /**
   * Invalidates the key on its owners: the entry goes, and sets older than
   * `version` (every versioned set when 0) are refused for a while.
   * Resolves true once every owner acknowledged; only then does the
   * no-stale-read guarantee hold.
   */
  delete(key: string, version?: number): Promise<boolean>;
  /** A hit, or the loader's value (cached when it came back within loadMsMax); the loader also serves when no cache node answers. */
  readThrough(key: string, loader: () => Promise<Loaded | null>, ttlMs: number): Promise<Uint8Array | null>;
  readonly stats: CacheClientStats;
  close(): Promise<void>;
}

/** No cache node (or Redis) answered: the caller reads the source. */
export class CacheUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CacheUnavailable";
  }
}

export function emptyClientStats(): CacheClientStats {
  return { hits: 0, misses: 0, unavailable: 0, failovers: 0, staleRefused: 0, slowLoads: 0 };
}

/** Loads slower than this are not cached (they may have raced an invalidation whose tombstone has since expired). */
export const LOAD_MS_MAX_DEFAULT = 5_000;

/**
 * The read-through every backend shares: get, else load and set. Any
 * failure of the cache itself (no owner answering, a refused request, a
 * full pool) is counted and the source serves: the cache can make a read
 * faster, never fail it. Only the loader's own errors reach the caller.
 */
export async function readThroughWith(
  c: Pick<CacheClient, "get" | "set" | "stats">, key: string, loader: () => Promise<Loaded | null>, ttlMs: number,
  opts: { loadMsMax: number; nowMs: () => number },
): Promise<Uint8Array | null> {
  checkKey(key);
  let available = true;
  try {
    const hit = await c.get(key);
    if (hit) return hit.value;
  } catch (e) {
    // get counts CacheUnavailable itself; anything else is counted here.
    if (!(e instanceof CacheUnavailable)) c.stats.unavailable++;
    available = false;
  }
  const t0 = opts.nowMs();
  const loaded = await loader();
  if (loaded === null || !available) return loaded?.value ?? null;
  if (opts.nowMs() - t0 > opts.loadMsMax) {
    c.stats.slowLoads++;
    return loaded.value;
  }
  try {
    await c.set(key, loaded.value, { ttlMs, version: loaded.version });
  } catch (e) {
    if (!(e instanceof CacheUnavailable)) c.stats.unavailable++;
  }
  return loaded.value;
}
