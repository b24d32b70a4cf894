// Spans of ingest (docs/observability.md, "Tracing"): one span per device
// batch (one device's messages of one pull batch), child of the device's
// message, with children for each step of the order of effects:
//
//   ingest.device_batch   JetStream storage → ack (kind consumer)
//     ingest.consume      waiting in the stream: storage time → pickup
//     ingest.decode       decode of the pull batch (limits, codec)
//     ingest.apply        dedup (device, seq) + merge, per attempt
//     ingest.outputs      history and out records stored
//     ingest.state_write  device state compare-and-set, per attempt
//
// The parent is the first message with a valid traceparent; the other
// messages' contexts are links (at most linksMax). History and out records
// carry the device-batch span's context, so consumers continue the trace,
// with W3C baggage (site, zone, firmware version from the device's last
// Hello, beside any baggage the device sent) that the records' `baggage`
// header carries to every consumer.
// Only built when the pipeline has a tracer: with tracing off the pipeline
// never reaches this file.
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type Link, type Span, type Tracer } from "@opentelemetry/api";
import { Attr, BaggageKey, contextFromEnvelope, hasSpanContext, SpanName, traceparentOf } from "../tracing";
import type { HelloState } from "../state";
import type { ApplyResult, IngestItem, TelemetryOutput } from "./apply";

/** Links from one device-batch span to the other messages' traces. */
export const linksMax = 16;

/** When the pull batch was picked up and decoded (ms since the epoch). */
export interface BatchTiming {
  pickedMs: number;
  decodedMs: number;
}

/** Telemetry output with the context its records carry (the publisher injects it). */
export interface TracedTelemetryOutput extends TelemetryOutput {
  traceContext?: Context;
}

export class DeviceBatchSpan {
  readonly #tracer: Tracer;
  readonly #span: Span;
  readonly #ctx: Context;
  readonly #open = new Set<Span>();

  constructor(tracer: Tracer, deviceId: string, source: string, items: readonly IngestItem[], timing: BatchTiming | undefined) {
    this.#tracer = tracer;
    let parent: Context = ROOT_CONTEXT;
    let parentItem: IngestItem | undefined;
    let points = 0;
    let storedMs = Infinity;
    // Refused messages (seq known, bytes suspect) carry no trace context worth following.
    const decoded = items.flatMap((it) => (it.msg.ok ? [{ it, m: it.msg }] : []));
    for (const it of items) storedMs = Math.min(storedMs, it.timeMs);
    let parentMsg: (typeof decoded)[number]["m"] | undefined;
    for (const { it, m } of decoded) {
      points += m.telemetry?.pointCount ?? 0;
      if (parentItem || m.env.traceparent === "") continue;
      const ctx = contextFromEnvelope(m.env);
      if (hasSpanContext(ctx)) { parent = ctx; parentItem = it; parentMsg = m; }
    }
    const startMs = Number.isFinite(storedMs) ? storedMs : Date.now();
    this.#span = tracer.startSpan(SpanName.IngestDeviceBatch, { kind: SpanKind.CONSUMER, startTime: startMs }, parent);
    this.#ctx = trace.setSpan(parent, this.#span);
    // Attributes, links and the timing spans only for a trace that is kept:
    // at 1 % sampling the other 99 % cost a parse and a sampler call.
    if (!this.#span.isRecording()) return;
    const first = parentMsg ?? decoded[0]?.m;
    this.#span.setAttributes({
      [Attr.DeviceId]: deviceId, [Attr.DeviceSeq]: first?.env.seq ?? 0, [Attr.DeviceTimeMs]: first?.env.deviceTimeMs ?? 0,
      [Attr.Points]: points, [Attr.Messages]: items.length, [Attr.Source]: source,
      [Attr.MessagingSystem]: "nats", [Attr.MessagingDestination]: first ? `${first.kind}` : "",
    });
    const links: Link[] = [];
    for (const { it, m } of decoded) {
      if (links.length >= linksMax) break;
      if (it === parentItem || m.env.traceparent === "") continue;
      const sc = trace.getSpanContext(contextFromEnvelope(m.env));
      if (sc && trace.isSpanContextValid(sc)) links.push({ context: sc });
    }
    if (links.length > 0) this.#span.addLinks(links);
    if (timing) {
      this.#tracer.startSpan(SpanName.IngestConsume, { startTime: Math.min(startMs, timing.pickedMs) }, this.#ctx).end(timing.pickedMs);
      this.#tracer.startSpan(SpanName.IngestDecode, { startTime: timing.pickedMs }, this.#ctx).end(timing.decodedMs);
    }
  }

  get recording(): boolean {
    return this.#span.isRecording();
  }

  /** Trace and span id when the trace is kept (a metrics exemplar names them), else null; also after end(). */
  trace(): { traceId: string; spanId: string } | null {
    const sc = this.#span.spanContext();
    if ((sc.traceFlags & TraceFlags.SAMPLED) === 0) return null;
    return { traceId: sc.traceId, spanId: sc.spanId };
  }

  /** Records the pure apply step that ran from `startMs` to now. */
  applied(startMs: number, r: ApplyResult): void {
    if (!this.recording) return;
    this.#tracer.startSpan(SpanName.IngestApply, {
      startTime: startMs,
      attributes: { [Attr.Points]: r.points, [Attr.Duplicates]: r.duplicates, [Attr.Rejected]: r.rejections.length },
    }, this.#ctx).end();
  }

  /** Starts a child step; the returned function ends it (end() ends any left open, as failed). */
  step(name: string, attributes: Record<string, number> = {}): () => void {
    if (!this.recording) return noop;
    const s = this.#tracer.startSpan(name, { attributes }, this.#ctx);
    this.#open.add(s);
    return () => { this.#open.delete(s); s.end(); };
  }

  /** The telemetry outputs, carrying this span's context and the device's
   *  baggage to history and out consumers (an unsampled trace: only its
   *  traceparent, flags 00, on the out record). */
  carry(telemetry: readonly TelemetryOutput[], hello: HelloState | null): TracedTelemetryOutput[] {
    const tp = traceparentOf(this.#ctx);
    if (!this.recording) return telemetry.map((t) => ({ ...t, traceparent: tp }));
    if (telemetry.length === 0) return [];
    const ctx = this.#withDevice(hello);
    return telemetry.map((t) => ({ ...t, traceparent: tp, traceContext: ctx }));
  }

  /** The span's context with the device's site, zone and firmware as baggage (and span attributes). */
  #withDevice(hello: HelloState | null): Context {
    if (!hello) return this.#ctx;
    const entries: Array<[string, string]> = [];
    if (hello.location?.site) entries.push([BaggageKey.Site, hello.location.site]);
    if (hello.location?.zone) entries.push([BaggageKey.Zone, hello.location.zone]);
    if (hello.firmwareVersion) entries.push([BaggageKey.FirmwareVersion, hello.firmwareVersion]);
    if (entries.length === 0) return this.#ctx;
    let bag = propagation.getBaggage(this.#ctx) ?? propagation.createBaggage();
    for (const [k, v] of entries) {
      bag = bag.setEntry(k, { value: v });
      this.#span.setAttribute(k, v);
    }
    return propagation.setBaggage(this.#ctx, bag);
  }

  end(error?: unknown): void {
    for (const s of this.#open) {
      s.setStatus({ code: SpanStatusCode.ERROR, message: "not completed" });
      s.end();
    }
    this.#open.clear();
    if (error !== undefined) this.#span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    this.#span.end();
  }
}

const noop = (): void => {};
