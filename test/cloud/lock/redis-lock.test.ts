// The Redis backend against a real Redis (test/harness/redis.ts), keys under
// a prefix unique to this run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FencedRedis } from "../../../cloud/lock/fenced-redis";
import { RedisLock } from "../../../cloud/lock/redis-lock";
import { RedisPool } from "../../../cloud/lock/redis-pool";
import { pingRedis, startRedis, uniqueKeyPrefix, type RedisServer } from "../../harness/redis";
import { runLockConformance } from "./conformance";

let server: RedisServer;
let pool: RedisPool;
const keyPrefix = uniqueKeyPrefix("lock");
const retry = { retryMinMs: 2, retryMaxMs: 25 };

beforeAll(async () => {
  server = await startRedis();
  pool = await RedisPool.open({ host: server.host, port: server.port, name: "xsfleet-lock-test" }, 4);
});

afterAll(async () => {
  if (pool) {
    // Leave a shared Redis as we found it.
    const conn = pool.get();
    const keys = await conn.keys(`${keyPrefix}*`);
    if (keys.length > 0) await conn.del(...keys);
    await pool.close();
  }
  await server?.stop();
});

runLockConformance("redis (single instance)", () => new RedisLock({ pool, keyPrefix, retry }));

describe("RedisLock specifics", () => {
  it("stores owner|token under a hash-tagged key and keeps a per-lock counter", async () => {
    const lock = new RedisLock({ pool, keyPrefix, retry, ownerId: "owner-1" });
    const r = await lock.acquire("specific", { ttlMs: 10_000, timeoutMs: 0 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const conn = pool.get();
    expect(lock.lockKey("specific")).toBe(`${keyPrefix}lock:{specific}`);
    expect(await conn.get(lock.lockKey("specific"))).toBe(`owner-1|${r.lock.token}`);
    expect(Number(await conn.get(lock.counterKey("specific")))).toBe(r.lock.token);
    const pttl = await conn.pttl(lock.lockKey("specific"));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(10_000);
    await r.lock.release();
    expect(await conn.exists(lock.lockKey("specific"))).toBe(0);
  });

  it("reloads its scripts after SCRIPT FLUSH (EVALSHA falls back to EVAL)", async () => {
    const lock = new RedisLock({ pool, keyPrefix, retry });
    for (const c of Array.from({ length: pool.size }, () => pool.get())) await c.script("FLUSH");
    const r = await lock.acquire("flushed", { ttlMs: 10_000, timeoutMs: 0 });
    expect(r.ok).toBe(true);
    if (r.ok) expect(await r.lock.release()).toEqual({ ok: true });
  });

  it("documents the single-instance limit: a lost counter (restart without persistence) makes tokens go backwards", async () => {
    const lock = new RedisLock({ pool, keyPrefix, retry });
    const resource = new FencedRedis<string>({ pool, keyPrefix });
    for (let i = 0; i < 3; i++) {
      const r = await lock.acquire("amnesia", { ttlMs: 10_000, timeoutMs: 0 });
      if (!r.ok) throw new Error("acquire failed");
      expect(await resource.writeTokenOnly("amnesia", r.lock.token, "w", `w${i}`)).toMatchObject({ ok: true });
      await r.lock.release();
    }
    // What a Redis restart with --save "" does to this lock's keys.
    await pool.get().del(lock.lockKey("amnesia"), lock.counterKey("amnesia"));
    const after = await lock.acquire("amnesia", { ttlMs: 10_000, timeoutMs: 0 });
    if (!after.ok) throw new Error("acquire failed");
    expect(after.lock.token).toBe(1);
    // The fenced resource stays safe (it refuses), but the legitimate holder is locked out.
    expect(await resource.writeTokenOnly("amnesia", after.lock.token, "w", "new")).toMatchObject({ ok: false, error: "stale-token" });
    await after.lock.release();
  });

  it("rejects an ownerId containing the value separator", () => {
    expect(() => new RedisLock({ pool, keyPrefix, ownerId: "a|b" })).toThrow(/must not contain/);
  });

  it("fails fast with a clear error when Redis is unreachable", async () => {
    await expect(RedisPool.open({ host: "127.0.0.1", port: 1, name: "nowhere", connectTimeoutMs: 500 }, 1)).rejects.toThrow(/cannot connect to Redis/);
  });

  it("validates the pool size", async () => {
    await expect(RedisPool.open({ host: "127.0.0.1", port: server.port, name: "x" }, 0)).rejects.toThrow(/pool size/);
  });
});

describe("Redis test harness", () => {
  it("starts a private redis-server on a free port and stops it", async () => {
    const own = await startRedis({ spawn: true });
    try {
      expect(own.spawned).toBe(true);
      expect(own.port).not.toBe(6379);
      expect(await pingRedis(own.port)).toBe(true);
      const p = await RedisPool.open({ host: own.host, port: own.port, name: "harness-check" }, 1);
      expect(await p.get().config("GET", "appendonly")).toEqual(["appendonly", "no"]);
      await p.close();
    } finally {
      await own.stop();
    }
    expect(await pingRedis(own.port)).toBe(false);
  });
});
