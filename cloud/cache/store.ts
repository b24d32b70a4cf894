// The memory of one cache node: a TTL store with bounded memory and LRU
// eviction, plus the versions that make invalidation safe. Pure: time is an
// explicit argument, no timers (expired entries go when touched or evicted).
//
// Bounds: at most entriesMax entries and bytesMax bytes (key + value
// bytes); inserting past either evicts the least recently used entries,
// each counted in `evictions`. A value larger than valueBytesMax is refused
// (counted), never stored.
//
// Versions: a value may carry a version (the source's revision: a KV
// revision, a registry record revision). invalidate(key, version) drops the
// entry and leaves a tombstone: until it expires (tombstoneTtlMs), a set of
// that key with a version below the tombstone's is refused as stale. This
// closes the read-through race (a loader read revision r-1 from the source,
// the change to r was invalidated, then the loader's late set of r-1
// arrives). Tombstones are bounded too (tombstonesMax); one evicted early
// would reopen that race, so while any tombstone younger than its TTL has
// been evicted, every versioned set is refused (counted as staleRefused) —
// fewer hits, never a stale one.

export interface CacheStoreLimits {
  entriesMax: number;
  bytesMax: number;
  valueBytesMax: number;
  tombstonesMax: number;
  tombstoneTtlMs: number;
  ttlMsMax: number;
}

export const defaultCacheStoreLimits: Readonly<CacheStoreLimits> = Object.freeze({
  entriesMax: 100_000,
  bytesMax: 64 * 1024 * 1024,
  valueBytesMax: 1024 * 1024,
  tombstonesMax: 100_000,
  tombstoneTtlMs: 30_000,
  ttlMsMax: 24 * 3600_000,
});

/** Keys are short printable strings (device ids with a namespace). */
export const KEY_BYTES_MAX = 256;

export interface CachedValue {
  readonly value: Uint8Array;
  /** The source revision the value was read at; 0 when unversioned. */
  readonly version: number;
}

interface Entry extends CachedValue {
  readonly expiresAtMs: number;
  readonly bytes: number;
}

export interface CacheStoreStats {
  hits: number;
  misses: number;
  sets: number;
  evictions: number;
  expired: number;
  invalidations: number;
  staleRefused: number;
  tooLarge: number;
  purged: number;
}

export const SetOutcome = Object.freeze({ Stored: "stored", Stale: "stale", TooLarge: "too_large" } as const);
export type SetOutcome = (typeof SetOutcome)[keyof typeof SetOutcome];

export function checkKey(key: unknown): string {
  if (typeof key !== "string" || key.length === 0 || Buffer.byteLength(key) > KEY_BYTES_MAX || /[\s]/.test(key)) {
    throw new Error(`cache key must be 1..${KEY_BYTES_MAX} bytes without whitespace, got ${JSON.stringify(key)?.slice(0, 80)}`);
  }
  return key;
}

export class CacheStore {
  readonly limits: CacheStoreLimits;
  /** Insertion order = recency order (a hit re-inserts): the first key is the least recently used. */
  readonly #entries = new Map<string, Entry>();
  /** key → { version, atMs }; insertion order = age. Invariant: size <= tombstonesMax. */
  readonly #tombstones = new Map<string, { version: number; atMs: number }>();
  #bytes = 0;
  /** Versioned sets are refused until then (a young tombstone was evicted). */
  #refuseVersionedUntilMs = -Infinity;
  readonly stats: CacheStoreStats = { hits: 0, misses: 0, sets: 0, evictions: 0, expired: 0, invalidations: 0, staleRefused: 0, tooLarge: 0, purged: 0 };

