// The ingest role on one cloud node, composed from its parts: partition
// ownership (ownership.ts: membership view + fair share on the Raft control
// plane) with one PartitionWorker per partition in this node's share
// (partition-worker.ts: the partition's lease, and while held a pull loop
// into the per-device pipeline, pipeline.ts), the will relay
// (will-relay.ts) and the presence sweep over owned devices
// (presence-sweep.ts). This file only wires them to NATS and to each
// other; see docs/ingest.md and docs/delivery.md.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Tracer } from "@opentelemetry/api";
import { jetstreamManager } from "@nats-io/jetstream";
import { devicePartition } from "../../shared/topics";
import type { Logger } from "../base";
import type { Proposer } from "../control";
import { ControlPlaneLock } from "../lock";
import { NatsPool } from "../nats";
import type { FailoverConfig } from "../recovery";
import { DeviceStateStore } from "../state";
import { ControlPlaneIngestMembership, PartitionOwnership } from "./ownership";
import { PartitionWorker, type OwnedPartition } from "./partition-worker";
import type { AdmissionPort, IngestFaults, PipelineHooks, ShadowReportPort, StatePort } from "./pipeline";
import { PresenceSweep } from "./presence-sweep";
import { Publisher } from "./publisher";
import { DeviceRateLimiter } from "./rate-limit";
import { parseIngestConfig, type IngestConfig } from "./settings";
import { ensureIngestConsumers, ensureIngestStreams, ingestReplicationPlans, IngestStream } from "./streams";
import { mirrorStreamName, ReplicationMode, SemiSyncWriter } from "../replication";
import { emptyIngestStats, type IngestStats } from "./types";
import { WillRelay } from "./will-relay";

export interface IngestDeps {
  nc: NatsConnection | NatsPool;
  nodeId: string;
  config: Partial<IngestConfig> | Record<string, unknown>;
  log: Logger;
  /** The Raft control plane (cloud/controlplane ControlClient.proposer()):
   *  partition leases and the membership view of ingest nodes. */
  control: Proposer;
  /** The registry gate (cloud/registry AdmissionCache in the product). */
  admission: AdmissionPort;
  /** Clock for the presence sweep (tests inject one). */
  nowMs?: () => number;
  /** Fault injection for tests: crash points of the exactly-once protocol. */
  faults?: IngestFaults;
  /** Lease timing overrides (tests). */
  failover?: Partial<FailoverConfig>;
  /** Called once per telemetry batch whose effect was recorded (after the CAS). */
  onTelemetryApplied?(deviceId: string, seq: number, deviceTimeMs: number, points: number): void;
  /** Spans per device batch (cloud/tracing); absent or null: off. */
  tracer?: Tracer | null;
  /** Device shadow reports riding on uplinks: joined into the reported documents (cloud/shadow behind it); absent: not merged. */
  shadowReports?: ShadowReportPort;
  /** Once per device batch: processing seconds and the kept trace (the processing histogram, metrics.ts). */
  onDeviceBatch?: PipelineHooks["onDeviceBatch"];
}

export interface IngestRole {
  /** Hands every owned partition off (stops pulling, finishes the batches in
   *  flight, naks what was fetched but not processed, releases the lease so
   *  another node takes it at once), stops the relay and sweep, flushes acks. */
  stop(): Promise<void>;
  stats(): IngestStats;
}

