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
import { admitAllDevices, startIngestRole, type IngestRole } from "../../../cloud/ingest";
import { localProposer } from "../../harness/local-proposer";
import { ControlStateMachine } from "../../../cloud/control";
import { defaultTracingSettings, otlpTracesUrl, ProcessKind, SpanName, Attr, startTracing, type Tracing } from "../../../cloud/tracing";
import { startSimDevice, type SimDevice } from "../../../firmware/host/sim-device";
import { decodeEnvelope, type Envelope } from "../../../shared/proto/xsfleet.gen";
import { quietLog } from "../ingest/helpers";

describe("tracing through ingest", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let collector: OtlpCollector;
  let tracing: Tracing;
  let role: IngestRole;
  let dev: SimDevice | null = null;
  let dir: string;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.servers });
    collector = await startOtlpCollector();
    tracing = startTracing({
      serviceName: ProcessKind.CloudNode, instanceId: "ingest-t1",
      settings: { ...defaultTracingSettings, otlpEndpoint: otlpTracesUrl(collector.url, "test"), exportDelayMs: 100 },
    });
    role = await startIngestRole({ nc, nodeId: "ingest-t1", control: localProposer(new ControlStateMachine()), admission: admitAllDevices, config: { ackWaitMs: 5_000 }, log: quietLog, tracer: tracing.tracer });
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-trace-"));
  });
  afterAll(async () => {
    dev?.crash();
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
    nc.subscribe(`xsfleet.v1.dev.${deviceId}.tele`, { callback: (_e, m) => { uplinks.push(decodeEnvelope(m.data)); } });
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
});
