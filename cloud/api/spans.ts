// The span of one API request (`api.<endpoint>`, kind server). Its parent is
// the caller's trace context from the request's NATS headers (W3C
// traceparent/tracestate/baggage; a new root without them). The handler runs
// with the span active, so what it calls — a command's downlink, a
// control-plane proposal — becomes its child without passing contexts along.
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import { Attr, extractNatsHeaders, SpanName, type ReadableHeaders } from "../tracing";

export async function withRequestSpan<T>(tracer: Tracer, endpoint: string, nodeId: string, headers: ReadableHeaders | undefined, fn: () => Promise<T>): Promise<T> {
  const parent = extractNatsHeaders(headers);
  const span = tracer.startSpan(SpanName.ApiPrefix + endpoint, { kind: SpanKind.SERVER, attributes: { [Attr.NodeId]: nodeId } }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), fn);
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    span.end();
  }
}
