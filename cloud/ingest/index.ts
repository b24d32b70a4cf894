// Public entry of the ingest role (data plane). See docs/ingest.md.
export { startIngestRole, type IngestDeps, type IngestRole } from "./role";
export { IngestPipeline, Checkpoint, OwnershipLost, failureBackoffMs, Admission, admitAllDevices, type AdmissionPort, type RateLimitPort, type Delivery, type StatePort, type OutputPort, type IngestFaults, type PipelineHooks, type PipelineDeps, type BatchTrace, ShadowReportOutcome, type ShadowReportPort } from "./pipeline";
export { PresenceSweep, type PresenceSweepDeps, type SweepStatePort } from "./presence-sweep";
export { PullLoop, jsDelivery } from "./pull-loop";
export {
  ensureIngestStreams,
  ensureUplinkStream,
  ensureIngestConsumers,
  ensureUplinkConsumer,
  ensureStream,
  ensureMqttMessageLimit,
  uplinkConsumerConfig,
  partitionConsumerConfig,
  partitionConsumerName,
  willsConsumerName,
  mqttMessagesStream,
  mqttHeaderSlackBytes,
  legacyUplinkStreams,
  IngestStream,
  defaultStreamLimits,
  ingestReplicationPlans,
  ingestStreamDataSet,
  ingestMirrorStreams,
  type IngestReplication,
  type EnsureIngestOptions,
  type StreamLimits,
} from "./streams";
export { fairShare } from "./fair-share";
export { PartitionOwnership, ControlPlaneIngestMembership, type IngestMembership, type OwnershipDeps, type ShareWorker } from "./ownership";
export { PartitionWorker, partitionLease, type OwnedPartition, type PartitionWorkerDeps } from "./partition-worker";
export { WillRelay, type WillRelayDeps } from "./will-relay";
export { WillRelayHeader, relayedWillMsgId, relayedWillSeq } from "./will-header";
export {
  emptyIngestStats,
  type IngestStats,
} from "./types";
export { defaultIngestConfig, parseIngestConfig, type IngestConfig, type HistoryLayout } from "./settings";
export { registerIngestMetrics, processingBuckets, type ProcessingObserver } from "./metrics";
export { DeviceRateLimiter, type RateLimitOptions } from "./rate-limit";
export { buildReceipts, coalesce } from "./receipt";
export { admitSeq, recordSeq, raiseFloor, hwmOf, isRecorded, checkDedup, DedupVerdict, retiredEpochsMax, type DedupLimits } from "./dedup";
export { StateCache, DeviceLocks } from "./cache";
