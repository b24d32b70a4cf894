// One conformance suite for both fenced stores (cloud/lock/fence.ts): NATS
// KV on a real nats-server and Redis on a real redis-server. Each store must
// apply the fenced compare-and-set rule atomically; the token-only write is
// checked too (it is the counter-example of fenced-rmw.test.ts).
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { StorageType } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlStateMachine } from "../../../cloud/control";
import {
  ControlPlaneLock, FencedKv, FencedRedis, RedisPool, VERSION_ABSENT, fencedUpdate, type FencedStore,
} from "../../../cloud/lock";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startRedis, uniqueKeyPrefix, type RedisServer } from "../../harness/redis";
import { localProposer } from "../../harness/local-proposer";

let nats: NatsCluster;
let nc: NatsConnection;
let redis: RedisServer;
let pool: RedisPool;
const keyPrefix = uniqueKeyPrefix("fenced");
let bucketN = 0;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  nc = await connect({ servers: nats.servers });
  pool = await RedisPool.open({ host: redis.host, port: redis.port, name: "xsfleet-fenced-test" }, 4);
});

afterAll(async () => {
  if (pool) {
    const keys = await pool.get().keys(`${keyPrefix}*`);
    if (keys.length > 0) await pool.get().del(...keys);
    await pool.close();
  }
  await nc?.drain();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

async function kvStore<V>(): Promise<FencedKv<V>> {
  const kv = await new Kvm(nc).create(`xsf_fenced_${++bucketN}`, { history: 4, storage: StorageType.File, replicas: 1 });
  return new FencedKv<V>(kv);
}

const stores: [string, <V>() => Promise<FencedStore<V>>][] = [
  ["NATS KV", kvStore],
  ["Redis", async <V>() => new FencedRedis<V>({ pool, keyPrefix: `${keyPrefix}${++bucketN}:` })],
];

for (const [name, newStore] of stores) {
  describe(`fenced store conformance: ${name}`, () => {
    it("compare-and-set: first write at version 0, then only at the version read and with a token >= the stored one", async () => {
      const s = await newStore<string>();
      expect(await s.read("k")).toBeUndefined();
      const w1 = await s.compareAndSet("k", 5, VERSION_ABSENT, "a", "one");
      if (!w1.ok) throw new Error(`first write refused: ${JSON.stringify(w1)}`);
      expect(await s.read("k")).toEqual({ value: "one", token: 5, version: w1.version, writer: "a" });
      expect(await s.compareAndSet("k", 5, VERSION_ABSENT, "a", "again")).toMatchObject({ ok: false, error: "version-conflict", version: w1.version });
      expect(await s.compareAndSet("k", 4, w1.version, "zombie", "old")).toMatchObject({ ok: false, error: "stale-token", highestToken: 5 });
      const w2 = await s.compareAndSet("k", 7, w1.version, "b", "two");
      expect(w2.ok).toBe(true);
      // A token between the old and the new one is stale now, even at the current version.
      expect(await s.compareAndSet("k", 6, w2.ok ? w2.version : -1, "c", "x")).toMatchObject({ ok: false, error: "stale-token", highestToken: 7 });
      expect((await s.read("k"))?.value).toBe("two");
    });

    it("token-only writes land on any version unless a newer token wrote", async () => {
      const s = await newStore<number>();
      expect((await s.writeTokenOnly("k", 3, "a", 1)).ok).toBe(true);
      expect((await s.writeTokenOnly("k", 3, "a", 2)).ok).toBe(true);
      expect(await s.writeTokenOnly("k", 2, "z", 9)).toMatchObject({ ok: false, error: "stale-token", highestToken: 3 });
      expect((await s.read("k"))?.value).toBe(2);
    });

    it("concurrent read-modify-writes with one token lose nothing (fencedUpdate retries version conflicts)", async () => {
      const s = await newStore<number>();
      const results = await Promise.all(Array.from({ length: 10 }, () => fencedUpdate(s, "n", 1, "w", (v) => (v ?? 0) + 1)));
      expect(results.every((r) => r.ok)).toBe(true);
      expect((await s.read("n"))?.value).toBe(10);
    });
  });
}

describe("FencedKv with the lock service's fence check", () => {
  it("refuses a holder whose lease ran out before anyone else wrote", async () => {
    let nowMs = 1_000_000;
    const propose = localProposer(new ControlStateMachine(), { nowMs: () => nowMs });
    const lock = new ControlPlaneLock({ propose, ownerId: "a" });
    const kv = await new Kvm(nc).create("xsf_fenced_check", { history: 4, storage: StorageType.File, replicas: 1 });
    const s = new FencedKv<string>(kv, { fence: { check: lock, lockName: "lock/x" } });
    const held = await lock.acquire("lock/x", { ttlMs: 200, timeoutMs: 0 });
    if (!held.ok) throw new Error("a must get the lock");
    const w = await s.compareAndSet("k", held.lock.token, VERSION_ABSENT, "a", "live");
    expect(w.ok).toBe(true);
    nowMs += 250;
    expect(await s.compareAndSet("k", held.lock.token, w.ok ? w.version : -1, "a", "late")).toEqual({ ok: false, error: "stale-token", highestToken: 0, by: "lock-service" });
    expect(s.rejected).toBe(1);
  });
});
