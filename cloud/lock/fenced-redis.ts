// A fenced store (fence.ts) on Redis: one hash per key with fields
//   v    the value (JSON)      ver  the version (1, 2, … ; absent = 0)
//   tok  the highest token     w    the writer
// The fenced compare-and-set is one Lua script, so Redis runs the check
// (token >= tok, expected version == ver) and the write atomically; the
// token-only write is a second script, kept as the counter-example. The
// rule is fence.ts's judgeFencedWrite (the KV store calls it; the script
// spells it in Lua).
//
// Keys are `<keyPrefix>fenced:{<key>}`; the hash tag keeps a key in one
// Redis Cluster slot. Like the Redis lock, this is a single instance: its
// durability is Redis's (AOF with appendfsync always, or nothing).

import { FencedOutcome, checkToken, type FencedCasResult, type FencedEntry, type FencedStore } from "./fence";
import type { RedisPool } from "./redis-pool";
import { integerPair, luaScript, runScript } from "./redis-script";

/** KEYS: hash. ARGV: token, expectedVersion, writer, value. {1, newVersion} | {0, highestToken} | {-1, currentVersion}. */
const COMPARE_AND_SET = luaScript(`
local cur = redis.call('HMGET', KEYS[1], 'ver', 'tok')
local ver = tonumber(cur[1]) or 0
local tok = tonumber(cur[2]) or 0
local token = tonumber(ARGV[1])
if token < tok then return {0, tok} end
if tonumber(ARGV[2]) ~= ver then return {-1, ver} end
redis.call('HSET', KEYS[1], 'v', ARGV[4], 'ver', ver + 1, 'tok', token, 'w', ARGV[3])
return {1, ver + 1}
`);

/** KEYS: hash. ARGV: token, writer, value. {1, newVersion} | {0, highestToken}. */
const WRITE_TOKEN_ONLY = luaScript(`
local cur = redis.call('HMGET', KEYS[1], 'ver', 'tok')
local ver = tonumber(cur[1]) or 0
local tok = tonumber(cur[2]) or 0
local token = tonumber(ARGV[1])
if token < tok then return {0, tok} end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'ver', ver + 1, 'tok', token, 'w', ARGV[2])
return {1, ver + 1}
`);

export interface FencedRedisOptions {
  readonly pool: RedisPool;
  /** Prepended to every key; one per deployment (and per test run). */
  readonly keyPrefix: string;
}

export class FencedRedis<V> implements FencedStore<V> {
  readonly #pool: RedisPool;
  readonly #prefix: string;
  /** Writes refused for a stale token. */
  rejected = 0;

  constructor(opts: FencedRedisOptions) {
    this.#pool = opts.pool;
    this.#prefix = opts.keyPrefix;
  }

  redisKey(key: string): string {
    return `${this.#prefix}fenced:{${key}}`;
  }

  async read(key: string): Promise<FencedEntry<V> | undefined> {
    const [v, ver, tok, w] = await this.#pool.get().hmget(this.redisKey(key), "v", "ver", "tok", "w");
    if (v === null || v === undefined || ver === null || tok === null) return undefined;
    return { value: JSON.parse(v) as V, version: Number(ver), token: Number(tok), writer: w ?? "" };
  }

  async compareAndSet(key: string, token: number, expectedVersion: number, writer: string, value: V): Promise<FencedCasResult> {
    checkToken(token);
    if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) throw new RangeError(`expected version must be an integer >= 0, got ${expectedVersion}`);
    const reply = await runScript(this.#pool.get(), COMPARE_AND_SET, [this.redisKey(key)], [String(token), String(expectedVersion), writer, JSON.stringify(value)]);
    return this.#result(integerPair(reply, "fenced compare-and-set"));
  }

  async writeTokenOnly(key: string, token: number, writer: string, value: V): Promise<FencedCasResult> {
    checkToken(token);
    const reply = await runScript(this.#pool.get(), WRITE_TOKEN_ONLY, [this.redisKey(key)], [String(token), writer, JSON.stringify(value)]);
    return this.#result(integerPair(reply, "fenced write"));
  }

  #result([code, n]: [number, number]): FencedCasResult {
    if (code === 1) return { ok: true, version: n };
    if (code === 0) {
      this.rejected++;
      return { ok: false, error: FencedOutcome.StaleToken, highestToken: n, by: "resource" };
    }
    return { ok: false, error: FencedOutcome.VersionConflict, version: n };
  }
}
