// Settings of the ingest role (config file section `ingest`): defaults,
// bounds, and one parse that reports every problem with a clear message.
// cloud/node/config.ts checks them at startup with the rest of the node's
// configuration.
import { codecChoices, defaultCompression, thresholdBytesMax, type CodecChoice } from "../compression";
import { DataSet, defaultReplication, replicationProblem, semiSyncTimeoutDefaultMs, semiSyncTimeoutMaxMs, type ReplicationMode } from "../replication";

/** How history records are laid out: one JSON record per (device, seq,
 *  channel), or one binary record per (device, seq). */
export type HistoryLayout = "channel" | "batch";

/** firmware/device/outbox.ts default messagesMax: a device's backfill after
 *  an outage (the burst must let it through in one go). */
export const firmwareOutboxMessagesMax = 256;

export interface IngestConfig {
  /** Replicas of every stream, consumer and KV bucket the role creates. */
  replicas: number;
  /** Create/update streams, consumers and the state bucket at start. */
  ensureStreams: boolean;
  /** Most messages one node processes as one batch (one CAS per device per batch). */
  batchMax: number;
  /** Messages one node holds per source (queued or in batches, with
   *  keep-alives); the client pulls batchMax at a time. */
  prefetchMax: number;
  /** Server-side bound on delivered-but-unacked messages per consumer, all nodes together. */
  maxAckPending: number;
  /** A message not acked within this is redelivered (to the partition's owner). */
  ackWaitMs: number;
  /** Partitions the broker maps device uplinks into (its `{{partition(P,1)}}`
   *  mapping must use the same P; docs/delivery.md). One consumer and one
   *  owner each. Changing it re-partitions: see docs/ingest.md. */
  partitions: number;
  /** Deliveries of one message before ingest dead-letters it (`poison`) at the last one. */
  maxDeliver: number;
  /** Lease of a partition's owner on the control plane; a dead owner's
   *  partitions move within about this plus one tick. */
  ownershipTtlMs: number;
  /** Devices processed concurrently within a batch on one node. */
  deviceConcurrencyMax: number;
  /** Largest accepted device payload; larger goes to the DLQ. */
  messageBytesMax: number;
  /** Most points in one telemetry batch (codec limit, checked before allocating). */
  pointsPerBatchMax: number;
  /** Most channels in one telemetry batch. */
  channelsMax: number;
  /** Ranges of recorded seqs kept above a device's floor (docs/delivery.md);
   *  beyond, the lowest merge into the floor (counted `dedupOverflow`). */
  dedupRangesMax: number;
  /** A seq more than this above the device's highest is quarantined
   *  (dead letter `seq-jump`). A real device's seqs advance by one per
   *  message plus at most a reserved block per reboot, so this bounds how
   *  far a device may get ahead of what ingest saw (2^24: ~190 days at 1
   *  message/s offline); a seq of 2^31 on a fresh device is refused. */
  seqJumpMax: number;
  /** Sustained messages per second per device (token bucket refill). */
  deviceRatePerSec: number;
  /** Bucket size per device: must be >= the firmware outbox capacity
   *  (firmware/device/outbox.ts messagesMax, 256 by default) so a backfill passes. */
  deviceBurst: number;
  /** Devices whose bucket one node tracks at most (least recently used dropped: it restarts full). */
  rateLimitDevicesMax: number;
  /** CAS attempts per device batch before the batch is left for redelivery. */
  casAttemptsMax: number;
  /** A device is offline after this many of its heartbeat intervals without a message. */
  heartbeatTimeoutFactor: number;
  /** Heartbeat interval assumed before a device's Hello tells us its own. */
  heartbeatIntervalDefaultMs: number;
  /** Period of the presence sweep over cached devices. */
  sweepIntervalMs: number;
  /** Every this many sweeps, the sweep also reads every device in the bucket. */
  fullSweepEvery: number;
  /** Most device states cached on one node (LRU). */
  deviceCacheMax: number;
  /** Publish decoded points to the history stream. */
  history: boolean;
  /** "channel": one JSON record per (device, seq, channel) on
   *  xsfleet.v1.hist.<device>.<channel>; "batch": one binary record per
   *  (device, seq) — the validated TelemetryBatch — on
   *  xsfleet.v1.hist.<device>.~batch (one write per message, for fleet-scale rates). */
  historyLayout: HistoryLayout;
  /** Publish integrator JSON on xsfleet.v1.out.<id>.telemetry. */
  out: boolean;
  /** Publish out messages through JetStream (captured by XSF_OUT, deduplicated)
   *  rather than plain core NATS after the CAS. */
  outDurable: boolean;
  /** Newest protobuf schema_version accepted. */
  schemaVersionMax: number;
  /** Codec of channel-layout history records (docs/data-plane.md "Compression"); "none" = off. Batch-layout records are range-coded already and stored as they are. */
  historyCodec: CodecChoice;
  /** History records smaller than this are stored uncompressed. */
  historyCompressMinBytes: number;
  /** Codec of out messages: "none" unless every integrator of the deployment
   *  opted in (they decode by the Xsf-Encoding header). */
  outCodec: CodecChoice;
  outCompressMinBytes: number;
  /** Replication of the history stream: sync, semi-sync or async (docs/data-plane.md "Replication"). */
  historyReplication: ReplicationMode;
  /** Replication of the out stream XSF_OUT (analytics results). */
  outReplication: ReplicationMode;
  /** A semi-sync write waits this long for the mirror, then the writer degrades to async (counted). */
  semiSyncTimeoutMs: number;
}