  constructor(limits: Partial<CacheStoreLimits> = {}) {
    this.limits = { ...defaultCacheStoreLimits, ...limits };
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(v) || v < 1) throw new Error(`cache store limit ${k} must be a positive integer, got ${v}`);
    }
  }

  get entries(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get tombstones(): number {
    return this.#tombstones.size;
  }

  get(key: string, nowMs: number): CachedValue | null {
    const e = this.#entries.get(key);
    if (!e) {
      this.stats.misses++;
      return null;
    }
    if (e.expiresAtMs <= nowMs) {
      this.#drop(key, e);
      this.stats.expired++;
      this.stats.misses++;
      return null;
    }
    // Most recently used goes last.
    this.#entries.delete(key);
    this.#entries.set(key, e);
    this.stats.hits++;
    return { value: e.value, version: e.version };
  }

  set(key: string, value: Uint8Array, ttlMs: number, nowMs: number, version = 0): SetOutcome {
    checkKey(key);
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1 || ttlMs > this.limits.ttlMsMax) throw new Error(`ttlMs must be 1..${this.limits.ttlMsMax}, got ${ttlMs}`);
    if (!Number.isSafeInteger(version) || version < 0) throw new Error(`version must be a non-negative integer, got ${version}`);
    const bytes = Buffer.byteLength(key) + value.byteLength;
    if (value.byteLength > this.limits.valueBytesMax || bytes > this.limits.bytesMax) {
      this.stats.tooLarge++;
      return SetOutcome.TooLarge;
    }
    if (version > 0 && this.#isStale(key, version, nowMs)) {
      this.stats.staleRefused++;
      return SetOutcome.Stale;
    }
    const old = this.#entries.get(key);
    // A newer value already here wins over a late, older one.
    if (old && old.expiresAtMs > nowMs && version > 0 && old.version > version) {
      this.stats.staleRefused++;
      return SetOutcome.Stale;
    }
    if (old) this.#drop(key, old);
    // Copy: the caller's buffer may be a view into a reused socket buffer.
    const e: Entry = { value: Uint8Array.from(value), version, expiresAtMs: nowMs + ttlMs, bytes };
    this.#entries.set(key, e);
    this.#bytes += bytes;
    this.stats.sets++;
    this.#evictOver(nowMs);
    return SetOutcome.Stored;
  }

  /** Drops the key; true when an entry was there. */
  delete(key: string): boolean {
    const e = this.#entries.get(key);
    if (!e) return false;
    this.#drop(key, e);
    return true;
  }

  /** Drops the key and refuses sets older than `version` for tombstoneTtlMs (0: any versioned set). */
  invalidate(key: string, version: number, nowMs: number): void {
    checkKey(key);
    if (!Number.isSafeInteger(version) || version < 0) throw new Error(`version must be a non-negative integer, got ${version}`);
    this.delete(key);
    this.stats.invalidations++;
    const prev = this.#tombstones.get(key);
    this.#tombstones.delete(key);
    // Version 0 (the source cannot say): every versioned set until the tombstone expires is refused.
    const v = version === 0 ? Number.MAX_SAFE_INTEGER : Math.max(version, prev?.version ?? 0);
    this.#tombstones.set(key, { version: v, atMs: nowMs });
    while (this.#tombstones.size > this.limits.tombstonesMax) {
      const [oldestKey, oldest] = this.#tombstones.entries().next().value as [string, { version: number; atMs: number }];
      this.#tombstones.delete(oldestKey);
      if (oldest.atMs + this.limits.tombstoneTtlMs > nowMs) {
        this.#refuseVersionedUntilMs = Math.max(this.#refuseVersionedUntilMs, oldest.atMs + this.limits.tombstoneTtlMs);
      }
    }
  }

  /** Drops every entry for which `keep` is false (a node purges keys it no longer owns); the count. */
  purge(keep: (key: string) => boolean): number {
    let n = 0;
    for (const [k, e] of this.#entries) {
      if (!keep(k)) {
        this.#drop(k, e);
        n++;
      }
    }
    this.stats.purged += n;
    return n;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  #isStale(key: string, version: number, nowMs: number): boolean {
    if (nowMs < this.#refuseVersionedUntilMs) return true;
    const t = this.#tombstones.get(key);
    if (!t) return false;
    if (t.atMs + this.limits.tombstoneTtlMs <= nowMs) {
      this.#tombstones.delete(key);
      return false;
    }
    return version < t.version;
  }

  #drop(key: string, e: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= e.bytes;
  }

  #evictOver(nowMs: number): void {
    while (this.#entries.size > this.limits.entriesMax || this.#bytes > this.limits.bytesMax) {
      const [k, e] = this.#entries.entries().next().value as [string, Entry];
      this.#drop(k, e);
      if (e.expiresAtMs <= nowMs) this.stats.expired++;
      else this.stats.evictions++;
    }
  }
}
