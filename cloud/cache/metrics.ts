// Prometheus view of the cache (docs/observability.md): the reads of this
// node's clients (hits, misses, failovers, no cache node answering), the
// node's store (entries, bytes, evictions) and the request time of every
// cache request this node made. Counters are read at scrape time; the
// histogram is fed by the client's onRequest hook.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { CacheStoreStats } from "./store";
import type { CacheClientStats } from "./types";

export interface CacheMetricsSources {
  client: () => CacheClientStats | null;
  store: () => { stats: CacheStoreStats; entries: number; bytes: number } | null;
  ringNodes: () => number;
}

function counter(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(read() ?? 0); } });
}

function gauge(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Gauge({ name, help, registers: [registry], collect() { this.set(read() ?? 0); } });
}

/** Registers the collectors; returns the request-time observer for the client. */
export function registerCacheMetrics(registry: Registry, s: CacheMetricsSources): (op: string, outcome: string, seconds: number) => void {
  counter(registry, "xsfleet_cache_hits_total", "Cache reads of this node answered from the cache", () => s.client()?.hits);
  counter(registry, "xsfleet_cache_misses_total", "Cache reads of this node that missed (loaded from the source)", () => s.client()?.misses);
  counter(registry, "xsfleet_cache_failovers_total", "Cache reads that moved on to the next owner on the ring after one did not answer", () => s.client()?.failovers);
  counter(registry, "xsfleet_cache_unavailable_total", "Cache operations no owner answered (the source served)", () => s.client()?.unavailable);
  counter(registry, "xsfleet_cache_stale_refused_total", "Cache sets refused because the key was invalidated after the value was read", () => s.client()?.staleRefused);
  counter(registry, "xsfleet_cache_evictions_total", "Entries this cache node evicted to stay within entriesMax/bytesMax", () => s.store()?.stats.evictions);
  counter(registry, "xsfleet_cache_invalidations_total", "Invalidations this cache node applied (KV watches and deletes)", () => s.store()?.stats.invalidations);
  gauge(registry, "xsfleet_cache_entries", "Entries held by this cache node", () => s.store()?.entries);
  gauge(registry, "xsfleet_cache_bytes", "Key and value bytes held by this cache node", () => s.store()?.bytes);
  gauge(registry, "xsfleet_cache_ring_nodes", "Cache nodes in this node's view of the ring", () => s.ringNodes());
  const h = new Histogram({
    name: "xsfleet_cache_request_seconds", help: "Time of one cache request to one cache node, by operation and outcome",
    labelNames: ["op", "outcome"], buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry],
  });
  return (op, outcome, seconds) => h.observe({ op, outcome }, seconds);
}