export const defaultIngestConfig: IngestConfig = {
  replicas: 1,
  ensureStreams: true,
  batchMax: 256,
  prefetchMax: 512,
  maxAckPending: 4096,
  ackWaitMs: 10_000,
  partitions: 16,
  maxDeliver: 5,
  ownershipTtlMs: 6_000,
  deviceConcurrencyMax: 64,
  messageBytesMax: 64 * 1024,
  pointsPerBatchMax: 4096,
  channelsMax: 16,
  dedupRangesMax: 256,
  seqJumpMax: 1 << 24,
  deviceRatePerSec: 200,
  deviceBurst: 1024,
  rateLimitDevicesMax: 200_000,
  casAttemptsMax: 16,
  heartbeatTimeoutFactor: 3,
  heartbeatIntervalDefaultMs: 10_000,
  sweepIntervalMs: 1_000,
  fullSweepEvery: 30,
  deviceCacheMax: 100_000,
  history: true,
  historyLayout: "channel",
  out: true,
  outDurable: true,
  schemaVersionMax: 1,
  historyCodec: defaultCompression.history.codec,
  historyCompressMinBytes: defaultCompression.history.thresholdBytes,
  outCodec: defaultCompression.out.codec,
  outCompressMinBytes: defaultCompression.out.thresholdBytes,
  historyReplication: defaultReplication.history,
  outReplication: defaultReplication.analytics,
  semiSyncTimeoutMs: semiSyncTimeoutDefaultMs,
};

type NumericKey = { [K in keyof IngestConfig]: IngestConfig[K] extends number ? K : never }[keyof IngestConfig];

const choices: Partial<Record<keyof IngestConfig, readonly string[]>> = {
  historyLayout: ["channel", "batch"],
  historyCodec: codecChoices,
  outCodec: codecChoices,
};

/** Mode settings and the data set each configures (checked by cloud/replication). */
const replicationKeys: Partial<Record<keyof IngestConfig, DataSet>> = {
  historyReplication: DataSet.History,
  outReplication: DataSet.Analytics,
};

const ranges: Record<NumericKey, [number, number]> = {
  replicas: [1, 5],
  batchMax: [1, 10_000],
  prefetchMax: [1, 100_000],
  maxAckPending: [1, 1_000_000],
  ackWaitMs: [1_000, 3_600_000],
  partitions: [1, 1024],
  maxDeliver: [2, 100],
  ownershipTtlMs: [500, 600_000],
  deviceConcurrencyMax: [1, 10_000],
  messageBytesMax: [64, 8 * 1024 * 1024],
  pointsPerBatchMax: [1, 1_000_000],
  channelsMax: [1, 256],
  dedupRangesMax: [4, 65_536],
  seqJumpMax: [1024, 2 ** 40],
  deviceRatePerSec: [1, 1_000_000],
  deviceBurst: [1, 10_000_000],
  rateLimitDevicesMax: [1, 10_000_000],
  casAttemptsMax: [1, 1_000],
  heartbeatTimeoutFactor: [1, 100],
  heartbeatIntervalDefaultMs: [100, 86_400_000],
  sweepIntervalMs: [50, 3_600_000],
  fullSweepEvery: [1, 1_000_000],
  deviceCacheMax: [1, 10_000_000],
  schemaVersionMax: [1, 1_000],
  historyCompressMinBytes: [0, thresholdBytesMax],
  outCompressMinBytes: [0, thresholdBytesMax],
  semiSyncTimeoutMs: [1, semiSyncTimeoutMaxMs],
};

/** Validates a raw config object (e.g. the `ingest` section of the cloud
 *  config file) and fills defaults. Throws one Error listing every problem. */
export function parseIngestConfig(raw: Record<string, unknown> | Partial<IngestConfig> = {}): IngestConfig {
  const out: IngestConfig = { ...defaultIngestConfig };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (!(key in defaultIngestConfig)) {
      problems.push(`ingest.${key}: unknown setting (known: ${Object.keys(defaultIngestConfig).join(", ")})`);
      continue;
    }
    const k = key as keyof IngestConfig;
    if (typeof defaultIngestConfig[k] === "boolean") {
      if (typeof value !== "boolean") problems.push(`ingest.${key}: expected true or false, got ${JSON.stringify(value)}`);
      else (out as unknown as Record<string, unknown>)[k] = value;
      continue;
    }
    const dataSet = replicationKeys[k];
    if (dataSet) {
      const problem = replicationProblem(`ingest.${key}`, dataSet, value);
      if (problem) problems.push(problem);
      else (out as unknown as Record<string, unknown>)[k] = value;
      continue;
    }
    const allowed = choices[k];
    if (allowed) {
      if (typeof value !== "string" || !allowed.includes(value)) problems.push(`ingest.${key}: expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
      else (out as unknown as Record<string, unknown>)[k] = value;
      continue;
    }
    const [lo, hi] = ranges[k as NumericKey];
    if (typeof value !== "number" || !Number.isInteger(value) || value < lo || value > hi) {
      problems.push(`ingest.${key}: expected an integer in ${lo}..${hi}, got ${JSON.stringify(value)}`);
      continue;
    }
    (out as unknown as Record<string, unknown>)[k] = value;
  }
  if (out.deviceBurst < firmwareOutboxMessagesMax) {
    problems.push(`ingest.deviceBurst (${out.deviceBurst}) must be >= the firmware outbox capacity (${firmwareOutboxMessagesMax}) so a backfill passes`);
  }
  if (out.prefetchMax < out.batchMax) problems.push(`ingest.prefetchMax (${out.prefetchMax}) must be >= ingest.batchMax (${out.batchMax})`);
  if (out.maxAckPending < out.prefetchMax) {
    problems.push(`ingest.maxAckPending (${out.maxAckPending}) must be >= ingest.prefetchMax (${out.prefetchMax})`);
  }
  if (problems.length > 0) throw new Error(`invalid ingest config:\n  ${problems.join("\n  ")}`);
  return out;
}
