// Public entry of the wire contracts the cloud reads and writes besides
// device state: device-message decoding, history records and the JSON
// integrators receive.
export {
  decodeDeviceMessage, decodeTelemetry, decodeCommandAck, decodedKinds, DlqReason, channelNameBytesMax, countersPerMessageMax, textFieldProblem, ackLimits,
  type DecodedMessage, type DecodedTelemetry, type DecodedChannel, type DecodedCounter, type DecodeConfig, type DecodeResult, type Rejected, type Result,
} from "./device-message";
export {
  historyStream, historyMsgId, historyBatchMsgId, seqKey, encodeHistoryRecord, decodeHistoryRecord, encodeHistoryBatch, decodeHistoryBatch,
  type HistoryRecord,
} from "./history-record";
export {
  encodeOutTelemetry, outMsgId, encodeDeviceEvent, DlqHeader, deadLetterMsgId,
  type OutTelemetryJson, type OutTelemetrySource, type DeviceEventJson,
} from "./integrator";
export { isOnlineSignal } from "./online-signal";
