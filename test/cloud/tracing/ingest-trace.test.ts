// Tracing through ingest against a real nats-server: a simulated device
// (the firmware's host port, over MQTT) sends telemetry; a real ingest role
// with the real OTLP/HTTP exporter sends spans to a collector, which decodes
// them with the official OTLP protobuf definitions. The device's message is
// the parent of ingest's device-batch span (same trace id, parent span id =
// the span id of the device's traceparent), the steps are its children, and
// the out record's traceparent header names the ingest span.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startNats, type NatsCluster } from "../../harness/nats";
import { waitFor } from "../../harness/wait";
import { startOtlpCollector, type OtlpCollector } from "../../harness/otlp-collector";
import { admitAllDevices, registerIngestMetrics, startIngestRole, type IngestRole, type ProcessingObserver } from "../../../cloud/ingest";
import { createProcessMetrics } from "../../../cloud/metrics";
import { localProposer } from "../../harness/local-proposer";
import { ControlStateMachine } from "../../../cloud/control";
import { defaultTracingSettings, otlpTracesUrl, ProcessKind, SpanName, Attr, startTracing, type Tracing } from "../../../cloud/tracing";
import { startSimDevice, type SimDevice } from "../../../firmware/host/sim-device";
import { decodeEnvelope, type Envelope } from "../../../shared/proto/xsfleet.gen";
import { quietLog } from "../ingest/helpers";
import { context, propagation, trace } from "@opentelemetry/api";
import { BaggageKey, extractNatsHeaders } from "../../../cloud/tracing";
import { ApiClient } from "../../../cloud/api";
import type { CloudNode } from "../../../cloud/node/node";
import { startTestNode } from "../api/fixture";

