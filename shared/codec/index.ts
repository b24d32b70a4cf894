// Telemetry time-series codec: public surface for firmware and cloud.
export { CodecError, CodecErrorReason } from "./errors";
export {
  BatchDecoder,
  decodeBatch,
  decodeSeries,
  defaultCodecLimits,
  Encoding,
  encodeBatch,
  encodeSeries,
  formatVersion,
  formatVersionV1,
  type Channel,
  type CodecLimits,
  type DecodedSeries,
  type Series,
  type TelemetryBatch,
} from "./batch";
export { decodeGorilla, encodeGorilla, type GorillaSeries } from "./gorilla";
export { atResolution, dequantize, parseResolution, quantize, type Resolution } from "./resolution";
export { blockPointsMax, TimeBlockMode } from "./time";
export { ValueBlockMode } from "./values";
