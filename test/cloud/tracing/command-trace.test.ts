// A command's round trip is one trace, across processes, against a real
// nats-server, a real control-plane replica and the simulated firmware:
//
//   caller span ─ api.commands.send (api node) ─┬ control.* (Raft proposal/read of the registry)
//                                               └ commands.downlink ─ (device: ack) ─ commands.ack (commands node)
//
// Every node has its own tracer (own service.instance.id) exporting over
// OTLP/HTTP to a collector that decodes with the official OTLP protobuf
// definitions; the device's envelopes are read off NATS to check the links
// the device makes (command traceparent in, ack traceparent out).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { context, trace } from "@opentelemetry/api";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ApiClient } from "../../../cloud/api";
import type { CloudNode } from "../../../cloud/node/node";
import { defaultTracingSettings, otlpTracesUrl, ProcessKind, SpanName, Attr, startTracing, type Tracing, type DecodedSpan } from "../../../cloud/tracing";
import { startSimDevice, type SimDevice } from "../../../firmware/host/sim-device";
import { decodeEnvelope, type Envelope } from "../../../shared/proto/xsfleet.gen";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startControlPlaneInProcess, type InProcessControlPlane } from "../../harness/control-plane";
import { startOtlpCollector, type OtlpCollector } from "../../harness/otlp-collector";
import { waitFor } from "../../harness/wait";
import { startTestNode } from "../api/fixture";

