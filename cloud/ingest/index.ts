// Public entry of the ingest role (data plane). See docs/ingest.md.
export { startIngestRole, type IngestDeps, type IngestRole } from "./role";
export { IngestPipeline, Checkpoint, type Delivery, type StatePort, type OutputPort, type IngestFaults, type PipelineHooks, type PipelineDeps } from "./pipeline";
export { PresenceSweep, type PresenceSweepDeps, type SweepStatePort } from "./presence-sweep";
export { PullLoop, jsDelivery } from "./pull-loop";
export {
  ensureIngestStreams,
  ensureIngestConsumer,
  IngestStream,
  defaultStreamLimits,
  durableName,
  sourceStream,
  type EnsureIngestOptions,
  type StreamLimits,
} from "./streams";
export {
  IngestSource,
  ingestSourceOf,
  emptyIngestStats,
  type IngestStats,
} from "./types";
export { defaultIngestConfig, parseIngestConfig, type IngestConfig, type HistoryLayout } from "./settings";
export { registerIngestMetrics } from "./metrics";
export { StateCache, DeviceLocks } from "./cache";
