// A whole device platform in memory: simulated clock and timers, seeded
// random, in-memory storage and broker, and a cloud stand-in that answers
// with receipts (sim-cloud.ts; `cloud: false` for a world without one). A
// reboot is a fresh platform over the same storage (what survives a power
// cycle) and broker.
import type { Log, Platform, SensorSource } from "../platform";
import { fixedResources, silentLog } from "../platform";
import { MemoryBroker } from "./memory-broker";
import { MemoryStorage } from "./memory-storage";
import { SimCloud, type SimCloudOptions } from "./sim-cloud";
import { SeededRandom, SimClock } from "./sim-clock";

export interface SimWorld {
  clock: SimClock;
  broker: MemoryBroker;
  /** Absent when the world was made with `cloud: false`. */
  cloud: SimCloud | undefined;
}

export interface SimWorldOptions {
  wallBaseMs?: number;
  latencyMs?: number;
  /** false for long runs: no broker log, no cloud records. */
  keepLog?: boolean;
  /** The cloud stand-in's options (keepRecords follows keepLog), or false for none. */
  cloud?: SimCloudOptions | false;
}

export function createSimWorld(opts: SimWorldOptions = {}): SimWorld {
  const clock = new SimClock(opts.wallBaseMs);
  const keepLog = opts.keepLog ?? true;
  const broker = new MemoryBroker(clock, { latencyMs: opts.latencyMs ?? 1, keepLog });
  const cloud = opts.cloud === false ? undefined : new SimCloud(broker, { keepRecords: keepLog, ...opts.cloud });
  return { clock, broker, cloud };
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
