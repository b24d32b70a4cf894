// Public entry of tracing: OpenTelemetry setup of a process, W3C trace
// context and baggage over NATS headers and device envelopes, span names,
// OTLP decoding (for the dashboard's receiver and the tests). See
// docs/observability.md, "Tracing".
export { startTracing, tracingOff, ProcessKind, tracerName, type Tracing, type TracingOptions } from "./provider";
export { takeTracingSettings, tracingUsage, otlpTracesUrl, otlpTracesPath, defaultTracingSettings, TracingSettingsError, type TracingSettings } from "./settings";
export {
  propagator, TraceHeader, natsHeaderGetter, natsHeaderSetter, injectNatsHeaders, extractNatsHeaders, contextFromEnvelope, envelopeTraceOf, traceparentOf, hasSpanContext,
  type EnvelopeTrace, type ReadableHeaders,
} from "./propagation";
export { SpanName, Attr, BaggageKey } from "./names";
export { decodeOtlpProtobuf, decodeOtlpJson, exportTraceRequestType, OtlpDecodeError, requestSpansMax, type DecodedSpan, type AttrValue } from "./otlp-decode";
