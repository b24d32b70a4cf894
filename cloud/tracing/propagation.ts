// W3C trace context and baggage across NATS: the OpenTelemetry propagators
// (traceparent, tracestate, baggage) over nats.js message headers, and over
// the device Envelope's trace fields (MQTT 3.1.1 has no headers, so the
// envelope carries them). The parser of `traceparent` is the propagator's:
// an invalid value yields no parent (a new root), never an error.
import { ROOT_CONTEXT, trace, type Context, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import type { MsgHdrs } from "@nats-io/transport-node";


/** traceparent + tracestate, then baggage: one propagator, never the global one. */
export const propagator = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });

/** Header names the propagator reads and writes. */
export const TraceHeader = Object.freeze({ Traceparent: "traceparent", Tracestate: "tracestate", Baggage: "baggage" } as const);

/** What the getter reads: nats.js MsgHdrs (structurally, so the copy of nats-core inside @nats-io/services fits too). */
export interface ReadableHeaders {
  keys(): string[];
  has(k: string): boolean;
  values(k: string): string[];
}

export const natsHeaderGetter: TextMapGetter<ReadableHeaders> = {
  keys: (h) => h.keys(),
  get: (h, key) => {
    if (!h.has(key)) return undefined;
    const all = h.values(key);
    return all.length > 1 ? all : all[0];
  },
};

export const natsHeaderSetter: TextMapSetter<MsgHdrs> = {
  set: (h, key, value) => h.set(key, value),
};

/** Writes the context's trace headers (nothing when it has no valid span context). */
export function injectNatsHeaders(ctx: Context, h: MsgHdrs): void {
  propagator.inject(ctx, h, natsHeaderSetter);
}

/** The remote parent carried by a message's headers (ROOT_CONTEXT when none). */
export function extractNatsHeaders(h: ReadableHeaders | undefined): Context {
  return h ? propagator.extract(ROOT_CONTEXT, h, natsHeaderGetter) : ROOT_CONTEXT;
}

/** The trace fields of a device Envelope (shared/proto/xsfleet.proto, fields 5-7). */
export interface EnvelopeTrace {
  traceparent: string;
  tracestate: string;
  baggage: string;
}

const recordGetter: TextMapGetter<Record<string, string>> = {
  keys: (r) => Object.keys(r),
  get: (r, k) => (r[k] === "" ? undefined : r[k]),
};
const recordSetter: TextMapSetter<Record<string, string>> = { set: (r, k, v) => { r[k] = v; } };

/** Version 00 traceparent, lower-case hex (W3C trace-context level 1). */
const traceparent00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const zeroTraceId = "00000000000000000000000000000000";
const zeroSpanId = "0000000000000000";

/** The device's (or the cloud's) context from an envelope; ROOT_CONTEXT for an absent or invalid traceparent. */
export function contextFromEnvelope(e: Partial<EnvelopeTrace>): Context {
  // Fast path for what devices send (traceparent only), once per ingested
  // message: the same checks as the propagator's parser, without its carrier.
  if (!e.tracestate && !e.baggage && e.traceparent) {
    const m = traceparent00.exec(e.traceparent);
    if (m) {
      if (m[1] === zeroTraceId || m[2] === zeroSpanId) return ROOT_CONTEXT;
      return trace.setSpanContext(ROOT_CONTEXT, { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16) & 1, isRemote: true });
    }
    // Anything else (another version, bad text): the propagator's parser decides.
  }
  const carrier: Record<string, string> = {};
  if (e.traceparent) carrier[TraceHeader.Traceparent] = e.traceparent;
  if (e.tracestate) carrier[TraceHeader.Tracestate] = e.tracestate;
  if (e.baggage) carrier[TraceHeader.Baggage] = e.baggage;
  return propagator.extract(ROOT_CONTEXT, carrier, recordGetter);
}

/** The envelope trace fields that continue `ctx` ("" where it has none). */
export function envelopeTraceOf(ctx: Context): EnvelopeTrace {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, recordSetter);
  return { traceparent: carrier.traceparent ?? "", tracestate: carrier.tracestate ?? "", baggage: carrier.baggage ?? "" };
}

/** The traceparent of `ctx`'s span, "" when it has none (formatted directly: this runs per message). */
export function traceparentOf(ctx: Context): string {
  const sc = trace.getSpanContext(ctx);
  if (!sc || !trace.isSpanContextValid(sc)) return "";
  return `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`;
}

/** True when `ctx` holds a valid span context (local or remote). */
export function hasSpanContext(ctx: Context): boolean {
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && trace.isSpanContextValid(sc);
}
