// Public entry of distributed locks with TTL, acquire timeout and fencing
// tokens: on the Raft control plane, on CASPaxos registers (no leader) or on
// Redis, and the fenced resources that make them safe against paused holders.
export * from "./types";
export { ControlPlaneLock, CONTROL_LOCK_IN_FLIGHT_MAX, type ControlPlaneLockOptions } from "./control-plane-lock";
export { PaxosLock, type PaxosLockOptions } from "./paxos-lock";
export { RedisLock, type RedisLockOptions } from "./redis-lock";
export { RedisPool, redisOptions, REDIS_POOL_SIZE_MAX, type RedisSettings } from "./redis-pool";
export { retryUntil, makeHeldLock, ATTEMPTS_MAX, type RetryOptions, type RetryResult, type TryOutcome } from "./acquire-loop";
export { FencedResource, isStaleToken, type FencedWriteResult } from "./fence";
export { FencedKv, FENCED_CAS_ATTEMPTS_MAX, type FenceCheck, type FencedValue, type FencedKvWriteResult } from "./fenced-kv";
