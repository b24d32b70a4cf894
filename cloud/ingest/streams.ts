// The JetStream layout of ingest (docs/delivery.md "Streams and consumers"):
// one device stream XSF_UP (every uplink, as the broker's partition mapping
// puts it on `xsfleet.v1.p.<P>.dev.<id>.<kind>`, plus the unmapped MQTT
// wills), output streams (history, out, DLQ), one durable pull consumer per
// partition and one for the will relay, the MQTT session stream's size limit
// and the device state bucket. Every option is set explicitly; creation is
// idempotent (create, or update to this config) and safe from several nodes.
//
// Bounds: a device message larger than messageBytesMax + mqttHeaderSlackBytes
// is refused by `$MQTT_msgs` before the PUBACK (the device resends or drops
// it, never silently lost); XSF_UP takes the same size, so everything that
// was PUBACKed fits; ingest dead-letters a payload above messageBytesMax
// (`too-large`). Consumers redeliver at most maxDeliver times; ingest
// dead-letters at the last delivery (`poison`).
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Uplink } from "../../shared/topics";
import { historyStream } from "../records";
import { applyPlan, clusterServers, DataSet, defaultReplication, ensureMirror, mirrorStreamName, planReplication, ReplicationMode, type ReplicationPlan } from "../replication";
import { ensureDeviceStateBucket, type StateBucketOptions } from "../state";
import {
  allDevicesSubject, allDlqSubject, allHistorySubject, allOutTelemetrySubject, partitionSubject, uplinkStream, uplinkStreamSubjects,
} from "../subjects";
import type { IngestConfig } from "./settings";

const ms = 1_000_000; // nanoseconds per millisecond
const day = 24 * 3600_000;
const MiB = 1024 * 1024;
/** JetStream API error: stream name already in use with a different configuration. */
const streamNameInUse = 10058;
/** JetStream API error: subjects overlap with an existing stream. */
const streamSubjectOverlap = 10065;

export const IngestStream = {
  /** Every device uplink (partitioned) and the MQTT wills. */
  Uplinks: uplinkStream,
  History: historyStream,
  Out: "XSF_OUT",
  DeadLetter: "XSF_DLQ",
} as const;
export type IngestStream = (typeof IngestStream)[keyof typeof IngestStream];

/** The mirror streams ingest may create (async or semi-sync history and out; cloud/replication). */
export const ingestMirrorStreams: readonly string[] = Object.freeze([IngestStream.History, IngestStream.Out].map(mirrorStreamName));

/** Streams of earlier releases (one per uplink kind); their subjects overlap XSF_UP's. */
export const legacyUplinkStreams: readonly string[] = Object.freeze(["XSF_TELE", "XSF_HB", "XSF_HELLO", "XSF_CTR", "XSF_ACK"]);

/** nats-server's MQTT session stream: every QoS 1 publish is stored there before its PUBACK (docs/research/nats29 B1, B2). */
export const mqttMessagesStream = "$MQTT_msgs";
/** Room for the `Nmqtt-Pub` header nats-server stores with an MQTT message (about 30 bytes on 2.9.10). */
export const mqttHeaderSlackBytes = 64;

/** The durable consumer of partition `n`. */
export function partitionConsumerName(n: number): string {
  return `xsf-ingest-p${n}`;
}
/** The durable consumer of the will relay (will-relay.ts). */
export const willsConsumerName = "xsf-ingest-wills";

export interface StreamLimits {
  maxBytes: number;
  maxAgeMs: number;
  /** Largest message the stream stores. */
  msgBytesMax: number;
  /** Window in which a repeated Nats-Msg-Id is dropped. */
  duplicateWindowMs: number;
}

/** Defaults sized for a development machine (the test servers allow 4 GiB
 *  of file store); production sets larger limits through `limits`.
 *  XSF_UP's msgBytesMax is replaced by messageBytesMax + mqttHeaderSlackBytes. */
