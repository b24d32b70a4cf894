// The dashboard's bounded in-memory ring of recent traces, fed by its OTLP
// receiver (otlp-receiver.ts) from the processes of `xsfleet up`.
//
// Bounds: at most tracesMax traces, spansPerTraceMax spans in one trace
// (more are counted as dropped) and spansMax spans in all; the least
// recently updated trace is evicted first. A trace is "updated" whenever a
// span of it arrives, so a command whose ack comes late stays together.
// Invariant: spanCount === sum of spans over the traces held.
import type { DecodedSpan } from "../tracing";

export interface TraceStoreLimits {
  tracesMax: number;
  spansPerTraceMax: number;
  spansMax: number;
}

export const defaultTraceStoreLimits: Readonly<TraceStoreLimits> = Object.freeze({ tracesMax: 500, spansPerTraceMax: 256, spansMax: 20_000 });

/** One row of the trace list. */
export interface TraceSummary {
  traceId: string;
  /** The root span's name, or the earliest span's when the root is elsewhere (a device). */
  name: string;
  startMs: number;
  durationMs: number;
  spans: number;
  services: string[];
  /** xsfleet.device.id of any span, "" when none. */
  deviceId: string;
  /** xsfleet.device.seq of the span that names the device, 0 when none. */
  seq: number;
  errors: number;
}

interface Held {
  spans: DecodedSpan[];
  /** Span ids already held: a re-sent export is not counted twice. */
  ids: Set<string>;
}

export class TraceStore {
  readonly #limits: TraceStoreLimits;
  /** Map order is recency: a trace is re-inserted on every update. */
  readonly #traces = new Map<string, Held>();
  #spanCount = 0;
  /** Spans refused (trace full) or evicted with their trace. */
  dropped = 0;
  received = 0;

  constructor(limits: Partial<TraceStoreLimits> = {}) {
    this.#limits = { ...defaultTraceStoreLimits, ...limits };
    for (const [k, v] of Object.entries(this.#limits)) if (!Number.isInteger(v) || v < 1) throw new Error(`trace store limit ${k} must be a positive integer, got ${String(v)}`);
  }

  get size(): number { return this.#traces.size; }
  get spanCount(): number { return this.#spanCount; }

  add(spans: readonly DecodedSpan[]): void {
    for (const s of spans) {
      this.received++;
      let t = this.#traces.get(s.traceId);
      if (t) this.#traces.delete(s.traceId);
      else t = { spans: [], ids: new Set() };
      this.#traces.set(s.traceId, t);
      if (t.ids.has(s.spanId)) continue;
      if (t.spans.length >= this.#limits.spansPerTraceMax) { this.dropped++; continue; }
      t.spans.push(s);
      t.ids.add(s.spanId);
      this.#spanCount++;
      this.#evict(s.traceId);
    }
  }

  /** Drops the least recent traces (never `keep`) until both bounds hold. */
  #evict(keep: string): void {
    for (const [id, t] of this.#traces) {
      if (this.#traces.size <= this.#limits.tracesMax && this.#spanCount <= this.#limits.spansMax) return;
      if (id === keep) continue;
      this.#traces.delete(id);
      this.#spanCount -= t.spans.length;
      this.dropped += t.spans.length;
    }
  }

  get(traceId: string): DecodedSpan[] | null {
    const t = this.#traces.get(traceId);
    return t ? [...t.spans].sort((a, b) => a.startMs - b.startMs) : null;
  }

  /** The `limit` most recently updated traces (that name `deviceId`, when given), newest start first. */
  list(limit: number, deviceId = ""): TraceSummary[] {
    const out: TraceSummary[] = [];
    const ids = [...this.#traces.keys()].reverse();
    for (const id of ids) {
      if (out.length >= limit) break;
      const s = summarize(id, this.#traces.get(id)!.spans);
      if (deviceId === "" || s.deviceId === deviceId) out.push(s);
    }
    return out.sort((a, b) => b.startMs - a.startMs);
  }
}

export function summarize(traceId: string, spans: readonly DecodedSpan[]): TraceSummary {
  const held = new Set(spans.map((s) => s.spanId));
  let start = Infinity;
  let end = -Infinity;
  let root: DecodedSpan | undefined;
  let deviceId = "";
  let seq = 0;
  let errors = 0;
  const services = new Set<string>();
  for (const s of spans) {
    start = Math.min(start, s.startMs);
    end = Math.max(end, s.endMs);
    services.add(s.service);
    if (s.statusCode === 2) errors++;
    const isRoot = s.parentSpanId === "" || !held.has(s.parentSpanId);
    if (isRoot && (!root || s.startMs < root.startMs)) root = s;
    const dev = s.attributes["xsfleet.device.id"];
    if (deviceId === "" && typeof dev === "string") {
      deviceId = dev;
      const q = s.attributes["xsfleet.device.seq"];
      if (typeof q === "number") seq = q;
    }
  }
  return {
    traceId, name: root?.name ?? "", startMs: Number.isFinite(start) ? start : 0, durationMs: Number.isFinite(end - start) ? end - start : 0,
    spans: spans.length, services: [...services].sort(), deviceId, seq, errors,
  };
}
