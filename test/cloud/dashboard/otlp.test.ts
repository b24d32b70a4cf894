// The dashboard's OTLP/HTTP receiver, browser-free: the real OpenTelemetry
// SDK exporting protobuf to POST /v1/traces, a hand-written OTLP/JSON body
// (the specification's encoding: hex ids, string nanos), and the bounds:
// oversized bodies (plain and gzipped) refused with 413, other content types
// 415, undecodable bodies 400, the ring bounded in traces and in spans.
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { startDashboard } from "../../../cloud/dashboard/server";
import { MemoryDashboardSource } from "../../../cloud/dashboard/memory-source";
import { demoCluster, demoFleet } from "../../../cloud/dashboard/demo";
import { TraceStore } from "../../../cloud/dashboard/trace-store";
import type { DashboardHandle, DashboardLimits } from "../../../cloud/dashboard/types";
import { defaultTracingSettings, otlpTracesUrl, startTracing, type DecodedSpan } from "../../../cloud/tracing";

const nowMs = 1_700_000_000_000;
let handles: DashboardHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.map((h) => h.stop()));
  handles = [];
});

async function start(limits: Partial<DashboardLimits> = {}): Promise<DashboardHandle> {
  const source = new MemoryDashboardSource({ fleet: demoFleet(3, nowMs, 1), cluster: demoCluster(nowMs, 1), history: false, nowMs });
  const h = await startDashboard({ port: 0, source, limits });
  handles.push(h);
  return h;
}

const hex = (n: number, bytes: number): string => n.toString(16).padStart(bytes * 2, "0");

/** An OTLP/JSON request with one span per (trace, span) pair. */
function jsonBody(spans: Array<{ trace: number; span: number; parent?: number; name?: string; device?: string }>): string {
  return JSON.stringify({
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "json-svc" } }, { key: "service.instance.id", value: { stringValue: "j1" } }] },
      scopeSpans: [{
        scope: { name: "test" },
        spans: spans.map((s) => ({
          traceId: hex(s.trace, 16), spanId: hex(s.span, 8), parentSpanId: s.parent ? hex(s.parent, 8) : "",
          name: s.name ?? "json.span", kind: 2, startTimeUnixNano: "1700000000000000000", endTimeUnixNano: "1700000000250000000",
          attributes: [
            ...(s.device ? [{ key: "xsfleet.device.id", value: { stringValue: s.device } }] : []),
            { key: "xsfleet.device.seq", value: { intValue: "42" } },
          ],
          status: { code: 1 },
        })),
      }],
    }],
  });
}

const post = (url: string, body: string | Uint8Array, type: string, extra: Record<string, string> = {}): Promise<Response> =>
  fetch(`${url}v1/traces`, { method: "POST", body, headers: { "content-type": type, ...extra } });

