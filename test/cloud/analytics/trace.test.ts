// Analytics continues the device's trace (issue 13): with a tracer, each pull
// batch is an `analytics.batch` span linked to the traces of the device
// messages it read, and the alert events (and window results) it publishes
// carry that span's context in their NATS headers, so a subscriber continues it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { trace } from "@opentelemetry/api";
import { allAlertsSubject } from "../../../cloud/subjects";
import { extractNatsHeaders, SpanName } from "../../../cloud/tracing";
import type { RuleDef } from "../../../shared/stream";
import { Uplink } from "../../../shared/topics";
import { startNats, type NatsCluster } from "../../harness/nats";
import { telemetryEnvelope } from "../../harness/envelopes";
import { until } from "../../harness/wait";
import { prepareBroker, publishUplink, severableControl, startNode } from "./helpers";

const hot: RuleDef = { id: "hot", match: { channel: "temperature" }, when: { kind: "threshold", above: 20 } };

describe("analytics: traces", () => {
  let nats: NatsCluster;
  beforeAll(async () => {
    nats = await startNats();
  }, 60_000);
  afterAll(async () => {
    await nats?.stop();
  });

  it("links each batch span to the device messages' traces and carries it on the alert events", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const url = nats.nodes[0]!.natsUrl;
    const { nc, js } = await prepareBroker(url);
    const alerts: Array<{ traceId: string | undefined }> = [];
    const sub = nc.subscribe(allAlertsSubject, {
      callback: (_e, m) => { alerts.push({ traceId: trace.getSpanContext(extractNatsHeaders(m.headers))?.traceId }); },
    });
    await nc.flush();
    const node = await startNode(url, "an-t", severableControl().forNode("an-t"), [hot], { tracer: provider.getTracer("test") });
    const deviceTraces = ["1", "2", "3"].map((d) => d.repeat(32));
    try {
      for (const [i, t] of deviceTraces.entries()) {
        const env = telemetryEnvelope("traced-1", i + 1, 10);
        env.traceparent = `00-${t}-${"cd".repeat(8)}-01`;
        await publishUplink(js, env, Uplink.Telemetry);
      }
      const batchSpans = () => exporter.getFinishedSpans().filter((s) => s.name === SpanName.AnalyticsBatch);
      // The batch span ends after its checkpoint and ack, so after the alert event it published.
      await until("an alert event, and the batch span whose context it carries ended", () =>
        alerts.length > 0 && batchSpans().some((s) => s.spanContext().traceId === alerts[0]!.traceId), 60_000);
      // Every message is processed (and its batch span ended) once the consumer has nothing pending.
      await until("every device message's batch span ended", () =>
        deviceTraces.every((t) => batchSpans().some((s) => s.links.some((l) => l.context.traceId === t))), 60_000);
      const batches = batchSpans();
      expect(batches.length).toBeGreaterThan(0);
      const linked = new Set(batches.flatMap((s) => s.links.map((l) => l.context.traceId)));
      for (const t of deviceTraces) expect(linked.has(t), `a batch span links device trace ${t}`).toBe(true);
      const batchTraces = new Set(batches.map((s) => s.spanContext().traceId));
      expect(alerts[0]!.traceId).toBeDefined();
      expect(batchTraces.has(alerts[0]!.traceId!), "the alert event continues a batch span's trace").toBe(true);
    } finally {
      sub.unsubscribe();
      await node.role.stop();
      await node.nc.close();
      await nc.close();
      await provider.shutdown();
    }
  }, 120_000);
});
