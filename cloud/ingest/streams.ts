// The JetStream layout of ingest: device streams (what devices send, as the
// MQTT listener maps it to subjects), output streams (history, out, DLQ), the
// shared durable pull consumers and the device state bucket. Every option is
// set explicitly; creation is idempotent (create, or update to this config).
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
import { ensureDeviceStateBucket, type StateBucketOptions } from "../state";
import { allDevicesSubject, allDlqSubject, allHistorySubject, allOutTelemetrySubject } from "../subjects";
import type { IngestConfig } from "./settings";
import { IngestSource } from "./types";

const ms = 1_000_000; // nanoseconds per millisecond
const day = 24 * 3600_000;
const MiB = 1024 * 1024;
/** JetStream API error: stream name already in use with a different configuration. */
const streamNameInUse = 10058;

export const IngestStream = {
  Telemetry: "XSF_TELE",
  Heartbeat: "XSF_HB",
  /** Hello and Status (the MQTT will): one stream so their order is the server's. */
  Hello: "XSF_HELLO",
  Counters: "XSF_CTR",
  /** Command acks; consumed by cloud/commands, not by ingest. */
  Acks: "XSF_ACK",
  History: historyStream,
  Out: "XSF_OUT",
  DeadLetter: "XSF_DLQ",
} as const;
export type IngestStream = (typeof IngestStream)[keyof typeof IngestStream];

/** Stream consumed for each ingest source, and the shared durable's name. */
export const sourceStream: Record<IngestSource, IngestStream> = {
  tele: IngestStream.Telemetry,
  hb: IngestStream.Heartbeat,
  presence: IngestStream.Hello,
  ctr: IngestStream.Counters,
};
export function durableName(source: IngestSource): string {
  return `xsf-ingest-${source}`;
}

export interface StreamLimits {
  maxBytes: number;
  maxAgeMs: number;
  /** Largest message the stream stores. */
  msgBytesMax: number;
  /** Window in which a repeated Nats-Msg-Id is dropped. */
  duplicateWindowMs: number;
}

/** Defaults sized for a development machine (the test servers allow 2 GiB
 *  of file store); production sets larger limits through `limits`. */
export const defaultStreamLimits: Record<IngestStream, StreamLimits> = {
  XSF_TELE: { maxBytes: 256 * MiB, maxAgeMs: 7 * day, msgBytesMax: MiB, duplicateWindowMs: 120_000 },
  XSF_HB: { maxBytes: 32 * MiB, maxAgeMs: 1 * day, msgBytesMax: 64 * 1024, duplicateWindowMs: 120_000 },
  XSF_HELLO: { maxBytes: 32 * MiB, maxAgeMs: 30 * day, msgBytesMax: 64 * 1024, duplicateWindowMs: 120_000 },
  XSF_CTR: { maxBytes: 32 * MiB, maxAgeMs: 7 * day, msgBytesMax: 64 * 1024, duplicateWindowMs: 120_000 },
  XSF_ACK: { maxBytes: 32 * MiB, maxAgeMs: 7 * day, msgBytesMax: 64 * 1024, duplicateWindowMs: 120_000 },
  // Output streams are deduplicated by Nats-Msg-Id: the window must outlast
  // the longest time between a first publish and its republish after a
  // crash (ack wait + CAS retries), with a wide margin.
  XSF_HIST: { maxBytes: 384 * MiB, maxAgeMs: 30 * day, msgBytesMax: MiB, duplicateWindowMs: 600_000 },
  XSF_OUT: { maxBytes: 128 * MiB, maxAgeMs: 1 * day, msgBytesMax: MiB, duplicateWindowMs: 600_000 },
  XSF_DLQ: { maxBytes: 64 * MiB, maxAgeMs: 14 * day, msgBytesMax: MiB, duplicateWindowMs: 600_000 },
};

function subjectsOf(name: IngestStream): string[] {
  switch (name) {
    case IngestStream.Telemetry: return [allDevicesSubject(Uplink.Telemetry)];
    case IngestStream.Heartbeat: return [allDevicesSubject(Uplink.Heartbeat)];
    case IngestStream.Hello: return [allDevicesSubject(Uplink.Hello), allDevicesSubject(Uplink.Status)];
    case IngestStream.Counters: return [allDevicesSubject(Uplink.Counters)];
    case IngestStream.Acks: return [allDevicesSubject(Uplink.CommandAck)];
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

export function consumerConfig(source: IngestSource, cfg: Pick<IngestConfig, "ackWaitMs" | "maxAckPending" | "batchMax" | "prefetchMax" | "replicas">): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: durableName(source),
    name: durableName(source),
    description: `xsfleet ingest (${source}), shared by all ingest nodes`,
    ack_policy: AckPolicy.Explicit,
    ack_wait: cfg.ackWaitMs * ms,
    // Unlimited: a message that cannot be processed for a transient reason
    // (KV unavailable) must not be dropped; bad input is dead-lettered and
    // acked instead of being redelivered.
    max_deliver: -1,
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

export interface EnsureIngestOptions {
  replicas: number;
  /** Per-stream overrides of the default limits. */
  limits?: Partial<Record<IngestStream, Partial<StreamLimits>>>;
  state?: Partial<StateBucketOptions>;
}

/** Creates or updates every stream ingest uses, and the device state bucket.
 *  Safe to call from several nodes at once. */
export async function ensureIngestStreams(jsm: JetStreamManager, opts: EnsureIngestOptions): Promise<void> {
  if (!Number.isInteger(opts.replicas) || opts.replicas < 1 || opts.replicas > 5) throw new Error(`stream replicas must be 1..5, got ${opts.replicas}`);
  for (const name of Object.values(IngestStream)) {
    const limits = { ...defaultStreamLimits[name], ...opts.limits?.[name] };
    await ensureStream(jsm, streamConfig(name, opts.replicas, limits));
  }
  await ensureDeviceStateBucket(jsm.jetstream(), { replicas: opts.replicas, ...opts.state });
}

async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
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
      throw new Error(`ensuring stream ${cfg.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

function needsUpdate(have: Record<string, unknown>, want: Record<string, unknown>): boolean {
  for (const [k, v] of Object.entries(want)) {
    if (JSON.stringify(have[k]) !== JSON.stringify(v)) return true;
  }
  return false;
}

/** Creates or updates the shared durable consumer of `source`. */
export async function ensureIngestConsumer(jsm: JetStreamManager, source: IngestSource, cfg: IngestConfig): Promise<void> {
  const stream = sourceStream[source];
  const want = consumerConfig(source, cfg);
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.consumers.info(stream, want.durable_name).catch((err: unknown) => {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return null;
        throw err;
      });
      if (info === null) await jsm.consumers.add(stream, want);
      else if (needsUpdate(info.config as unknown as Record<string, unknown>, want)) {
        const { durable_name: _d, name: _n, deliver_policy: _p, replay_policy: _r, ...updatable } = want;
        await jsm.consumers.update(stream, want.durable_name, updatable);
      }
      return;
    } catch (err) {
      if (attempt < 3) continue;
      throw new Error(`ensuring consumer ${stream}/${want.durable_name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
