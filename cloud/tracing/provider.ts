// The OpenTelemetry tracer of one process: resource (service.name = the
// process kind, service.instance.id = its node id), a parent-based ratio
// sampler, a bounded batch processor and the OTLP/HTTP (protobuf) exporter.
//
// Off costs nothing: with no endpoint (and no exporter given) `startTracing`
// returns `tracer: null` and creates no provider, processor or timer. Callers
// hold an optional tracer and skip every span call when it is null, so the
// hot path does not even build attributes (bench/tracing.ts measures it).
//
// Sampling. Devices mark every message sampled: they cannot know the fleet's
// budget. So the ratio applies to new roots *and* to sampled remote parents
// (a device, or another process); it is a function of the trace id
// (TraceIdRatioBased), so every process keeps or drops the same traces and a
// kept trace is complete. A remote parent that says "not sampled" is
// respected; a local parent decides for its children.
//
// Bounds: the batch queue holds queueSpansMax spans (then the SDK drops and
// counts); exports carry exportBatchSpansMax spans; attribute values are cut
// at attributeValueLengthMax characters.
import type { Tracer } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, SimpleSpanProcessor, TraceIdRatioBasedSampler, type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { installContextManager } from "./context-manager";
import type { TracingSettings } from "./settings";

/** Spans per OTLP export request. */
export const exportBatchSpansMax = 512;
/** Longest attribute value kept (characters). */
export const attributeValueLengthMax = 1_024;
/** Export request timeout. */
export const exportTimeoutMs = 10_000;
/** The instrumentation scope of every xsfleet span. */
export const tracerName = "xsfleet";

/** Process kinds that export spans: the service.name of their spans. */
export const ProcessKind = Object.freeze({
  CloudNode: "xsfleet-cloud",
  /** A Raft replica of the control plane (cloud/controlplane/main.ts). */
  ControlReplica: "xsfleet-control",
  Bench: "xsfleet-bench",
} as const);
export type ProcessKind = (typeof ProcessKind)[keyof typeof ProcessKind];

export interface TracingOptions {
  serviceName: ProcessKind | string;
  /** service.instance.id: the node id. */
  instanceId: string;
  settings: TracingSettings;
  /** Replaces the OTLP exporter (tests, benchmarks); tracing is on when given. */
  exporter?: SpanExporter;
  /** Export every span at once instead of batching (tests that must see each span). */
  simple?: boolean;
  /**
   * Install the AsyncLocalStorage context manager (default true): needed
   * where a span must be the parent of calls made deep inside it without a
   * context argument (API → registry → control plane). It costs every
   * promise of the process a hook on Node 20 once a context is entered, so a
   * process that only ingests (explicit contexts) turns it off.
   */
  implicitContext?: boolean;
}

export interface Tracing {
  /** Null when tracing is off: callers skip spans entirely. */
  readonly tracer: Tracer | null;
  /** Exports what is queued (tests, before stop). */
  flush(): Promise<void>;
  /** Flushes and stops the processor; idempotent. */
  shutdown(): Promise<void>;
}

export const tracingOff: Tracing = Object.freeze({ tracer: null, flush: async () => {}, shutdown: async () => {} });

const serviceInstanceIdKey = "service.instance.id";

export function startTracing(o: TracingOptions): Tracing {
  const { settings } = o;
  if (!o.exporter && settings.otlpEndpoint === null) return tracingOff;
  if (!(settings.ratio >= 0 && settings.ratio <= 1)) throw new Error(`trace ratio ${settings.ratio} is not in 0..1`);
  const exporter = o.exporter ?? new OTLPTraceExporter({ url: settings.otlpEndpoint!, timeoutMillis: exportTimeoutMs });
  const ratio = new TraceIdRatioBasedSampler(settings.ratio);
  const processor = o.simple ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter, {
    maxQueueSize: settings.queueSpansMax,
    maxExportBatchSize: Math.min(exportBatchSpansMax, settings.queueSpansMax),
    scheduledDelayMillis: settings.exportDelayMs,
    exportTimeoutMillis: exportTimeoutMs,
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: o.serviceName, [serviceInstanceIdKey]: o.instanceId }),
    sampler: new ParentBasedSampler({ root: ratio, remoteParentSampled: ratio }),
    spanLimits: { attributeValueLengthLimit: attributeValueLengthMax },
    spanProcessors: [processor],
  });
  // Implicit context (API handler → control-plane client) needs a context
  // manager; the ingest path passes contexts explicitly and does not use it.
  if (o.implicitContext ?? true) installContextManager();
  let stopped: Promise<void> | null = null;
  return {
    tracer: provider.getTracer(tracerName),
    flush: () => provider.forceFlush(),
    shutdown: () => (stopped ??= provider.shutdown().catch(() => undefined)),
  };
}
