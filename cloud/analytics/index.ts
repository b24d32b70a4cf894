// Public entry of the analytics role: event-time windows and rules
// (shared/stream) over the partitioned device stream, exactly-once results,
// alerts and actions. See docs/analytics.md.
export { startAnalyticsRole, type AnalyticsDeps, type AnalyticsRole } from "./role";
export { PartitionProcessor, emptyProcessorStats, type PartitionCheckpoint, type ProcessorConfig, type ProcessorOutput, type ProcessorStats, type OperatorConfig, type InputMessage } from "./processor";
export { AnalyticsPartitionWorker, analyticsRole, type AnalyticsFaults, type OutputSink } from "./partition-worker";
export { AlertStore, AlertError, alertKey, alertsListMax } from "./alerts";
export { ActionRunner, actionCommandId, type CommandPort } from "./actions";
export { queryWindows, alertHistory, analyticsQueryLimitMax, type WindowsQuery, type WindowsResult, type AlertHistoryQuery } from "./query";
export { resultRecord, type WindowResultRecord } from "./outputs";
export { ensureAnalyticsStores, analyticsConsumerName, checkpointBucket, alertStateBucket, checkpointKey } from "./streams";
export { defaultAnalyticsSettings, defaultOperators, type AnalyticsSettings } from "./settings";
export { emptyAnalyticsStats, AlertState, type AnalyticsStats, type AlertRecord, type AlertEvent } from "./types";
export { ControlPlaneRules, RulesWatch, RuleStoreError, ruleDefs } from "./rules-store";
export { registerAnalyticsMetrics } from "./metrics";
export { partitionRules, clockAheadMaxMs } from "./processor";
