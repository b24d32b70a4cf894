// The JetStream layout of the analytics role (docs/analytics.md): the results
// stream XSF_ANALYTICS, the alerts stream XSF_ALERTS (both deduplicated by
// Nats-Msg-Id: a replay after a takeover publishes the same ids again), the
// checkpoint bucket (one fenced key per partition), the alert-state bucket
// (one key per rule + key + episode), and the partition consumers
// `xsf-analytics-p<P>` on XSF_UP, separate from ingest's.
//
// A partition's consumer is recreated by each new owner to start right after
// its checkpoint's stream seq: the replay is in stream order, so the windows
// and rules see the same messages in the same order as the run without the
// fault (a durable consumer would first hand out new messages, then the
// unacked ones on redelivery).
import { AckPolicy, DeliverPolicy, DiscardPolicy, JetStreamApiCodes, JetStreamApiError, ReplayPolicy, RetentionPolicy, StorageType, type ConsumerConfig, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureStream } from "../ingest";
import { alertsStream, allAlertsSubject, allWindowResultsSubject, analyticsStream, partitionSubject, uplinkStream } from "../subjects";
import type { AnalyticsSettings } from "./settings";

const ms = 1_000_000; // nanoseconds per millisecond
const day = 24 * 3600_000;
const MiB = 1024 * 1024;

/** One fenced checkpoint per partition (key `p<P>`). */
export const checkpointBucket = "XSF_ANALYTICS_CKPT";
/** Alert lifecycle records (key: rule, key, episode). */
export const alertStateBucket = "XSF_ALERT_STATE";

/** The analytics consumer of partition n. */
export function analyticsConsumerName(n: number): string {
  return `xsf-analytics-p${n}`;
}

export function checkpointKey(partition: number): string {
  return `p${partition}`;
}

function streamCfg(name: string, subjects: string[], s: Pick<AnalyticsSettings, "replicas" | "duplicateWindowMs">): Partial<StreamConfig> & { name: string } {
  return {
    name, subjects, retention: RetentionPolicy.Limits, storage: StorageType.File, num_replicas: s.replicas,
    max_bytes: 256 * MiB, max_age: 30 * day * ms, max_msg_size: MiB, max_msgs: -1, max_msgs_per_subject: -1, max_consumers: -1,
    discard: DiscardPolicy.Old, duplicate_window: s.duplicateWindowMs * ms, allow_rollup_hdrs: false, deny_delete: false, deny_purge: false,
    allow_direct: false, mirror_direct: false, sealed: false,
  };
}

/** Streams and buckets of the role; idempotent, safe from several nodes. Returns the two buckets. */
export async function ensureAnalyticsStores(nc: NatsConnection, jsm: JetStreamManager, s: Pick<AnalyticsSettings, "replicas" | "duplicateWindowMs">): Promise<{ checkpoints: KV; alerts: KV }> {
  await ensureStream(jsm, streamCfg(analyticsStream, [allWindowResultsSubject], s));
  await ensureStream(jsm, streamCfg(alertsStream, [allAlertsSubject], s));
  const kvm = new Kvm(nc);
  const checkpoints = await kvm.create(checkpointBucket, { replicas: s.replicas, history: 2, storage: StorageType.File, maxValueSize: MiB, allow_direct: false });
  const alerts = await kvm.create(alertStateBucket, { replicas: s.replicas, history: 4, storage: StorageType.File, max_bytes: 64 * MiB, allow_direct: false });
  return { checkpoints, alerts };
}

/** The partition's consumer config, starting at `startSeq` of XSF_UP (the seq after the checkpoint). */
export function analyticsConsumerConfig(partition: number, startSeq: number, s: Pick<AnalyticsSettings, "ackWaitMs" | "batchMax" | "replicas">): Partial<ConsumerConfig> & { durable_name: string } {
  const name = analyticsConsumerName(partition);
  return {
    durable_name: name, name, description: `xsfleet analytics, partition ${partition} (its owner only, recreated at each takeover)`,
    filter_subject: partitionSubject(partition),
    // One ack covers the batch: the checkpoint covers every message up to it.
    ack_policy: AckPolicy.All,
    ack_wait: s.ackWaitMs * ms,
    max_deliver: -1,
    max_ack_pending: Math.max(1024, s.batchMax * 4),
    ...(startSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq } : { deliver_policy: DeliverPolicy.All }),
    replay_policy: ReplayPolicy.Instant,
    max_waiting: 512, max_batch: s.batchMax, max_expires: 60_000 * ms,
    num_replicas: s.replicas, mem_storage: false, headers_only: false,
  };
}

/** Deletes the partition's consumer (if any) and creates it at `startSeq`. Only the lease holder calls it. */
export async function resetAnalyticsConsumer(jsm: JetStreamManager, partition: number, startSeq: number, s: Pick<AnalyticsSettings, "ackWaitMs" | "batchMax" | "replicas">): Promise<void> {
  const name = analyticsConsumerName(partition);
  await jsm.consumers.delete(uplinkStream, name).catch((err: unknown) => {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return;
    throw err;
  });
  await jsm.consumers.add(uplinkStream, analyticsConsumerConfig(partition, startSeq, s));
}
