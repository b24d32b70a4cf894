// One CacheClient contract, two backends: the ring of cache nodes (three
// nodes on a real nats-server) and Redis (a real redis-server). Every case
// runs against both.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  CacheNode, CacheRingView, CacheStore, CacheUnavailable, RedisCacheClient, RingCacheClient, fixedCacheMembers, type CacheClient, type Loaded,
} from "../../../cloud/cache";
import { RedisPool } from "../../../cloud/lock";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startRedis, uniqueKeyPrefix, type RedisServer } from "../../harness/redis";
import { until } from "../../harness/wait";

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (v: { value: Uint8Array } | null): string | null => (v ? dec.decode(v.value) : null);

let nats: NatsCluster;
let redis: RedisServer;
let pool: RedisPool;
const conns: NatsConnection[] = [];
const nodes: CacheNode[] = [];
let clientNc: NatsConnection;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  pool = await RedisPool.open({ host: redis.host, port: redis.port, name: "xsfleet-cache-conformance" }, 2);
  for (const id of ["c1", "c2", "c3"]) {
    const nc = await connect({ servers: nats.servers, name: id });
    conns.push(nc);
    const n = new CacheNode({ conns: [nc], nodeId: id, store: new CacheStore(), view: null }).start();
    await n.ready();
    nodes.push(n);
  }
  clientNc = await connect({ servers: nats.servers, name: "client" });
}, 60_000);

afterAll(async () => {
  for (const n of nodes) n.stop();
  await Promise.all([...conns, clientNc].filter(Boolean).map((c) => c.close()));
  await pool?.close();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

const backends: Array<[string, () => CacheClient]> = [
  ["ring", () => new RingCacheClient({ send: (f) => f(clientNc), view: new CacheRingView({ members: fixedCacheMembers(() => ["c1", "c2", "c3"]), rf: 2 }), timeoutMs: 1_000 })],
  ["redis", () => new RedisCacheClient({ pool, keyPrefix: uniqueKeyPrefix("cache") })],
];

describe.each(backends)("CacheClient conformance: %s", (_name, make) => {
  let c: CacheClient;
  beforeAll(() => { c = make(); });

  it("misses, then returns what was set with its version", async () => {
    expect(await c.get("k:a")).toBeNull();
    expect(await c.set("k:a", enc.encode("one"), { ttlMs: 60_000, version: 3 })).toBe(true);
    const v = await c.get("k:a");
    expect(text(v)).toBe("one");
    expect(v!.version).toBe(3);
    expect(c.stats.hits).toBeGreaterThanOrEqual(1);
    expect(c.stats.misses).toBeGreaterThanOrEqual(1);
  });

  it("forgets a value after its TTL", async () => {
    await c.set("k:ttl", enc.encode("short"), { ttlMs: 150 });
    expect(text(await c.get("k:ttl"))).toBe("short");
    await until("the TTL ran out", async () => (await c.get("k:ttl")) === null, 10_000);
  });

  it("after an acknowledged invalidation: no old value, older sets refused, newer accepted", async () => {
    await c.set("k:inv", enc.encode("r5"), { ttlMs: 60_000, version: 5 });
    expect(await c.delete("k:inv", 6)).toBe(true);
    expect(await c.get("k:inv")).toBeNull();
    expect(await c.set("k:inv", enc.encode("r5"), { ttlMs: 60_000, version: 5 })).toBe(false);
    expect(await c.get("k:inv")).toBeNull();
    expect(await c.set("k:inv", enc.encode("r6"), { ttlMs: 60_000, version: 6 })).toBe(true);
    expect(await c.set("k:inv", enc.encode("r5"), { ttlMs: 60_000, version: 5 })).toBe(false);
    expect(text(await c.get("k:inv"))).toBe("r6");
  });

  it("reads through: loads on a miss, serves the next read from the cache, does not cache an absent key", async () => {
    let loads = 0;
    const loader = async (): Promise<Loaded | null> => { loads++; return { value: enc.encode("from-source"), version: 1 }; };
    expect(dec.decode((await c.readThrough("k:rt", loader, 60_000))!)).toBe("from-source");
    expect(dec.decode((await c.readThrough("k:rt", loader, 60_000))!)).toBe("from-source");
    expect(loads).toBe(1);
    let absent = 0;
    const none = async (): Promise<Loaded | null> => { absent++; return null; };
    expect(await c.readThrough("k:none", none, 60_000)).toBeNull();
    expect(await c.readThrough("k:none", none, 60_000)).toBeNull();
    expect(absent).toBe(2);
  });

  it("a read-through that raced an invalidation does not cache its old value", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // The loader reads revision 1 from the source, then the source changes to 2 and is invalidated before the loader's set.
    const racing = c.readThrough("k:race", async () => { await gate; return { value: enc.encode("r1"), version: 1 }; }, 60_000);
    expect(await c.delete("k:race", 2)).toBe(true);
    release();
    expect(dec.decode((await racing)!)).toBe("r1"); // the caller that read before the change gets what it read…
    expect(await c.get("k:race")).toBeNull(); // …but nobody after the acknowledged invalidation does
    expect(c.stats.staleRefused).toBeGreaterThanOrEqual(1);
  });

  it("refuses bad keys with a clear error", async () => {
    await expect(c.get("")).rejects.toThrow(/cache key/);
    await expect(c.set("a b", enc.encode("x"), { ttlMs: 10 })).rejects.toThrow(/cache key/);
  });
});

describe("when no cache answers, reads go to the source", () => {
  it("ring with no cache nodes: get throws CacheUnavailable, readThrough serves the loader", async () => {
    const c = new RingCacheClient({ send: (f) => f(clientNc), view: new CacheRingView({ members: fixedCacheMembers(() => []) }) });
    await expect(c.get("k")).rejects.toBeInstanceOf(CacheUnavailable);
    expect(dec.decode((await c.readThrough("k", async () => ({ value: enc.encode("src"), version: 1 }), 1000))!)).toBe("src");
    expect(c.stats.unavailable).toBe(2);
  });

  it("ring whose owners are gone (no subscriber): fails over, then serves the loader", async () => {
    const c = new RingCacheClient({ send: (f) => f(clientNc), view: new CacheRingView({ members: fixedCacheMembers(() => ["gone-1", "gone-2"]) }), timeoutMs: 200 });
    expect(dec.decode((await c.readThrough("k", async () => ({ value: enc.encode("src"), version: 1 }), 1000))!)).toBe("src");
    expect(c.stats.failovers).toBe(1);
  });
});
