// The Redis backend of CacheClient, for deployments that already run Redis
// (or want the cache outside the cloud nodes): one Redis (its own
// replication is Redis's business), connections from the lock's RedisPool
// (fail fast while Redis is away: CacheUnavailable, the caller reads the
// source). Same semantics as the ring, checked by the same conformance
// suite: a value is a hash {d: bytes, v: version} with PEXPIRE; an
// invalidation deletes it and writes a tombstone `<prefix>t:<key>` holding
// the version (PX tombstoneTtlMs); a set runs as one Lua script that
// refuses a version below the tombstone's or below the stored one.
import type { Redis } from "ioredis";
import { luaScript, runScript, type RedisPool } from "../lock";
import { checkKey, defaultCacheStoreLimits } from "./store";
import {
  CacheUnavailable, LOAD_MS_MAX_DEFAULT, emptyClientStats, readThroughWith,
  type CacheClient, type CacheClientStats, type CachedValue, type Loaded, type SetOptions,
} from "./types";

// KEYS[1] value hash, KEYS[2] tombstone; ARGV value, version, ttlMs. Returns 1 stored, 0 stale.
const setScript = luaScript(`
local v = tonumber(ARGV[2])
if v > 0 then
  local t = redis.call('GET', KEYS[2])
  if t and v < tonumber(t) then return 0 end
  local cur = redis.call('HGET', KEYS[1], 'v')
  if cur and tonumber(cur) > v then return 0 end
end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'v', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`);

// KEYS[1] value hash, KEYS[2] tombstone; ARGV version (0: refuse every versioned set), tombstone ttl.
const invalidateScript = luaScript(`
redis.call('DEL', KEYS[1])
local v = tonumber(ARGV[1])
if v == 0 then v = 9007199254740991 end
local t = redis.call('GET', KEYS[2])
if t and tonumber(t) > v then v = tonumber(t) end
redis.call('SET', KEYS[2], string.format('%d', v), 'PX', ARGV[2])
return 1`);

export interface RedisCacheClientOptions {
  pool: RedisPool;
  /** Prefix of every key (several stacks can share one Redis). */
  keyPrefix: string;
  tombstoneTtlMs?: number;
  valueBytesMax?: number;
  loadMsMax?: number;
  nowMs?: () => number;
}

export class RedisCacheClient implements CacheClient {
  readonly stats: CacheClientStats = emptyClientStats();
  readonly #o: RedisCacheClientOptions;

  constructor(o: RedisCacheClientOptions) {
    if (!/^[A-Za-z0-9_:.-]{1,64}$/.test(o.keyPrefix)) throw new Error(`cache key prefix must match [A-Za-z0-9_:.-]{1,64}, got ${JSON.stringify(o.keyPrefix)}`);
    this.#o = o;
  }

  async get(key: string): Promise<CachedValue | null> {
    checkKey(key);
    const r = await this.#run((c) => c.hgetallBuffer(this.#valueKey(key)));
    const d = r.d;
    const v = r.v;
    if (!d || !v) {
      this.stats.misses++;
      return null;
    }
    this.stats.hits++;
    return { value: new Uint8Array(d), version: Number(v.toString()) };
  }

  async set(key: string, value: Uint8Array, opts: SetOptions): Promise<boolean> {
    checkKey(key);
    if (value.byteLength > (this.#o.valueBytesMax ?? defaultCacheStoreLimits.valueBytesMax)) return false;
    if (!Number.isSafeInteger(opts.ttlMs) || opts.ttlMs < 1) throw new Error(`ttlMs must be a positive integer, got ${opts.ttlMs}`);
    const version = opts.version ?? 0;
    const r = await this.#run((c) => runScript(c, setScript, [this.#valueKey(key), this.#tombKey(key)], [Buffer.from(value), String(version), String(opts.ttlMs)]));
    if (r === 1) return true;
    this.stats.staleRefused++;
    return false;
  }

  async delete(key: string, version = 0): Promise<boolean> {
    checkKey(key);
    const ttl = this.#o.tombstoneTtlMs ?? defaultCacheStoreLimits.tombstoneTtlMs;
    await this.#run((c) => runScript(c, invalidateScript, [this.#valueKey(key), this.#tombKey(key)], [String(version), String(ttl)]));
    return true;
  }

  readThrough(key: string, loader: () => Promise<Loaded | null>, ttlMs: number): Promise<Uint8Array | null> {
    return readThroughWith(this, key, loader, ttlMs, { loadMsMax: this.#o.loadMsMax ?? LOAD_MS_MAX_DEFAULT, nowMs: this.#o.nowMs ?? Date.now });
  }

  async close(): Promise<void> {
    // The pool belongs to the caller.
  }

  #valueKey(key: string): string {
    return `${this.#o.keyPrefix}v:${key}`;
  }

  #tombKey(key: string): string {
    return `${this.#o.keyPrefix}t:${key}`;
  }

  async #run<T>(f: (c: Redis) => Promise<T>): Promise<T> {
    try {
      return await f(this.#o.pool.get());
    } catch (e) {
      const m = e instanceof Error ? e.message : String(e);
      // Connection-level failures mean "no cache", not a bug: the caller reads the source.
      if (/closed|connect|ECONN|timed out|Stream isn't writeable|offline|EPIPE/i.test(m)) {
        this.stats.unavailable++;
        throw new CacheUnavailable(`Redis cache unavailable: ${m}`);
      }
      throw e;
    }
  }
}
