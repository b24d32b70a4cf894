// Fenced read-modify-write on a real Redis: RedisLock + FencedRedis (one Lua
// script). 20 contenders, TTL 500 ms, holders pausing past their TTL
// (rmw-contest.ts). The fenced compare-and-set loses nothing; the token-only
// check, run at the same time on another key, loses updates.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FencedRedis, RedisLock, RedisPool } from "../../../cloud/lock";
import { startRedis, uniqueKeyPrefix, type RedisServer } from "../../harness/redis";
import { contestFencedAgainstControl } from "./rmw-contest";

let redis: RedisServer;
let pool: RedisPool;
const keyPrefix = uniqueKeyPrefix("rmw");

beforeAll(async () => {
  redis = await startRedis();
  pool = await RedisPool.open({ host: redis.host, port: redis.port, name: "xsfleet-rmw-test" }, 8);
});

afterAll(async () => {
  if (pool) {
    const keys = await pool.get().keys(`${keyPrefix}*`);
    if (keys.length > 0) await pool.get().del(...keys);
    await pool.close();
  }
  await redis?.stop();
});

describe("fenced read-modify-write on Redis", () => {
  it("20 contenders with pausing holders: zero lost updates with the fenced CAS; the token-only check loses some", async () => {
    const store = new FencedRedis<number>({ pool, keyPrefix });
    const newLock = (ownerId: string): RedisLock => new RedisLock({ pool, keyPrefix, ownerId, retry: { retryMinMs: 5, retryMaxMs: 50 } });
    const { cas, controlLost } = await contestFencedAgainstControl("redis", { newLock, store }, (mode, round) => `rmw-${mode}-${round}`);
    expect(cas.pauses).toBeGreaterThanOrEqual(15);
    expect(cas.refusedStale + cas.refusedVersion).toBeGreaterThan(0);
    expect(cas.lost).toBe(0);
    expect(controlLost).toBeGreaterThan(0);
  }, 180_000);
});
