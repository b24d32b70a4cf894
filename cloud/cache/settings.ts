// Settings of the cache (config file section `cache`, flag --cache-backend):
// the ring's shape, the store's bounds, and which backend the node's reads
// use (the ring of cache-role nodes, or one Redis).
import type { SettingsReader } from "../base";
import { readRedisSection, type RedisSection } from "../lock";
import { VNODES_MAX } from "./ring";
import { REPLICATION_FACTOR_MAX } from "./ring-view";

export const CacheBackend = Object.freeze({
  /** The ring of cloud nodes running the cache role. */
  Ring: "ring",
  /** One Redis (cache.redis.host). */
  Redis: "redis",
  /** No cache: reads go to their source. */
  Off: "off",
} as const);
export type CacheBackend = (typeof CacheBackend)[keyof typeof CacheBackend];
const cacheBackends: readonly CacheBackend[] = Object.freeze(Object.values(CacheBackend));

export interface CacheSettings {
  backend: CacheBackend;
  vnodes: number;
  replicationFactor: number;
  /** TTL of cached values: the bound on staleness if an invalidation were ever lost. */
  ttlMs: number;
  /** How long one owner gets to answer before a read fails over to the next. */
  timeoutMs: number;
  entriesMax: number;
  bytesMax: number;
  /** NATS connections of the node's cache pool (serving and requests); 1 by default: a pool of 4 measured slower on 2 cores (docs/data-plane.md "Pools"). */
  poolSize: number;
  redis: RedisSection;
}

export function defaultCacheSettings(): CacheSettings {
  return {
    backend: CacheBackend.Ring, vnodes: 128, replicationFactor: 2, ttlMs: 60_000, timeoutMs: 250,
    entriesMax: 100_000, bytesMax: 64 * 1024 * 1024, poolSize: 1,
    redis: { host: "", port: 6379, poolSize: 4, keyPrefix: "xsfleet:cache:" },
  };
}

/** The `cache` section; problems go to the reader. */
export function readCacheSettings(c: SettingsReader, raw: Record<string, unknown>): CacheSettings {
  const d = defaultCacheSettings();
  const backend = c.str("cache.backend", raw.backend, d.backend);
  if (!(cacheBackends as readonly string[]).includes(backend)) c.fail("cache.backend", `must be one of ${cacheBackends.join(", ")}, got ${JSON.stringify(backend)}`);
  const redis = readRedisSection(c, "cache", raw.redis, d.redis);
  if (backend === CacheBackend.Redis && redis.host === "") c.fail("cache.redis.host", "is required with cache.backend redis");
  return {
    backend: backend as CacheBackend,
    vnodes: c.int("cache.vnodes", raw.vnodes, d.vnodes, 1, VNODES_MAX),
    replicationFactor: c.int("cache.replicationFactor", raw.replicationFactor, d.replicationFactor, 1, REPLICATION_FACTOR_MAX),
    ttlMs: c.int("cache.ttlMs", raw.ttlMs, d.ttlMs, 100, 24 * 3600_000),
    timeoutMs: c.int("cache.timeoutMs", raw.timeoutMs, d.timeoutMs, 10, 10_000),
    entriesMax: c.int("cache.entriesMax", raw.entriesMax, d.entriesMax, 1, 10_000_000),
    bytesMax: c.int("cache.bytesMax", raw.bytesMax, d.bytesMax, 1024, 16 * 1024 * 1024 * 1024),
    poolSize: c.int("cache.poolSize", raw.poolSize, d.poolSize, 1, 16),
    redis,
  };
}
