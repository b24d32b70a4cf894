// Settings of the lock service a node uses for its own mutual exclusion
// (singleton leases, the data-ops lock): config file section `lock`, env
// XSFLEET_LOCK* / XSFLEET_REDIS_*, flags --lock, --redis-host, --redis-port.
// The Raft control plane by default; a single Redis when configured (see
// redis-lock.ts for what that gives up).
import type { SettingsReader } from "../base";
import { readRedisSection, type RedisSection } from "./redis-pool";

export const LockBackend = {
  /** ControlPlaneLock: the Raft control plane (its replicas must run). */
  Control: "control",
  /** RedisLock: one Redis instance (SET NX PX + scripts). */
  Redis: "redis",
} as const;
export type LockBackend = (typeof LockBackend)[keyof typeof LockBackend];
export const lockBackends: readonly LockBackend[] = Object.freeze(Object.values(LockBackend));

export interface LockSettings {
  backend: LockBackend;
  redis: RedisSection;
}

export function defaultLockSettings(): LockSettings {
  return { backend: LockBackend.Control, redis: { host: "", port: 6379, poolSize: 4, keyPrefix: "xsfleet:" } };
}

/** The `lock` section; problems go to the reader. */
export function readLockSettings(c: SettingsReader, raw: Record<string, unknown>): LockSettings {
  const d = defaultLockSettings();
  const backend = c.str("lock.backend", raw.backend, d.backend);
  if (!(lockBackends as readonly string[]).includes(backend)) c.fail("lock.backend", `must be one of ${lockBackends.join(", ")}, got ${JSON.stringify(backend)}`);
  const redis = readRedisSection(c, "lock", raw.redis, d.redis);
  if (backend === LockBackend.Redis && redis.host === "") c.fail("lock.redis.host", "is required with lock.backend redis (e.g. --redis-host 127.0.0.1)");
  return { backend: backend as LockBackend, redis };
}
