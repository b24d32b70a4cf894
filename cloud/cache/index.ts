// Public entry of the distributed cache (docs/data-plane.md "Cache"): a
// consistent-hash ring with virtual nodes and a replication factor over the
// cloud nodes that run the cache role, a bounded TTL store per node,
// invalidation from KV watches, and one CacheClient interface with two
// backends (the ring; Redis).
export { HashRing, hash32 } from "./ring";
export { CacheStore, SetOutcome, type CacheStoreLimits, type CacheStoreStats } from "./store";
export { CacheRingView, fixedCacheMembers, type CacheMembers } from "./ring-view";
export { CacheNode, type CacheNodeOptions, type CacheNodeStats } from "./node-server";
export { RingCacheClient, type RingCacheClientOptions } from "./ring-client";
export { RedisCacheClient, type RedisCacheClientOptions } from "./redis-client";
export { KvInvalidationWatch } from "./invalidation";
export { CacheNamespace, cacheKey } from "./keys";
export { cachedDeviceState, CachedRegistry } from "./read-side";
export { CacheBackend, defaultCacheSettings, readCacheSettings, type CacheSettings } from "./settings";
export { startCacheService, summarizeCacheStats, type CacheService, type CacheServiceStats, type CacheSummary } from "./service";
export { CacheUnavailable, type CacheClient, type CacheClientStats, type CachedValue, type Loaded, type SetOptions } from "./types";
