import { randomBytes } from "node:crypto";
import { createLogger } from "../cloud/base";
import { DeviceLocks, emptyIngestStats, IngestPipeline, IngestSource, parseIngestConfig, StateCache, type Delivery } from "../cloud/ingest";
import { emptyDeviceState, type LoadedState } from "../cloud/state";
import { defaultTracingSettings, startTracing } from "../cloud/tracing";
import { encodeBatch } from "../shared/codec/batch";
import { Encoding, createEnvelope, encodeEnvelope } from "../shared/proto/xsfleet.gen";
import { deviceSubject, Uplink } from "../shared/topics";
const mode = process.argv[2];
const discard = { export: (_s: unknown, cb: (r: { code: number }) => void) => cb({ code: 0 }), shutdown: async () => {} };
const tracing = mode === "off" ? startTracing({ serviceName: "b", instanceId: "p", settings: defaultTracingSettings }) : startTracing({ serviceName: "b", instanceId: "p", settings: { ...defaultTracingSettings, ratio: Number(mode) }, exporter: discard as never });
const ts = Array.from({ length: 60 }, (_, i) => 1.7e12 + i * 1000);
const payload = encodeBatch({ t0Ms: ts[0]!, timestampsMs: ts, channels: [{ resolution: 0.01, values: ts.map((_, i) => 20 + (i % 13) * 0.01) }] }, { pointsMax: 60 });
let total = 0, run = 0;
for (let r = 0; r < 8; r++) {
  run++;
  const states = new Map<string, LoadedState>();
  const pipeline = new IngestPipeline({
    cfg: parseIngestConfig({}), cache: new StateCache(10_000), locks: new DeviceLocks(), stats: emptyIngestStats("p"), log: createLogger({ level: "warn" }), tracer: tracing.tracer,
    state: { load: async (id) => states.get(id) ?? { state: emptyDeviceState(id), revision: 0 }, compareAndSet: async (id, st, rev) => { states.set(id, { state: st, revision: rev + 1 }); return rev + 1; } },
    out: { telemetry: () => [Promise.resolve()], outCore: () => {}, event: () => {}, deadLetter: async () => {} },
  });
  const batch: Delivery[] = [];
  for (let seq = 1; seq <= 40; seq++) for (let d = 0; d < 100; d++) {
    const id = `p${run}x${d}`;
    batch.push({ subject: deviceSubject(id, Uplink.Telemetry), data: encodeEnvelope(createEnvelope({ schemaVersion: 1, deviceId: id, seq, deviceTimeMs: Date.now(), traceparent: `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`,
      telemetry: { batchSeq: seq, channels: [{ name: "t", unit: "C", resolution: 0.01 }], encoding: Encoding.ENCODING_XSF_TS1, payload, pointCount: 60, firstTimeMs: 0, lastTimeMs: 0 } })),
      stream: "XSF_TELE", streamSeq: seq * 1000 + d, timeMs: Date.now(), redelivered: false, pending: 0, ack: () => {}, nak: () => {} });
  }
  const t0 = performance.now();
  for (let i = 0; i < batch.length; i += 256) await pipeline.processBatch(IngestSource.Telemetry, batch.slice(i, i + 256));
  if (r >= 2) total += performance.now() - t0;
}
console.log(mode, (total * 1000 / (6 * 4000)).toFixed(1), "µs/msg", "span µs/msg", ((globalThis as any).SPANT * 1000 / 32000).toFixed(1));
await tracing.shutdown();
