// The ingest role on one cloud node, composed from its parts: the per-device
// pipeline (pipeline.ts, the exactly-once order of effects), one JetStream
// pull loop per source over the shared durable consumers (pull-loop.ts) and
// the presence sweep (presence-sweep.ts). This file only wires them to NATS
// and to each other; see docs/ingest.md.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Tracer } from "@opentelemetry/api";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Logger } from "../base";
import { NatsPool } from "../nats";
import { DeviceStateStore } from "../state";
import { DeviceLocks, StateCache } from "./cache";
import { interleavedRepair } from "./interleaved-repair";
import { IngestPipeline, type IngestFaults } from "./pipeline";
import { PresenceSweep } from "./presence-sweep";
import { Publisher } from "./publisher";
import { PullLoop } from "./pull-loop";
import { parseIngestConfig, type IngestConfig } from "./settings";
import { ensureIngestConsumer, ensureIngestStreams } from "./streams";
import { emptyIngestStats, IngestSource, type IngestStats } from "./types";

export interface IngestDeps {
  nc: NatsConnection | NatsPool;
  nodeId: string;
  config: Partial<IngestConfig> | Record<string, unknown>;
  log: Logger;
  /** Clock for the presence sweep (tests inject one). */
  nowMs?: () => number;
  /** Fault injection for tests: crash points of the exactly-once protocol. */
  faults?: IngestFaults;
  /** Called once per telemetry batch whose effect was recorded (after the CAS). */
  onTelemetryApplied?(deviceId: string, seq: number, deviceTimeMs: number, points: number): void;
  /** Spans per device batch (cloud/tracing); absent or null: off. */
  tracer?: Tracer | null;
}

export interface IngestRole {
  /** Stops pulling, finishes the batches in flight, naks what was fetched but
   *  not processed (so another node takes it at once), flushes acks. */
  stop(): Promise<void>;
  stats(): IngestStats;
}

export async function startIngestRole(deps: IngestDeps): Promise<IngestRole> {
  const cfg = parseIngestConfig(deps.config);
  const conns = deps.nc instanceof NatsPool ? deps.nc.all() : [deps.nc];
  const log = deps.log;
  const jsm = await jetstreamManager(conns[0]!);
  const sources = Object.values(IngestSource);
  if (cfg.ensureStreams) {
    await ensureIngestStreams(jsm, { replicas: cfg.replicas });
    for (const s of sources) await ensureIngestConsumer(jsm, s, cfg);
  }
  // One KV handle per connection: CAS requests spread over the pool.
  const stores = await Promise.all(conns.map((c) => DeviceStateStore.open(c)));
  const store = stores[0]!;
  let nextStore = 0;
  const stats = emptyIngestStats(deps.nodeId);
  const cache = new StateCache(cfg.deviceCacheMax);
  const locks = new DeviceLocks();
  const publisher = new Publisher(conns, deps.nodeId);
  let stopping = false;

  const pipeline = new IngestPipeline({
    cfg, cache, locks, stats, log, out: publisher,
    state: {
      load: (id) => store.load(id),
      compareAndSet: (id, s, rev) => stores[nextStore++ % stores.length]!.compareAndSet(id, s, rev),
    },
    hooks: {
      ...(deps.faults ? { faults: deps.faults } : {}),
      ...(deps.onTelemetryApplied ? { onTelemetryApplied: deps.onTelemetryApplied } : {}),
      settle: interleavedRepair({ store, seqWindow: cfg.seqWindow, casAttemptsMax: cfg.casAttemptsMax, stats, log }),
    },
    stopping: () => stopping,
    tracer: deps.tracer ?? null,
  });
  const loops = sources.map((source, i) => new PullLoop({ source, conn: conns[i % conns.length]!, cfg, pipeline, log }));
  const sweep = new PresenceSweep({ cfg, state: store, events: publisher, cache, locks, stats, log, nowMs: deps.nowMs ?? Date.now });
  for (const l of loops) l.start();
  sweep.start();

  log.info("ingest role started", { nodeId: deps.nodeId, sources, replicas: cfg.replicas });
  return {
    stats: () => ({ ...stats, deadLettersByReason: { ...stats.deadLettersByReason }, consumerLag: { ...stats.consumerLag }, cachedDevices: cache.size }),
    stop: async () => {
      if (stopping) return;
      stopping = true;
      await Promise.all([...loops.map((l) => l.stop()), sweep.stop()]);
      await Promise.all(conns.map((c) => (c.isClosed() ? undefined : c.flush())));
      log.info("ingest role stopped", { nodeId: deps.nodeId });
    },
  };
}
