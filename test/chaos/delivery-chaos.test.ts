// Issue 16 item 8: the delivery promise under faults, in `npm test`.
// One seeded run of test/harness/delivery-chaos.ts: 3-node nats-server
// (JetStream + MQTT), 3 ingest processes, 24 firmware devices over MQTT,
// kill -9 of the telemetry stream's leader and of one ingest node, a
// flooding device and seq-poisoning messages. Per device, the telemetry seqs
// the device considers confirmed == XSF_OUT == history == device state; no
// loss, no duplicate, no dead letter for a good message. XSF_CHAOS_SEED
// replays another seed; `npm run soak:delivery` runs many.
import { describe, expect, it } from "vitest";
import { runDeliveryChaos } from "../harness/delivery-chaos";

const seed = Number(process.env.XSF_CHAOS_SEED ?? 16);

describe("delivery chaos (issue 16)", () => {
  it(`confirmed == recorded exactly once per device through kill -9s, a flood and poison (seed ${seed})`, async () => {
    const r = await runDeliveryChaos({ seed, devices: 24, log: process.env.XSF_TRACE ? (l) => console.log(`[chaos] ${l}`) : undefined });
    console.log(`[chaos] ${r.line}`);
    for (const n of r.notes) console.log(`[chaos] note: ${n}`);
    expect(r.summary.teleMade, "the devices made telemetry").toBeGreaterThan(0);
    expect(r.summary.killedNats, "a NATS stream leader was killed").not.toBe("");
    expect(r.summary.killedIngest, "an ingest node was killed").not.toBe("");
    expect(r.violations).toEqual([]);
  }, 240_000);
});