describe("dashboard OTLP receiver", () => {
  it("takes protobuf exports from the OpenTelemetry SDK and serves the trace", async () => {
    const h = await start();
    const tracing = startTracing({ serviceName: "sdk-svc", instanceId: "n1", settings: { ...defaultTracingSettings, otlpEndpoint: otlpTracesUrl(h.url, "test") } });
    const tracer = tracing.tracer!;
    const parent = tracer.startSpan("parent.op", { attributes: { "xsfleet.device.id": "dev-9" } });
    const child = tracer.startSpan("child.op", {}, trace.setSpan(ROOT_CONTEXT, parent));
    child.end();
    parent.end();
    await tracing.flush();
    await tracing.shutdown();
    const traceId = parent.spanContext().traceId;
    const list = (await (await fetch(`${h.url}api/traces?device=dev-9`)).json()) as { traces: Array<{ traceId: string; spans: number; name: string; services: string[] }> };
    expect(list.traces.map((t) => t.traceId)).toEqual([traceId]);
    expect(list.traces[0]).toMatchObject({ spans: 2, name: "parent.op", services: ["sdk-svc"] });
    const got = (await (await fetch(`${h.url}api/traces/${traceId}`)).json()) as { spans: DecodedSpan[] };
    const byName = Object.fromEntries(got.spans.map((s) => [s.name, s]));
    expect(byName["child.op"]!.parentSpanId).toBe(parent.spanContext().spanId);
    expect(byName["parent.op"]!.instance).toBe("n1");
  });

  it("takes OTLP/JSON, plain and gzipped", async () => {
    const h = await start();
    const r1 = await post(h.url, jsonBody([{ trace: 1, span: 1, device: "dev-j" }, { trace: 1, span: 2, parent: 1, name: "json.child" }]), "application/json");
    expect(r1.status).toBe(200);
    expect(await r1.json()).toEqual({});
    const r2 = await post(h.url, gzipSync(jsonBody([{ trace: 2, span: 3 }])), "application/json", { "content-encoding": "gzip" });
    expect(r2.status).toBe(200);
    const t1 = (await (await fetch(`${h.url}api/traces/${hex(1, 16)}`)).json()) as { spans: DecodedSpan[] };
    expect(t1.spans).toHaveLength(2);
    expect(t1.spans.find((s) => s.name === "json.child")).toMatchObject({ parentSpanId: hex(1, 8), service: "json-svc", startMs: nowMs, endMs: nowMs + 250 });
    expect(t1.spans[0]!.attributes["xsfleet.device.seq"]).toBe(42);
    expect((await fetch(`${h.url}api/traces/${hex(2, 16)}`)).status).toBe(200);
  });

  it("refuses oversized bodies with 413, other types with 415, garbage with 400", async () => {
    const h = await start({ otlpBodyBytesMax: 2048 });
    const big = jsonBody(Array.from({ length: 40 }, (_, i) => ({ trace: 7, span: i + 1 })));
    expect(big.length).toBeGreaterThan(2048);
    expect((await post(h.url, big, "application/json")).status).toBe(413);
    // Small on the wire, large once unpacked: refused too.
    const bomb = gzipSync(Buffer.alloc(1_000_000, 0x20));
    expect(bomb.length).toBeLessThan(2048);
    expect((await post(h.url, bomb, "application/json", { "content-encoding": "gzip" })).status).toBe(413);
    expect((await post(h.url, "x", "text/plain")).status).toBe(415);
    const bad = await post(h.url, new Uint8Array([0x0a, 0xff, 0xff, 0xff]), "application/x-protobuf");
    expect(bad.status).toBe(400);
    expect((await post(h.url, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\",\"spanId\":\"01\"}]}]}]}", "application/json")).status).toBe(400);
    expect((await fetch(`${h.url}v1/traces`)).status).toBe(405);
    // Nothing of it was stored, and the server still answers.
    const list = (await (await fetch(`${h.url}api/traces`)).json()) as { held: number };
    expect(list.held).toBe(0);
  });

  it("keeps a bounded ring: the oldest traces go first", async () => {
    const h = await start({ tracesMax: 3 });
    for (let t = 1; t <= 5; t++) expect((await post(h.url, jsonBody([{ trace: t, span: t }]), "application/json")).status).toBe(200);
    const list = (await (await fetch(`${h.url}api/traces`)).json()) as { held: number; traces: Array<{ traceId: string }> };
    expect(list.held).toBe(3);
    expect(list.traces.map((t) => t.traceId)).toEqual([5, 4, 3].map((t) => hex(t, 16)));
    expect((await fetch(`${h.url}api/traces/${hex(1, 16)}`)).status).toBe(404);
  });
});

describe("TraceStore bounds", () => {
  const span = (t: number, s: number): DecodedSpan => ({
    traceId: hex(t, 16), spanId: hex(s, 8), parentSpanId: "", name: "s", kind: 1, service: "x", instance: "", startMs: s, endMs: s + 1,
    attributes: {}, statusCode: 0, statusMessage: "", links: [],
  });

  it("caps spans per trace and in all, and ignores a re-sent span", () => {
    const st = new TraceStore({ tracesMax: 10, spansPerTraceMax: 3, spansMax: 5 });
    st.add([span(1, 1), span(1, 2), span(1, 3), span(1, 4), span(1, 1)]);
    expect(st.get(hex(1, 16))!.length).toBe(3);
    expect(st.dropped).toBe(1);
    st.add([span(2, 5), span(2, 6), span(3, 7)]); // 6 spans > 5: trace 1 (least recent) goes
    expect(st.get(hex(1, 16))).toBeNull();
    expect(st.spanCount).toBe(3);
    expect(st.spanCount).toBeLessThanOrEqual(5);
  });
});
