// Tracing settings from flags and environment, the off path (no provider at
// all), and W3C propagation over NATS headers and device envelopes.
import { describe, expect, it } from "vitest";
import { headers } from "@nats-io/transport-node";
import { propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import {
  contextFromEnvelope, defaultTracingSettings, envelopeTraceOf, extractNatsHeaders, injectNatsHeaders, startTracing, takeTracingSettings, tracingOff, TracingSettingsError,
} from "../../../cloud/tracing";

const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("tracing settings", () => {
  it("is off by default and takes its flags out of argv", () => {
    const r = takeTracingSettings(["--roles", "ingest", "--trace-ratio", "0.25", "--otlp-endpoint=http://c:4318"], {});
    expect(r.argv).toEqual(["--roles", "ingest"]);
    expect(r.settings).toMatchObject({ otlpEndpoint: "http://c:4318/v1/traces", ratio: 0.25 });
    expect(takeTracingSettings([], {}).settings.otlpEndpoint).toBeNull();
  });

  it("honours OTEL_EXPORTER_OTLP_ENDPOINT (base + /v1/traces), the traces endpoint, the ratio and OTEL_SDK_DISABLED; flags win", () => {
    expect(takeTracingSettings([], { OTEL_EXPORTER_OTLP_ENDPOINT: "http://col:4318/otlp" }).settings.otlpEndpoint).toBe("http://col:4318/otlp/v1/traces");
    expect(takeTracingSettings([], { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://col:4318/custom" }).settings.otlpEndpoint).toBe("http://col:4318/custom");
    expect(takeTracingSettings([], { OTEL_TRACES_SAMPLER_ARG: "0.5" }).settings.ratio).toBe(0.5);
    expect(takeTracingSettings(["--otlp-endpoint", "off"], { OTEL_EXPORTER_OTLP_ENDPOINT: "http://col:4318" }).settings.otlpEndpoint).toBeNull();
    expect(takeTracingSettings([], { OTEL_EXPORTER_OTLP_ENDPOINT: "http://col:4318", OTEL_SDK_DISABLED: "true" }).settings.otlpEndpoint).toBeNull();
  });

  it("refuses bad values with a message naming the setting", () => {
    expect(() => takeTracingSettings(["--trace-ratio", "2"], {})).toThrow(/--trace-ratio.*0 to 1/);
    expect(() => takeTracingSettings(["--otlp-endpoint", "ftp://x"], {})).toThrow(TracingSettingsError);
    expect(() => takeTracingSettings([], { OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => takeTracingSettings(["--trace-ratio"], {})).toThrow(/needs a value/);
  });
});

describe("the off path and sampling", () => {
  it("creates nothing when no endpoint is configured", () => {
    expect(startTracing({ serviceName: "x", instanceId: "n", settings: defaultTracingSettings })).toBe(tracingOff);
  });

  it("applies the ratio to sampled device parents on the trace id, and respects an unsampled parent", () => {
    const exporter = new InMemorySpanExporter();
    const none = startTracing({ serviceName: "x", instanceId: "n", settings: { ...defaultTracingSettings, ratio: 0 }, exporter, simple: true });
    none.tracer!.startSpan("kept?", {}, contextFromEnvelope({ traceparent: tp })).end();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    const all = startTracing({ serviceName: "x", instanceId: "n", settings: { ...defaultTracingSettings, ratio: 1 }, exporter, simple: true });
    all.tracer!.startSpan("kept", {}, contextFromEnvelope({ traceparent: tp })).end();
    all.tracer!.startSpan("unsampled parent", {}, contextFromEnvelope({ traceparent: tp.replace(/-01$/, "-00") })).end();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(["kept"]);
    expect(spans[0]!.spanContext().traceId).toBe(tp.slice(3, 35));
    expect(spans[0]!.parentSpanContext?.spanId).toBe(tp.slice(36, 52));
  });
});

describe("W3C propagation", () => {
  it("round-trips traceparent, tracestate and baggage through NATS headers and envelopes", () => {
    const ctx = contextFromEnvelope({ traceparent: tp, tracestate: "xsf=a", baggage: "site=lab,zone=b" });
    expect(trace.getSpanContext(ctx)).toMatchObject({ traceId: tp.slice(3, 35), spanId: tp.slice(36, 52), isRemote: true });
    expect(propagation.getBaggage(ctx)?.getEntry("zone")?.value).toBe("b");
    const h = headers();
    injectNatsHeaders(ctx, h);
    expect(h.get("traceparent")).toBe(tp);
    expect(h.get("tracestate")).toBe("xsf=a");
    const back = extractNatsHeaders(h);
    expect(envelopeTraceOf(back)).toEqual({ traceparent: tp, tracestate: "xsf=a", baggage: "site=lab,zone=b" });
  });

  it("gives no parent for an invalid or absent traceparent", () => {
    for (const bad of ["", "00-zz", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]) {
      expect(trace.getSpanContext(contextFromEnvelope({ traceparent: bad }))).toBeUndefined();
    }
    expect(extractNatsHeaders(undefined)).toBe(ROOT_CONTEXT);
  });
});
