// Public entry of the ingest role (data plane). See docs/ingest.md.
export { startIngestRole, type IngestDeps, type IngestFaults, type IngestRole } from "./role";
export {
  ensureIngestStreams,
  ensureIngestConsumer,
  IngestStream,
  defaultStreamLimits,
  durableName,
  dlqSubject,
  dlqSubjectRoot,
  type EnsureIngestOptions,
  type StreamLimits,
} from "./streams";
export { DlqHeader, encodeOutTelemetry, type OutTelemetryJson } from "./outputs";
export {
  DlqReason,
  IngestSource,
  defaultIngestConfig,
  parseIngestConfig,
  type IngestConfig,
  type IngestLog,
  type IngestStats,
} from "./types";
export { registerIngestMetrics } from "./metrics";
