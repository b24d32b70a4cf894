// A Raft proposal made by a traced caller is a span on the replica that
// serves it, across processes: a real control-plane replica process
// (cloud/controlplane/main.ts with --otlp-endpoint) on a real nats-server,
// a ControlClient with its own tracer in the test process, a collector that
// decodes OTLP with the official protobuf definitions.
//
//   test.root ─ control.device.register (client, test process)
//                └ controlplane.device.register (server, replica raft-1)
//                   ├ raft.propose   queued → appended (index, term)
//                   ├ raft.commit    appended → committed
//                   └ raft.apply     committed → applied
//
// Untraced requests (no trace context in their headers) make no replica span.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { context, trace } from "@opentelemetry/api";
import { CommandKind } from "../../../cloud/control";
import { ControlClient } from "../../../cloud/controlplane";
import { Attr, defaultTracingSettings, otlpTracesUrl, SpanName, startTracing, type DecodedSpan, type Tracing } from "../../../cloud/tracing";
import { startNats, type NatsCluster } from "../../harness/nats";
import { ProcessCluster } from "../../harness/control-plane";
import { startOtlpCollector, type OtlpCollector } from "../../harness/otlp-collector";
import { waitFor } from "../../harness/wait";

describe("Raft proposals as spans on the replica", () => {
  let nats: NatsCluster;
  let cluster: ProcessCluster;
  let collector: OtlpCollector;
  let tracing: Tracing;

  beforeAll(async () => {
    nats = await startNats();
    collector = await startOtlpCollector();
    cluster = await ProcessCluster.start(nats.servers[0]!, [1], ["--otlp-endpoint", collector.url]);
    await cluster.waitLeader(60_000);
    tracing = startTracing({ serviceName: "xsfleet-test", instanceId: "caller", settings: { ...defaultTracingSettings, otlpEndpoint: otlpTracesUrl(collector.url, "test"), exportDelayMs: 100 } });
  }, 90_000);
  afterAll(async () => {
    await tracing?.shutdown();
    await cluster?.stop();
    await collector?.close();
    await nats?.stop();
  });

  it("continues the caller's trace: server span with propose → commit → apply children", async () => {
    const client = new ControlClient(cluster.nc, { clientId: "traced-caller", tracer: tracing.tracer });
    // An untraced call first: it must not appear as a replica span.
    const plain = new ControlClient(cluster.nc, { clientId: "plain-caller" });
    expect((await plain.command({ kind: CommandKind.DeviceRegister, deviceId: "cp-plain-1", role: "sensor", metadata: {} })).ok).toBe(true);

    const root = tracing.tracer!.startSpan("test.root");
    const r = await context.with(trace.setSpan(context.active(), root), () =>
      client.command({ kind: CommandKind.DeviceRegister, deviceId: "cp-trace-1", role: "sensor", metadata: { site: "lab" } }));
    root.end();
    expect(r.ok).toBe(true);
    const traceId = root.spanContext().traceId;
    const inTrace = (name: string): DecodedSpan[] => collector.spans.filter((s) => s.traceId === traceId && s.name === name);

    const spans = await waitFor("the replica's server span and its steps", async () => {
      await tracing.flush();
      const server = inTrace(`${SpanName.ControlServePrefix}device.register`);
      const ok = server.find((s) => s.attributes[Attr.ControlOutcome] === "ok");
      if (!ok) return null;
      const steps = collector.spans.filter((s) => s.parentSpanId === ok.spanId);
      return steps.length >= 3 ? { server: ok, steps } : null;
    }, { timeoutMs: 30_000, detail: () => collector.spans.map((s) => `${s.name}@${s.instance}`).join(", ") });

    const clientSpan = inTrace(`${SpanName.ControlPrefix}device.register`)[0]!;
    expect(clientSpan.parentSpanId).toBe(root.spanContext().spanId);
    expect(clientSpan.instance).toBe("caller");
    const { server, steps } = spans;
    // Across processes: the replica's span is the client span's child.
    expect(server.parentSpanId).toBe(clientSpan.spanId);
    expect(server.instance).toBe("raft-1");
    expect(server.service).toBe("xsfleet-control");
    expect(server.kind).toBe(2); // server
    expect(server.attributes[Attr.RaftNode]).toBe(1);
    expect(Number(server.attributes[Attr.RaftIndex])).toBeGreaterThan(0);
    expect(Number(server.attributes[Attr.RaftTerm])).toBeGreaterThan(0);
    const byName = new Map(steps.map((s) => [s.name, s]));
    const propose = byName.get(SpanName.RaftPropose)!;
    const commit = byName.get(SpanName.RaftCommit)!;
    const apply = byName.get(SpanName.RaftApply)!;
    expect(propose && commit && apply).toBeTruthy();
    // In order, inside the server span.
    expect(propose.startMs).toBeGreaterThanOrEqual(server.startMs);
    expect(commit.startMs).toBeGreaterThanOrEqual(propose.endMs);
    expect(apply.startMs).toBeGreaterThanOrEqual(commit.endMs);
    expect(apply.endMs).toBeLessThanOrEqual(server.endMs + 1);

    // The untraced registration made no span on the replica.
    expect(collector.spans.filter((s) => s.instance === "raft-1" && s.parentSpanId === "").length).toBe(0);
  }, 60_000);
});
