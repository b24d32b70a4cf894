// A small fixed pool of ioredis connections handed out round-robin, with
// options chosen for coordination traffic rather than caching:
//
// - autoResendUnfulfilledCommands: false. ioredis by default re-sends
//   commands that were in flight when a connection dropped. For a lock
//   acquire that already executed, a resend would look like "held" to the
//   caller while it actually holds the lock until the TTL runs out.
// - enableOfflineQueue: false and a commandTimeoutMs: while Redis is
//   unreachable, operations fail fast instead of queueing past their TTL.
// - reconnect forever with capped backoff (services outlive Redis restarts).
//
// (Lives with the lock for now; the distributed cache may move it to a
// shared cloud/redis/ folder.)

import { Redis, type RedisOptions } from "ioredis";
import type { SettingsReader } from "../base";

export interface RedisSettings {
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  readonly db?: number;
  /** Shown in CLIENT LIST, suffixed with #index. */
  readonly name: string;
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
}

export const REDIS_POOL_SIZE_MAX = 64;

/** A config file's `<section>.redis` (the lock's and the cache's): where, how many connections, which key prefix. */
export interface RedisSection { host: string; port: number; poolSize: number; keyPrefix: string }

/** Reads `<section>.redis`; an empty host is the caller's to refuse (only the redis backend needs one). */
export function readRedisSection(c: SettingsReader, section: string, raw: unknown, d: RedisSection): RedisSection {
  const r = c.obj(`${section}.redis`, raw);
  return {
    host: c.str(`${section}.redis.host`, r.host, d.host),
    port: c.int(`${section}.redis.port`, r.port, d.port, 1, 65535),
    poolSize: c.int(`${section}.redis.poolSize`, r.poolSize, d.poolSize, 1, REDIS_POOL_SIZE_MAX),
    keyPrefix: c.str(`${section}.redis.keyPrefix`, r.keyPrefix, d.keyPrefix),
  };
}

export function redisOptions(s: RedisSettings): RedisOptions {
  if (!s.host) throw new Error("no Redis host configured: set redis.host (e.g. 127.0.0.1)");
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) throw new Error(`Redis port must be 1..65535, got ${s.port}`);
  return {
    host: s.host,
    port: s.port,
    ...(s.password !== undefined ? { password: s.password } : {}),
    db: s.db ?? 0,
    connectionName: s.name,
    lazyConnect: true,
    connectTimeout: s.connectTimeoutMs ?? 5_000,
    commandTimeout: s.commandTimeoutMs ?? 5_000,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(50 * times, 2_000),
  };
}

export class RedisPool {
  readonly #conns: Redis[];
  #next = 0;
  #closed = false;
  #lastError: Error | undefined;

  private constructor(conns: Redis[]) {
    this.#conns = conns;
  }

  /** The latest connection error (ioredis reconnects by itself); for health checks. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  static async open(s: RedisSettings, size: number): Promise<RedisPool> {
    if (!Number.isInteger(size) || size < 1 || size > REDIS_POOL_SIZE_MAX) {
      throw new Error(`Redis pool size must be 1..${REDIS_POOL_SIZE_MAX}, got ${size}`);
    }
    const conns = Array.from({ length: size }, (_, i) => new Redis(redisOptions({ ...s, name: `${s.name}#${i}` })));
    let pool: RedisPool | undefined;
    let firstError: Error | undefined;
    // Without a listener ioredis prints "Unhandled error event" on every failed reconnect.
    for (const c of conns) {
      c.on("error", (err: Error) => {
        if (pool) pool.#lastError = err;
        else firstError ??= err;
      });
    }
    try {
      await Promise.all(conns.map((c) => c.connect()));
    } catch (err) {
      conns.forEach((c) => c.disconnect());
      throw new Error(`cannot connect to Redis at ${s.host}:${s.port}: ${(firstError ?? (err as Error)).message}`);
    }
    pool = new RedisPool(conns);
    return pool;
  }

  get size(): number {
    return this.#conns.length;
  }

  get(): Redis {
    if (this.#closed) throw new Error("Redis pool is closed");
    const c = this.#conns[this.#next]!;
    this.#next = (this.#next + 1) % this.#conns.length;
    return c;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#conns.map(async (c) => {
      try {
        await c.quit();
      } catch {
        c.disconnect();
      }
    }));
  }
}
