// Public entry of the ingest role (data plane). See docs/ingest.md.
export { startIngestRole, type IngestDeps, type IngestFaults, type IngestRole } from "./role";
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
  type IngestStats,
} from "./types";
export { defaultIngestConfig, parseIngestConfig, type IngestConfig } from "./settings";
export { registerIngestMetrics } from "./metrics";
