// Public entry of distributed locks with TTL, acquire timeout and fencing
// tokens: on the Raft control plane, on CASPaxos registers (no leader) or on
// Redis, and the fenced resources
// that make them safe against paused holders: a fenced compare-and-set for
// every read-modify-write (fence.ts), on NATS KV and on Redis.
export * from "./types";
export { ControlPlaneLock, CONTROL_LOCK_IN_FLIGHT_MAX, type ControlPlaneLockOptions } from "./control-plane-lock";
export { PaxosLock, type PaxosLockOptions } from "./paxos-lock";
export { RedisLock, type RedisLockOptions } from "./redis-lock";
export { RedisPool, readRedisSection, type RedisSettings, type RedisSection } from "./redis-pool";
export { luaScript, runScript, type LuaScript } from "./redis-script";
export { retryUntil, makeHeldLock, ATTEMPTS_MAX, type RetryOptions, type RetryResult, type TryOutcome } from "./acquire-loop";
export {
  FencedOutcome, VERSION_ABSENT, FENCED_UPDATE_ATTEMPTS_MAX, isStaleToken, judgeFencedWrite, fencedUpdate,
  type FencedEntry, type FencedCasResult, type FencedStore, type FencedUpdateResult,
} from "./fence";
export { FencedKv, FENCED_CAS_ATTEMPTS_MAX, type FenceCheck, type FencedKvOptions } from "./fenced-kv";
export { FencedRedis, type FencedRedisOptions } from "./fenced-redis";
export { LockBackend, lockBackends, defaultLockSettings, readLockSettings, type LockSettings } from "./settings";
