// Errors of the telemetry codec. Every way untrusted bytes or bad input can
// fail is a CodecError with a reason code, so callers (ingest, gateways) can
// count rejections by reason instead of parsing messages.

export const CodecErrorReason = Object.freeze({
  /** The input ended before the structure it declares. */
  Truncated: "truncated",
  /** Unknown format version. */
  BadVersion: "bad-version",
  /** Unknown encoding identifier (header or block mode). */
  BadEncoding: "bad-encoding",
  /** A declared count (points, channels) is above the caller's limit. */
  LimitExceeded: "limit-exceeded",
  /** A field decodes to a value outside its valid range. */
  Corrupt: "corrupt",
  /** Bytes left over after the declared content. */
  TrailingBytes: "trailing-bytes",
  /** Encoder input cannot be represented (NaN, unsafe integer, bad resolution). */
  InvalidInput: "invalid-input",
  /** A number is outside the range the format can carry within 2^53. */
  ValueOutOfRange: "value-out-of-range",
} as const);
export type CodecErrorReason = (typeof CodecErrorReason)[keyof typeof CodecErrorReason];

export class CodecError extends Error {
  constructor(readonly reason: CodecErrorReason, message: string) {
    super(`codec: ${reason}: ${message}`);
    this.name = "CodecError";
  }
}
