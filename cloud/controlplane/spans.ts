// The span of one control-plane call (`control.<endpoint>`, kind client):
// a Raft proposal (or ReadIndex read) with its redirects and retries, child
// of whatever span is active — an API request proposing a registry write
// shows the proposal inside it. The request carries the span's context in
// its NATS headers.
import { context, SpanKind, SpanStatusCode, trace, type Context, type Tracer } from "@opentelemetry/api";
import { Attr, SpanName } from "../tracing";

export async function withControlSpan<T>(tracer: Tracer, endpoint: string, retries: () => number, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const parent = context.active();
  const span = tracer.startSpan(SpanName.ControlPrefix + endpoint, { kind: SpanKind.CLIENT, attributes: { [Attr.ControlEndpoint]: endpoint } }, parent);
  const before = retries();
  try {
    return await fn(trace.setSpan(parent, span));
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    span.setAttribute(Attr.ControlRetries, retries() - before);
    span.end();
  }
}