export const defaultStreamLimits: Record<IngestStream, StreamLimits> = {
  // The duplicate window covers relayed wills (Nats-Msg-Id will-<seq>).
  XSF_UP: { maxBytes: 384 * MiB, maxAgeMs: 7 * day, msgBytesMax: 64 * 1024 + mqttHeaderSlackBytes, duplicateWindowMs: 120_000 },
  // Output streams are deduplicated by Nats-Msg-Id: the window must outlast
  // the longest time between a first publish and its republish after a
  // crash (ack wait × deliveries + CAS retries), with a wide margin.
  XSF_HIST: { maxBytes: 384 * MiB, maxAgeMs: 30 * day, msgBytesMax: MiB, duplicateWindowMs: 600_000 },
  XSF_OUT: { maxBytes: 128 * MiB, maxAgeMs: 1 * day, msgBytesMax: MiB, duplicateWindowMs: 600_000 },
  XSF_DLQ: { maxBytes: 64 * MiB, maxAgeMs: 14 * day, msgBytesMax: MiB, duplicateWindowMs: 600_000 },
};

function subjectsOf(name: IngestStream): string[] {
  switch (name) {
    case IngestStream.Uplinks: return [...uplinkStreamSubjects];
    case IngestStream.History: return [allHistorySubject];
    case IngestStream.Out: return [allOutTelemetrySubject];
    case IngestStream.DeadLetter: return [allDlqSubject];
  }
}

export function streamConfig(name: IngestStream, replicas: number, limits: StreamLimits): Partial<StreamConfig> & { name: string } {
  return {
    name,
    subjects: subjectsOf(name),
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_bytes: limits.maxBytes,
    max_age: limits.maxAgeMs * ms,
    max_msg_size: limits.msgBytesMax,
    max_msgs: -1,
    max_msgs_per_subject: -1,
    max_consumers: -1,
    discard: DiscardPolicy.Old,
    duplicate_window: limits.duplicateWindowMs * ms,
    allow_rollup_hdrs: false,
    deny_delete: false,
    deny_purge: false,
    allow_direct: false,
    mirror_direct: false,
    sealed: false,
  };
}

type ConsumerSettings = Pick<IngestConfig, "ackWaitMs" | "maxAckPending" | "batchMax" | "prefetchMax" | "replicas" | "maxDeliver">;

/** A durable pull consumer on XSF_UP: explicit ack, finite deliveries (the caller dead-letters at the last). */
export function uplinkConsumerConfig(name: string, filter: string, description: string, cfg: ConsumerSettings): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: name,
    name,
    description,
    filter_subject: filter,
    ack_policy: AckPolicy.Explicit,
    ack_wait: cfg.ackWaitMs * ms,
    // Finite: a message that fails every time must not stall its partition
    // (issue 17); ingest dead-letters it at delivery maxDeliver, before the
    // server gives up on it.
    max_deliver: cfg.maxDeliver,
    max_ack_pending: cfg.maxAckPending,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    max_waiting: 512,
    max_batch: Math.max(cfg.batchMax, cfg.prefetchMax),
    max_expires: 60_000 * ms,
    num_replicas: cfg.replicas,
    mem_storage: false,
    headers_only: false,
  };
}

/** The consumer of partition n: `xsf-ingest-p<n>` on `xsfleet.v1.p.<n>.dev.*.*`, read by its owner only. */
export function partitionConsumerConfig(n: number, cfg: ConsumerSettings): Partial<ConsumerConfig> & { durable_name: string } {
  return uplinkConsumerConfig(partitionConsumerName(n), partitionSubject(n), `xsfleet ingest, partition ${n} (its owner only)`, cfg);
}

/** The will relay's consumer: `xsf-ingest-wills` on `xsfleet.v1.dev.*.status`, read by any ingest node. */
export function willsConsumerConfig(cfg: ConsumerSettings): Partial<ConsumerConfig> & { durable_name: string } {
  return uplinkConsumerConfig(willsConsumerName, allDevicesSubject(Uplink.Status), "xsfleet ingest: relays MQTT wills into their partition", cfg);
}