describe("tracing through ingest", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let collector: OtlpCollector;
  let tracing: Tracing;
  let role: IngestRole;
  let dev: SimDevice | null = null;
  let dev2: SimDevice | null = null;
  let observeProcessing: ProcessingObserver | null = null;
  let apiNode: CloudNode | null = null;
  let dir: string;

  beforeAll(async () => {
    nats = await startNats({ partitions: 16 });
    nc = await connect({ servers: nats.servers });
    collector = await startOtlpCollector();
    tracing = startTracing({
      serviceName: ProcessKind.CloudNode, instanceId: "ingest-t1",
      settings: { ...defaultTracingSettings, otlpEndpoint: otlpTracesUrl(collector.url, "test"), exportDelayMs: 100 },
    });
    role = await startIngestRole({
      nc, nodeId: "ingest-t1", control: localProposer(new ControlStateMachine()), admission: admitAllDevices, config: { ackWaitMs: 5_000 }, log: quietLog, tracer: tracing.tracer,
      onDeviceBatch: (s, t) => observeProcessing?.(s, t),
    });
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-trace-"));
  });
  afterAll(async () => {
    dev?.crash();
    dev2?.crash();
    await apiNode?.stop();
    await role?.stop();
    await tracing?.shutdown();
    await collector?.close();
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("makes the device's message the parent of ingest's spans, and the out record carries the ingest span", async () => {
    const deviceId = "trace-dev-1";
    const uplinks: Envelope[] = [];
    const outs: Array<{ seq: number; traceparent: string }> = [];
    nc.subscribe(`xsfleet.v1.p.*.dev.${deviceId}.tele`, { callback: (_e, m) => { uplinks.push(decodeEnvelope(m.data)); } });
    nc.subscribe(`xsfleet.v1.out.${deviceId}.telemetry`, { callback: (_e, m) => { outs.push({ seq: m.json<{ seq: number }>().seq, traceparent: m.headers?.get("traceparent") ?? "" }); } });
    await nc.flush();
    dev = await startSimDevice({
      deviceId, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, deviceId), speedup: 500, heartbeatIntervalMs: 1_000,
      sampleIntervalMs: 20, batchPointsMax: 8, trace: { file: "location_A-measurement01.csv", nodeId: 1, loop: true }, seed: 11,
    });

    // Wait for a telemetry message whose ingest span has been exported.
    const found = await waitFor("an exported ingest span for a device telemetry message", async () => {
      await tracing.flush();
      for (const env of uplinks) {
        const [, traceId, spanId] = env.traceparent.split("-");
        const s = collector.byName(SpanName.IngestDeviceBatch).find((x) => x.traceId === traceId && x.attributes[Attr.DeviceSeq] === env.seq);
        if (s) return { env, span: s, traceId: traceId!, deviceSpanId: spanId! };
      }
      return null;
    }, { detail: () => `uplinks ${uplinks.length} (${uplinks.slice(0, 3).map((u) => `${u.seq} ${u.traceparent}`).join(", ")}); spans ${collector.spans.length}: ${collector.spans.slice(0, 5).map((x) => `${x.name} ${x.traceId} ${JSON.stringify(x.attributes)}`).join("; ")}; content ${collector.contentTypes.slice(0, 2).join(",")}; stats ${JSON.stringify(role.stats())}` });
    const { env, span, traceId, deviceSpanId } = found;
    expect(span.parentSpanId).toBe(deviceSpanId);
    expect(span.service).toBe(ProcessKind.CloudNode);
    expect(span.instance).toBe("ingest-t1");
    expect(span.kind).toBe(5); // consumer
    expect(span.attributes[Attr.DeviceId]).toBe(deviceId);
    expect(span.attributes[Attr.Points]).toBe(env.telemetry!.pointCount);
    expect(span.attributes[Attr.DeviceTimeMs]).toBe(env.deviceTimeMs);

    // The steps are children of the device-batch span, in the same trace.
    const children = await waitFor("the step spans", async () => {
      await tracing.flush();
      const c = collector.spans.filter((x) => x.traceId === traceId && x.parentSpanId === span.spanId);
      const names = new Set(c.map((x) => x.name));
      return [SpanName.IngestConsume, SpanName.IngestDecode, SpanName.IngestApply, SpanName.IngestOutputs, SpanName.IngestStateWrite].every((n) => names.has(n)) ? c : null;
    });
    for (const c of children) {
      expect(c.startMs).toBeGreaterThanOrEqual(span.startMs);
      expect(c.endMs).toBeLessThanOrEqual(span.endMs + 1);
    }
    expect(children.find((c) => c.name === SpanName.IngestApply)!.attributes[Attr.Points]).toBe(env.telemetry!.pointCount);

    // The out record continues the trace from the ingest span.
    const out = await waitFor("the out record of that seq", () => outs.find((o) => o.seq === env.seq));
    expect(out.traceparent).toBe(`00-${traceId}-${span.spanId}-01`);
  });

  it("adds the device's site, zone and firmware as W3C baggage that an output subscriber reads; a history query continues the trace", async () => {
    const deviceId = "trace-dev-bag";
    const outs: Array<{ seq: number; traceparent: string; site?: string; zone?: string; firmware?: string }> = [];
    const hellos: Envelope[] = [];
    // An integrator's out subscriber, reading the headers with the OpenTelemetry propagators.
    nc.subscribe(`xsfleet.v1.out.${deviceId}.telemetry`, {
      callback: (_e, m) => {
        const bag = propagation.getBaggage(extractNatsHeaders(m.headers));
        outs.push({
          seq: m.json<{ seq: number }>().seq, traceparent: m.headers?.get("traceparent") ?? "",
          site: bag?.getEntry(BaggageKey.Site)?.value, zone: bag?.getEntry(BaggageKey.Zone)?.value, firmware: bag?.getEntry(BaggageKey.FirmwareVersion)?.value,
        });
      },
    });
    nc.subscribe(`xsfleet.v1.p.*.dev.${deviceId}.hello`, { callback: (_e, m) => { hellos.push(decodeEnvelope(m.data)); } });
    await nc.flush();
    dev2 = await startSimDevice({
      deviceId, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, deviceId), speedup: 500, heartbeatIntervalMs: 1_000,
      sampleIntervalMs: 20, batchPointsMax: 8, trace: { file: "location_A-measurement01.csv", nodeId: 1, loop: true }, seed: 12,
      location: { site: "plant 7", zone: "line-2", latitude: 0, longitude: 0 }, firmwareVersion: "1.4.2-rc1",
    });
    const out = await waitFor("an out record with the device's baggage", () => outs.find((o) => o.site !== undefined), { detail: () => JSON.stringify(outs.slice(0, 3)) });
    expect(out).toMatchObject({ site: "plant 7", zone: "line-2", firmware: "1.4.2-rc1" });
    const [, ingestTrace, ingestSpanId] = out.traceparent.split("-");
    // The ingest span says the same, as attributes.
    const span = await waitFor("the ingest span of that record", async () => {
      await tracing.flush();
      return collector.spans.find((s) => s.spanId === ingestSpanId);
    });
    expect(span.attributes[Attr.Site]).toBe("plant 7");
    expect(span.attributes[Attr.FirmwareVersion]).toBe("1.4.2-rc1");

    // A history query through the API: its span is inside the API call and links to the ingest traces of the records it read.
    const apiTracing = startTracing({ serviceName: ProcessKind.CloudNode, instanceId: "api-h", settings: { ...defaultTracingSettings, otlpEndpoint: otlpTracesUrl(collector.url, "test"), exportDelayMs: 100 } });
    try {
      apiNode = await startTestNode(nats.servers, { nodeId: "api-h", roles: ["api"] }, { tracer: apiTracing.tracer });
      const channel = (await waitFor("the device's hello", () => hellos.find((h) => h.hello !== undefined)))!.hello!.channels[0]!.name;
      const api = new ApiClient(nc);
      const root = apiTracing.tracer!.startSpan("test.history");
      const result = await context.with(trace.setSpan(context.active(), root), () => api.queryTelemetry({ deviceId, channel, fromMs: 0, toMs: Date.now() + 3_600_000 * 24 * 365 }));
      root.end();
      expect((result as { points: unknown[] }).points.length).toBeGreaterThan(0);
      const q = await waitFor("the history query span", async () => {
        await apiTracing.flush();
        return collector.spans.find((s) => s.traceId === root.spanContext().traceId && s.name === SpanName.HistoryQuery);
      });
      const apiSpan = collector.spans.find((s) => s.spanId === q.parentSpanId)!;
      expect(apiSpan.name).toBe("api.telemetry.query");
      expect(apiSpan.parentSpanId).toBe(root.spanContext().spanId);
      expect(q.attributes[Attr.DeviceId]).toBe(deviceId);
      expect(Number(q.attributes[Attr.HistoryScanned])).toBeGreaterThan(0);
      // Linked to ingest traces of this device's records (each one a device message's trace).
      expect(q.links.length).toBeGreaterThan(0);
      const ingestTraces = new Set(collector.byName(SpanName.IngestDeviceBatch).filter((s) => s.attributes[Attr.DeviceId] === deviceId).map((s) => s.traceId));
      await tracing.flush();
      expect(q.links.some((l) => ingestTraces.has(l.traceId) || l.traceId === ingestTrace)).toBe(true);
    } finally {
      await apiNode?.stop();
      apiNode = null;
      await apiTracing.shutdown();
    }
  }, 60_000);

  it("links the processing-seconds histogram to traces with exemplars (OpenMetrics)", async () => {
    const m = createProcessMetrics({ node: "ingest-t1" }, { openMetrics: true, processMetrics: false });
    observeProcessing = registerIngestMetrics(m.registry, () => role.stats());
    const exemplar = /^xsfleet_ingest_processing_seconds_bucket\{[^}]*\} \d+ # \{trace_id="([0-9a-f]{32})",span_id="([0-9a-f]{16})"\} ([0-9.e-]+) [0-9.]+$/m;
    // The devices of the other tests keep sending: batches keep coming.
    let last = "";
    const found = await waitFor("a bucket with an exemplar", async () => exemplar.exec((last = await m.registry.metrics())), {
      timeoutMs: 15_000, detail: () => `${last.split("\n").filter((l) => l.includes("processing")).slice(0, 6).join("\n")}; stats ${JSON.stringify(role.stats())}`,
    });
    const [, traceId, spanId] = found;
    const span = await waitFor("the exemplar's span among the exported ones", async () => {
      await tracing.flush();
      return collector.spans.find((s) => s.traceId === traceId && s.spanId === spanId);
    });
    expect(span.name).toBe(SpanName.IngestDeviceBatch);
    const text = await m.registry.metrics();
    expect(m.registry.contentType).toMatch(/openmetrics/);
    expect(Number(/^xsfleet_ingest_processing_seconds_count\{[^}]*\} (\d+)/m.exec(text)![1])).toBeGreaterThan(0);
    observeProcessing = null;
  }, 30_000);
});