describe("command round trip as one trace", () => {
  let nats: NatsCluster;
  let cp: InProcessControlPlane;
  let collector: OtlpCollector;
  const tracings: Tracing[] = [];
  const nodes: CloudNode[] = [];
  let nc: NatsConnection;
  let dev: SimDevice | null = null;
  let dir: string;

  const tracingFor = (instanceId: string, serviceName: string): Tracing => {
    const t = startTracing({ serviceName, instanceId, settings: { ...defaultTracingSettings, otlpEndpoint: otlpTracesUrl(collector.url, "test"), exportDelayMs: 100 } });
    tracings.push(t);
    return t;
  };
  const flushAll = (): Promise<unknown> => Promise.all(tracings.map((t) => t.flush()));

  beforeAll(async () => {
    nats = await startNats({ partitions: 16 });
    cp = await startControlPlaneInProcess(nats.servers[0]!);
    collector = await startOtlpCollector();
    const over = { registry: "control" };
    nodes.push(await startTestNode(nats.servers, { ...over, nodeId: "api-node", roles: ["api"] }, { tracer: tracingFor("api-node", ProcessKind.CloudNode).tracer }));
    nodes.push(await startTestNode(nats.servers, { ...over, nodeId: "cmd-node", roles: ["commands"] }, { tracer: tracingFor("cmd-node", ProcessKind.CloudNode).tracer }));
    nc = await connect({ servers: nats.servers });
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-cmdtrace-"));
  });
  afterAll(async () => {
    dev?.crash();
    await nc?.close();
    for (const n of nodes) await n.stop();
    for (const t of tracings) await t.shutdown();
    await cp?.stop();
    await collector?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("links caller → api.commands.send → control + commands.downlink → device ack → commands.ack", async () => {
    const deviceId = "trace-act-1";
    const api = new ApiClient(nc);
    await api.register(deviceId, { room: "lab" });
    const downlinks: Envelope[] = [];
    const acks: Envelope[] = [];
    nc.subscribe(`xsfleet.v1.dev.${deviceId}.cmd`, { callback: (_e, m) => { downlinks.push(decodeEnvelope(m.data)); } });
    nc.subscribe(`xsfleet.v1.p.*.dev.${deviceId}.ack`, { callback: (_e, m) => { acks.push(decodeEnvelope(m.data)); } });
    await nc.flush();
    dev = await startSimDevice({ deviceId, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, deviceId), role: "actuator", heartbeatIntervalMs: 1000, seed: 3 });
    await dev.waitFor("connected");

    // The caller's own span: the API request carries it in its headers.
    const caller = tracingFor("test-caller", "xsfleet-test").tracer!;
    const root = caller.startSpan("test.send");
    const { command } = await context.with(trace.setSpan(context.active(), root), () => api.sendCommand({ deviceId, name: "set", args: { on: true }, timeoutMs: 20_000 }));
    root.end();
    expect(command).toMatchObject({ state: "acked", ack: { status: "ok" } });
    const traceId = root.spanContext().traceId;

    const spansOf = (name: string): DecodedSpan[] => collector.spans.filter((s) => s.traceId === traceId && s.name === name);
    const all = await waitFor("the spans of the round trip", async () => {
      await flushAll();
      return spansOf(SpanName.CommandAck).length > 0 && spansOf("api.commands.send").length > 0 && spansOf(SpanName.CommandDownlink).length > 0 ? collector.spans.filter((s) => s.traceId === traceId) : null;
    });
    const send = spansOf("api.commands.send")[0]!;
    expect(send.parentSpanId).toBe(root.spanContext().spanId);
    expect(send.instance).toBe("api-node");
    expect(send.kind).toBe(2); // server

    // The registry lookup is a control-plane call inside the API span.
    const control = all.filter((s) => s.name.startsWith(SpanName.ControlPrefix) && s.parentSpanId === send.spanId);
    expect(control.length).toBeGreaterThan(0);
    expect(control[0]!.kind).toBe(3); // client

    // Downlink attempts are children of the API call; the device got one of them.
    const downs = spansOf(SpanName.CommandDownlink);
    for (const d of downs) expect(d.parentSpanId).toBe(send.spanId);
    expect(downs[0]!.attributes[Attr.CommandId]).toBe(command.commandId);
    const sent = downlinks.filter((e) => e.command?.commandId === command.commandId);
    expect(sent.length).toBeGreaterThan(0);
    for (const e of sent) {
      const [, t, parent] = e.traceparent.split("-");
      expect(t).toBe(traceId);
      expect(downs.map((d) => d.spanId)).toContain(parent);
    }

    // The device's ack continues the trace; the commands node's ack span is its child.
    const ack = acks.find((e) => e.commandAck?.commandId === command.commandId)!;
    const [, ackTrace, ackSpan] = ack.traceparent.split("-");
    expect(ackTrace).toBe(traceId);
    const recorded = spansOf(SpanName.CommandAck);
    expect(recorded.map((s) => s.parentSpanId)).toContain(ackSpan);
    expect(recorded[0]!.instance).toBe("cmd-node");
    expect(recorded[0]!.attributes[Attr.CommandId]).toBe(command.commandId);
  });

  it("a configuration write (the desired shadow) checks the registry through Raft inside the API call; its delta reaches the device's cfg subject in the call's trace", async () => {
    const deviceId = "trace-act-1";
    const api = new ApiClient(nc);
    const pushes: Envelope[] = [];
    nc.subscribe(`xsfleet.v1.dev.${deviceId}.cfg`, { callback: (_e, m) => { pushes.push(decodeEnvelope(m.data)); } });
    await nc.flush();
    const caller = tracingFor("test-caller-2", "xsfleet-test").tracer!;
    const root = caller.startSpan("test.config");
    await context.with(trace.setSpan(context.active(), root), () => api.setConfig(deviceId, { heartbeatIntervalMs: 3000 }));
    root.end();
    const traceId = root.spanContext().traceId;
    // Pushed by the ShadowDeltaPusher on the shadow event, which carries the API call's traceparent:
    // the downlink continues the caller's trace, under the API span.
    const push = await waitFor("the delta push", () => pushes.find((e) => e.config?.shadowDelta?.fields.some((f) => f.name === "heartbeatIntervalMs")));
    expect(push.config!.version).toBe(0);
    const apiSpan = await waitFor("the api span of the config call", async () => {
      await flushAll();
      return collector.spans.find((s) => s.traceId === traceId && s.name.startsWith(SpanName.ApiPrefix));
    });
    expect(push.traceparent).toBe(`00-${traceId}-${apiSpan.spanId}-01`);
    // The device must be registered and active: a read of the registry through the Raft control plane, a client span inside the API call.
    const read = await waitFor("the registry read span", async () => {
      await flushAll();
      return collector.spans.find((s) => s.traceId === traceId && s.name === `${SpanName.ControlPrefix}device.get`);
    });
    expect(read.parentSpanId).toBe(apiSpan.spanId);
    expect(read.kind).toBe(3);
    expect(read.attributes[Attr.ControlEndpoint]).toBe("device.get");
  });
});
