// History of decoded telemetry points. See docs/ingest.md.
export { queryHistory, historyLimitMax, type HistoryQuery, type HistoryPoint, type HistoryResult } from "./query";
export { historyStream, historySubject, historySubjectRoot, channelToken, decodeHistoryRecord, type HistoryRecord } from "./format";