export async function startIngestRole(deps: IngestDeps): Promise<IngestRole> {
  const cfg = parseIngestConfig(deps.config);
  const conns = deps.nc instanceof NatsPool ? deps.nc.all() : [deps.nc];
  const log = deps.log;
  const jsm = await jetstreamManager(conns[0]!);
  const replication = { history: cfg.historyReplication, out: cfg.outReplication };
  const plans = ingestReplicationPlans(cfg.replicas, replication);
  if (cfg.ensureStreams) {
    await ensureIngestStreams(jsm, { replicas: cfg.replicas, messageBytesMax: cfg.messageBytesMax, replication });
    await ensureIngestConsumers(jsm, cfg);
  }
  // Semi-sync history: a record counts as written once the mirror has it (or the writer degraded).
  const semiSync = plans.XSF_HIST.effective === ReplicationMode.SemiSync
    ? new SemiSyncWriter(jsm, IngestStream.History, mirrorStreamName(IngestStream.History), {
      timeoutMs: cfg.semiSyncTimeoutMs,
      onDegraded: () => log.warn("history replication degraded to async: the mirror did not confirm within the timeout", { timeoutMs: cfg.semiSyncTimeoutMs }),
    })
    : null;
  const publisher = new Publisher(conns, deps.nodeId, {
    history: { codec: cfg.historyCodec, thresholdBytes: cfg.historyCompressMinBytes },
    out: { codec: cfg.outCodec, thresholdBytes: cfg.outCompressMinBytes },
  }, semiSync ? (ack) => semiSync.after(ack) : null);
  // One KV handle per connection, its CAS through that connection's JsPublisher: state writes spread over the pool.
  const stores = await Promise.all(conns.map((c, i) => DeviceStateStore.open(c, publisher.jsPublishers[i]!))).catch((err: unknown) => {
    publisher.close();
    semiSync?.stop();
    throw err;
  });
  const store = stores[0]!;
  let nextStore = 0;
  const state: StatePort = {
    load: (id) => store.load(id),
    compareAndSet: (id, s, rev) => stores[nextStore++ % stores.length]!.compareAndSet(id, s, rev),
  };
  const stats = emptyIngestStats(deps.nodeId);
  const lock = new ControlPlaneLock({ propose: deps.control, ownerId: deps.nodeId });
  const hooks = {
    ...(deps.faults ? { faults: deps.faults } : {}),
    ...(deps.onTelemetryApplied ? { onTelemetryApplied: deps.onTelemetryApplied } : {}),
    ...(deps.onDeviceBatch ? { onDeviceBatch: deps.onDeviceBatch } : {}),
  };
  const cacheMax = Math.max(1, Math.ceil(cfg.deviceCacheMax / cfg.partitions));
  // One limiter for the node: a device's messages all come through its partition's worker.
  const rateLimit = new DeviceRateLimiter({ ratePerSec: cfg.deviceRatePerSec, burst: cfg.deviceBurst, devicesMax: cfg.rateLimitDevicesMax });
  const ownership = new PartitionOwnership({
    nodeId: deps.nodeId, partitions: cfg.partitions, ttlMs: cfg.ownershipTtlMs, stats, log,
    membership: new ControlPlaneIngestMembership(deps.control, deps.nodeId, cfg.ownershipTtlMs),
    newWorker: (partition) => new PartitionWorker({
      partition, lock, conn: conns[partition % conns.length]!, cfg, state, out: publisher, stats, log, hooks, cacheMax,
      admission: deps.admission, rateLimit, tracer: deps.tracer ?? null,
      ...(deps.shadowReports ? { shadowReports: deps.shadowReports } : {}),
      ...(deps.failover ? { failover: deps.failover } : {}),
    }),
  });
  const owned = (): OwnedPartition[] => [...ownership.workers()].map((w) => w.owned()).filter((o): o is OwnedPartition => o !== null);
  const sweep = new PresenceSweep({
    cfg, state: { ...state, listDeviceIds: () => store.listDeviceIds() }, events: publisher, stats, log, nowMs: deps.nowMs ?? Date.now,
    owned, ownerOf: (id) => ownership.worker(devicePartition(id, cfg.partitions))?.owned() ?? null,
  });
  const relay = new WillRelay({ conn: conns[0]!, cfg, deadLetter: (d) => publisher.deadLetter(d), stats, log });
  ownership.start();
  relay.start();
  sweep.start();

  log.info("ingest role started", { nodeId: deps.nodeId, partitions: cfg.partitions, replicas: cfg.replicas, ownershipTtlMs: cfg.ownershipTtlMs });
  let stopping: Promise<void> | null = null;
  return {
    stats: () => ({
      ...stats, deadLettersByReason: { ...stats.deadLettersByReason }, consumerLag: { ...stats.consumerLag }, partitionsOwned: [...stats.partitionsOwned],
      cachedDevices: owned().reduce((n, o) => n + o.cache.size, 0), compression: { ...publisher.compressionStats },
      replication: {
        history: plans.XSF_HIST.effective, out: plans.XSF_OUT.effective,
        semiSync: semiSync ? { ...semiSync.stats } : null,
      },
    }),
    stop: () => {
      stopping ??= (async () => {
        await Promise.all([relay.stop(), sweep.stop()]);
        await ownership.stop();
        publisher.close();
        // Acks and naks out before the connection goes (nothing to flush when it is gone already).
        await Promise.all(conns.map((c) => (c.isClosed() ? undefined : c.flush().catch(() => undefined))));
        await lock.close();
        semiSync?.stop();
        log.info("ingest role stopped", { nodeId: deps.nodeId });
      })();
      return stopping;
    },
  };
}
