// The cache on one cloud node: the client its reads use (ring or Redis,
// cache.backend) and, when the node runs the cache role, a cache node that
// serves its share of the ring and keeps it invalidated (KV watches).
//
// The ring comes from the cluster's SWIM view, which the orchestration role
// runs; the node hands it over with setMembership once that role started
// (until then the ring is empty and reads go to their source).
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Registry } from "prom-client";
import type { Logger } from "../base";
import { RedisPool } from "../lock";
import type { MembershipDriver } from "../membership";
import type { NatsPool } from "../nats";
import { registryBucket } from "../registry";
import { cacheStatsSubject } from "../subjects";
import { deviceStateBucket } from "../state";
import { KvInvalidationWatch } from "./invalidation";
import { CacheNamespace, inNamespace } from "./keys";
import { registerCacheMetrics } from "./metrics";
import { CacheNode } from "./node-server";
import { RedisCacheClient } from "./redis-client";
import { RingCacheClient } from "./ring-client";
import { CacheRingView, swimCacheMembers, type CacheMembers } from "./ring-view";
import { CacheBackend, type CacheSettings } from "./settings";
import { CacheStore } from "./store";
import type { CacheClient } from "./types";

export interface CacheServiceOptions {
  nodeId: string;
  settings: CacheSettings;
  /** The node's pool: the cache node serves on all of it, the ring client's requests go through `use`. */
  pool: NatsPool;
  /** The node's main connection (KV watches). */
  nc: NatsConnection;
  /** Run a cache node here (the node has the cache role). */
  serve: boolean;
  /** Also watch the registry bucket (registry backend kv). */
  watchRegistryKv: boolean;
  log: Logger;
}

export interface CacheServiceStats {
  backend: CacheBackend;
  ringNodes: number;
  hits: number;
  misses: number;
  unavailable: number;
  failovers: number;
  entries: number;
  evictions: number;
}

/** The fleet-wide view `up` shows: counters summed over the nodes that answered. */
export interface CacheSummary {
  nodes: number;
  hits: number;
  misses: number;
  /** hits / (hits + misses), null before any read. */
  hitRate: number | null;
  entries: number;
  evictions: number;
  failovers: number;
}

/** Sums the nodes' replies on cacheStatsSubject (malformed replies are skipped). */
export function summarizeCacheStats(replies: readonly unknown[]): CacheSummary {
  const out = { nodes: 0, hits: 0, misses: 0, entries: 0, evictions: 0, failovers: 0 };
  const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);
  for (const r of replies) {
    if (typeof r !== "object" || r === null) continue;
    const o = r as Record<string, unknown>;
    out.nodes++;
    out.hits += num(o.hits);
    out.misses += num(o.misses);
    out.entries += num(o.entries);
    out.evictions += num(o.evictions);
    out.failovers += num(o.failovers);
  }
  const reads = out.hits + out.misses;
  return { ...out, hitRate: reads === 0 ? null : out.hits / reads };
}

export interface CacheService {
  /** Null when cache.backend is off. */
  readonly client: CacheClient | null;
  readonly node: CacheNode | null;
  readonly view: CacheRingView | null;
  /** The node's invalidation watches (empty when it does not serve). */
  readonly watches: readonly KvInvalidationWatch[];
  setMembership(m: Pick<MembershipDriver, "members" | "onStatus">): void;
  stats(): CacheServiceStats;
  registerMetrics(registry: Registry): void;
  stop(): Promise<void>;
}

export async function startCacheService(o: CacheServiceOptions): Promise<CacheService> {
  const s = o.settings;
  let members: CacheMembers | null = null;
  let offStatus: (() => void) | null = null;
  // Polled by the view; membership events also refresh it at once (setMembership).
  const late: CacheMembers = { cacheNodes: () => members?.cacheNodes() ?? [] };
  const view = s.backend === CacheBackend.Ring || o.serve ? new CacheRingView({ members: late, vnodes: s.vnodes, rf: s.replicationFactor }).start() : null;
  let observe: ((op: string, outcome: string, seconds: number) => void) | null = null;

  let node: CacheNode | null = null;
  const watches: KvInvalidationWatch[] = [];
  if (o.serve) {
    const store = new CacheStore({ entriesMax: s.entriesMax, bytesMax: s.bytesMax, tombstoneTtlMs: Math.max(30_000, s.ttlMs) });
    const live = new Map<CacheNamespace, () => boolean>();
    node = new CacheNode({
      conns: o.pool.all(), nodeId: o.nodeId, store, view,
      // Values of a namespace whose watch is not live could miss an invalidation: not stored.
      accepts: (key) => [...live].every(([ns, isLive]) => !inNamespace(ns, key) || isLive()),
    }).start();
    await node.ready();
    const watch = (bucket: string, namespace: CacheNamespace): void => {
      const w = new KvInvalidationWatch({
        nc: o.nc, bucket, namespace, log: o.log,
        invalidate: (key, revision) => store.invalidate(key, revision, Date.now()),
        purgeNamespace: (ns) => store.purge((k) => !inNamespace(ns, k)),
      }).start();
      live.set(namespace, () => w.live);
      watches.push(w);
    };
    watch(deviceStateBucket, CacheNamespace.DeviceState);
    if (o.watchRegistryKv) watch(registryBucket, CacheNamespace.Registry);
  }

  let statsSub: Subscription | null = null;

  let redis: RedisPool | null = null;
  let client: CacheClient | null = null;
  if (s.backend === CacheBackend.Ring) {
    client = new RingCacheClient({
      send: (f) => o.pool.use(f), view: view!, timeoutMs: s.timeoutMs,
      onRequest: (op, outcome, seconds) => observe?.(op, outcome, seconds),
    });
  } else if (s.backend === CacheBackend.Redis) {
    redis = await RedisPool.open({ host: s.redis.host, port: s.redis.port, name: `xsfleet-cache-${o.nodeId}` }, s.redis.poolSize);
    client = new RedisCacheClient({ pool: redis, keyPrefix: s.redis.keyPrefix });
  }
  const stats = (): CacheServiceStats => ({
    backend: s.backend, ringNodes: view?.ring.size ?? 0,
    hits: client?.stats.hits ?? 0, misses: client?.stats.misses ?? 0, unavailable: client?.stats.unavailable ?? 0, failovers: client?.stats.failovers ?? 0,
    entries: node?.store.entries ?? 0, evictions: node?.store.stats.evictions ?? 0,
  });
  if (o.serve) {
    statsSub = o.nc.subscribe(cacheStatsSubject, { callback: (err, m) => { if (!err) m.respond(JSON.stringify(stats())); } });
  }
  o.log.info("cache", { backend: s.backend, serving: o.serve, vnodes: s.vnodes, rf: s.replicationFactor, pool: o.pool.size });

  return {
    client, node, view, watches,
    setMembership: (m) => {
      members = swimCacheMembers(m);
      offStatus?.();
      offStatus = members.onChange?.(() => view?.refresh()) ?? null;
      view?.refresh();
    },
    stats,
    registerMetrics: (registry) => {
      observe = registerCacheMetrics(registry, {
        client: () => client?.stats ?? null,
        store: () => (node ? { stats: node.store.stats, entries: node.store.entries, bytes: node.store.bytes } : null),
        ringNodes: () => view?.ring.size ?? 0,
      });
    },
    stop: async () => {
      offStatus?.();
      statsSub?.unsubscribe();
      for (const w of watches) w.stop();
      node?.stop();
      view?.stop();
      await client?.close();
      await redis?.close();
    },
  };
}
