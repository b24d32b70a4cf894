// Spans of command delivery (docs/observability.md, "Tracing"). A command's
// round trip is one trace:
//
//   api.commands.send                 (cloud/api; or the caller's span)
//     commands.downlink  ×attempt     producer: the envelope's traceparent names it
//       (device: executes; its CommandAck's traceparent is a child of the downlink)
//         commands.ack                consumer: the ack recorded (parent: the device's ack)
//
// The record keeps the traceparent of the call that submitted it, so a
// retry sent later by another node's worker joins the same trace. Without a
// tracer every function here returns at once; the envelope then carries the
// record's traceparent (or a fresh one), as before tracing existed.
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import { newTraceparent } from "../base";
import { Attr, contextFromEnvelope, SpanName, traceparentOf, type EnvelopeTrace } from "../tracing";
import type { CommandRecord } from "./types";

/** The traceparent a new command keeps: the active span's (an API call), "" outside any span. */
export function submitTraceparent(tracer: Tracer | null): string {
  return tracer ? traceparentOf(context.active()) : "";
}

/**
 * The traceparent of one downlink attempt. Traced: a producer span, child of
 * the submitting call, ended at once (the publish is fire-and-forget at QoS 0).
 */
export function downlinkTraceparent(tracer: Tracer | null, r: CommandRecord): string {
  if (!tracer) return r.traceparent || newTraceparent();
  const parent = r.traceparent ? contextFromEnvelope({ traceparent: r.traceparent }) : context.active();
  const span = tracer.startSpan(SpanName.CommandDownlink, {
    kind: SpanKind.PRODUCER,
    attributes: { [Attr.DeviceId]: r.deviceId, [Attr.CommandId]: r.commandId, [Attr.CommandName]: r.name, [Attr.CommandAttempt]: r.attempt },
  }, parent);
  const tp = traceparentOf(trace.setSpan(parent, span));
  span.end();
  return tp;
}

/** Runs the recording of a device's CommandAck in a consumer span whose parent is the ack's trace context. */
export async function withAckSpan<T>(tracer: Tracer | null, deviceId: string, env: Partial<EnvelopeTrace> & { commandId: string; status: number }, fn: (span: Span | null) => Promise<T>): Promise<T> {
  if (!tracer) return fn(null);
  const parent = contextFromEnvelope(env);
  const span = tracer.startSpan(SpanName.CommandAck, {
    kind: SpanKind.CONSUMER,
    attributes: { [Attr.DeviceId]: deviceId, [Attr.CommandId]: env.commandId, [Attr.AckStatus]: env.status },
  }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    span.end();
  }
}
