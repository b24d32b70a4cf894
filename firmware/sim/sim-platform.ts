// A whole device platform in memory: simulated clock and timers, seeded
// random, in-memory storage and broker. `reboot()` builds a fresh platform
// over the same storage (what survives a power cycle) and broker.
import type { Log, Platform, SensorSource } from "../platform";
import { fixedResources, silentLog } from "../platform";
import { MemoryBroker } from "./memory-broker";
import { MemoryStorage } from "./memory-storage";
import { SeededRandom, SimClock } from "./sim-clock";

export interface SimWorld {
  clock: SimClock;
  broker: MemoryBroker;
}

export function createSimWorld(opts: { wallBaseMs?: number; latencyMs?: number; keepLog?: boolean } = {}): SimWorld {
  const clock = new SimClock(opts.wallBaseMs);
  return { clock, broker: new MemoryBroker(clock, { latencyMs: opts.latencyMs ?? 1, keepLog: opts.keepLog ?? true }) };
}

export interface SimPlatformOptions {
  seed: number;
  storage?: MemoryStorage;
  sensor?: SensorSource;
  log?: Log;
  freeHeapBytes?: number;
}

export function createSimPlatform(world: SimWorld, opts: SimPlatformOptions): Platform & { storage: MemoryStorage } {
  const storage = opts.storage ?? new MemoryStorage();
  return {
    timers: world.clock,
    clock: world.clock,
    storage,
    random: new SeededRandom(opts.seed),
    log: opts.log ?? silentLog,
    resources: fixedResources(opts.freeHeapBytes ?? 65536),
    mqttConnect: world.broker.connect,
    ...(opts.sensor !== undefined ? { sensor: opts.sensor } : {}),
  };
}