export interface EnsureIngestOptions {
  /** The cluster's replica count: sync data sets get it, async and semi-sync an R1 primary and an R1 mirror. */
  replicas: number;
  /** Modes of the data sets ingest writes that may differ from sync (docs/data-plane.md "Replication"). */
  replication?: Partial<IngestReplication>;
  /** Largest device payload ingest accepts (ingest.messageBytesMax); sets XSF_UP's and $MQTT_msgs' size limits. */
  messageBytesMax: number;
  /** Per-stream overrides of the default limits. */
  limits?: Partial<Record<IngestStream, Partial<StreamLimits>>>;
  state?: Partial<StateBucketOptions>;
}

export interface IngestReplication {
  history: ReplicationMode;
  out: ReplicationMode;
}

/** The data set of each ingest stream: the dead letters are uplinks too (the device had its PUBACK). */
export const ingestStreamDataSet: Readonly<Record<IngestStream, DataSet>> = Object.freeze({
  XSF_UP: DataSet.Uplinks, XSF_HIST: DataSet.History, XSF_OUT: DataSet.Analytics, XSF_DLQ: DataSet.Uplinks,
});

/** The plan of every ingest stream and the state bucket under these settings. */
export function ingestReplicationPlans(replicas: number, r: Partial<IngestReplication> = {}): Record<IngestStream, ReplicationPlan> & { state: ReplicationPlan } {
  return {
    XSF_UP: planReplication(DataSet.Uplinks, ReplicationMode.Sync, replicas),
    XSF_DLQ: planReplication(DataSet.Uplinks, ReplicationMode.Sync, replicas),
    XSF_HIST: planReplication(DataSet.History, r.history ?? defaultReplication.history, replicas),
    XSF_OUT: planReplication(DataSet.Analytics, r.out ?? defaultReplication.analytics, replicas),
    state: planReplication(DataSet.DeviceState, ReplicationMode.Sync, replicas),
  };
}

/** Creates or updates every stream ingest uses (and the mirrors their
 *  replication modes ask for), the MQTT message size limit and the device
 *  state bucket. Safe to call from several nodes at once. Returns the plans. */
export async function ensureIngestStreams(jsm: JetStreamManager, opts: EnsureIngestOptions): Promise<ReturnType<typeof ingestReplicationPlans>> {
  if (!Number.isInteger(opts.replicas) || opts.replicas < 1 || opts.replicas > 5) throw new Error(`stream replicas must be 1..5, got ${opts.replicas}`);
  const plans = ingestReplicationPlans(opts.replicas, opts.replication);
  await ensureUplinkStream(jsm, opts);
  // XSF_UP is sync: its replicas are the cluster's servers, where mirrors go.
  const servers = opts.replicas > 1 ? clusterServers(await jsm.streams.info(IngestStream.Uplinks)) : [];
  for (const name of [IngestStream.History, IngestStream.Out, IngestStream.DeadLetter]) {
    const cfg = applyPlan(streamConfig(name, opts.replicas, { ...defaultStreamLimits[name], ...opts.limits?.[name] }), plans[name]);
    await ensureStream(jsm, cfg);
    await ensureMirror(jsm, cfg, plans[name], servers);
  }
  await ensureDeviceStateBucket(jsm.jetstream(), { replicas: plans.state.primaryReplicas, ...opts.state });
  return plans;
}

/** XSF_UP and the MQTT message size limit alone (what a broker needs before devices publish). */
export async function ensureUplinkStream(jsm: JetStreamManager, opts: Pick<EnsureIngestOptions, "replicas" | "messageBytesMax" | "limits">): Promise<void> {
  const deviceBytesMax = opts.messageBytesMax + mqttHeaderSlackBytes;
  const name = IngestStream.Uplinks;
  const plan = planReplication(DataSet.Uplinks, ReplicationMode.Sync, opts.replicas);
  await ensureStream(jsm, applyPlan(streamConfig(name, opts.replicas, { ...defaultStreamLimits[name], msgBytesMax: deviceBytesMax, ...opts.limits?.[name] }), plan));
  await ensureMqttMessageLimit(jsm, deviceBytesMax, opts.replicas);
}

