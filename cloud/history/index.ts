// Public entry of telemetry history: time-range queries over the history
// stream (record formats in cloud/records). See docs/ingest.md.
export { queryHistory, scanStream, historyLimitMax, type HistoryQuery, type HistoryPoint, type HistoryResult, type HistoryScanHooks } from "./query";