/**
 * Caps `$MQTT_msgs` at `bytesMax`, so an oversized QoS 1 publish is refused
 * (connection closed, no PUBACK) instead of PUBACKed and dropped by XSF_UP.
 * nats-server 2.9.10 creates the stream only when it is missing and never
 * updates it (mqtt.go mqttCreateAccountSessionManager), so the limit holds;
 * created here with the server's own settings when no MQTT client came yet.
 */
export async function ensureMqttMessageLimit(jsm: JetStreamManager, bytesMax: number, replicas: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.streams.info(mqttMessagesStream).catch((err: unknown) => {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
        throw err;
      });
      if (info === null) {
        await jsm.streams.add({
          name: mqttMessagesStream, subjects: ["$MQTT.msgs.>"], storage: StorageType.File, retention: RetentionPolicy.Interest,
          num_replicas: replicas, max_msg_size: bytesMax,
        });
      } else if (info.config.max_msg_size !== bytesMax) {
        await jsm.streams.update(mqttMessagesStream, { ...info.config, max_msg_size: bytesMax });
      }
      return;
    } catch (err) {
      // The MQTT listener created it between our info and add: look again.
      if (attempt < 3 && err instanceof JetStreamApiError && err.code === streamNameInUse) continue;
      throw new Error(`limiting ${mqttMessagesStream}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** Creates a stream or updates it to `cfg` (idempotent, safe from several nodes; analytics shares it). */
export async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.streams.info(cfg.name).catch((err: unknown) => {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
        throw err;
      });
      if (info === null) await jsm.streams.add(cfg);
      else if (needsUpdate(info.config as unknown as Record<string, unknown>, cfg)) await jsm.streams.update(cfg.name, cfg);
      return;
    } catch (err) {
      // Another node created it between our info and add: look again.
      if (attempt < 3 && err instanceof JetStreamApiError && err.code === streamNameInUse) continue;
      const overlap = err instanceof JetStreamApiError && err.code === streamSubjectOverlap
        ? ` (a stream of an earlier release still captures these subjects: drain and delete ${legacyUplinkStreams.join("/")}, see docs/ingest.md "Upgrading")` : "";
      throw new Error(`ensuring stream ${cfg.name}: ${err instanceof Error ? err.message : String(err)}${overlap}`);
    }
  }
}

function needsUpdate(have: Record<string, unknown>, want: Record<string, unknown>): boolean {
  for (const [k, v] of Object.entries(want)) {
    if (JSON.stringify(have[k]) !== JSON.stringify(v)) return true;
  }
  return false;
}

/** Creates or updates a durable consumer on XSF_UP (idempotent, safe from several nodes). */
export async function ensureUplinkConsumer(jsm: JetStreamManager, want: Partial<ConsumerConfig> & { durable_name: string }): Promise<void> {
  const stream = IngestStream.Uplinks;
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.consumers.info(stream, want.durable_name).catch((err: unknown) => {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return null;
        throw err;
      });
      if (info === null) await jsm.consumers.add(stream, want);
      else if (needsUpdate(info.config as unknown as Record<string, unknown>, want)) {
        const { durable_name: _d, name: _n, deliver_policy: _p, replay_policy: _r, filter_subject: _f, ...updatable } = want;
        await jsm.consumers.update(stream, want.durable_name, updatable);
      }
      return;
    } catch (err) {
      if (attempt < 3) continue;
      throw new Error(`ensuring consumer ${stream}/${want.durable_name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** Every consumer ingest reads: one per partition and the will relay's. */
export async function ensureIngestConsumers(jsm: JetStreamManager, cfg: IngestConfig): Promise<void> {
  for (let n = 0; n < cfg.partitions; n++) await ensureUplinkConsumer(jsm, partitionConsumerConfig(n, cfg));
  await ensureUplinkConsumer(jsm, willsConsumerConfig(cfg));
}
