// A sensor node left running on XS for simulated minutes, one command per
// chunk, with a full GC after each: the heap the xsnap meter reports after a
// chunk must stop growing (no leak in the runtime, outbox, batcher, session,
// delivery). The world's cloud stand-in answers with receipts.
// State lives across commands on purpose (one long-lived device per worker).
import { DeviceRuntime } from "../../../firmware/device/runtime";
import { ReplaySource, roomClimateChannels, type TraceRow } from "../../../firmware/sim/replay-source";
import { createSimPlatform, createSimWorld, type SimWorld } from "../../../firmware/sim/sim-platform";

export interface SoakInput {
  rows: TraceRow[];
  minutes: number;
}

export interface SoakResult {
  published: number;
  acked: number;
  confirmed: number;
  retransmits: number;
  batches: number;
  outboxDepth: number;
  uptimeMs: number;
}

let world: SimWorld | undefined;
let rt: DeviceRuntime | undefined;
let published = 0;

export default function run(input: SoakInput): SoakResult {
  if (world === undefined) {
    world = createSimWorld({ keepLog: false });
    world.broker.subscribe("xsfleet/v1/dev/+/+", (m) => { if (m.from !== "") published++; }); // the device's own, not the cloud's receipts
    const sensor = new ReplaySource(roomClimateChannels, input.rows, { startMs: world.clock.wallMs(), speedup: 10, loop: true });
    rt = new DeviceRuntime(createSimPlatform(world, { seed: 99, sensor }), {
      deviceId: "soak-1", brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 5_000, sampleIntervalMs: 250, batchPointsMax: 32,
    });
    rt.start();
  }
  const w = world;
  const end = w.clock.uptimeMs() + input.minutes * 60_000;
  let i = 0;
  while (w.clock.uptimeMs() < end) {
    w.clock.advance(1_000);
    // A 30 s outage in every chunk exercises reconnect and the outbox.
    if (++i === 120) w.broker.setAvailable(false);
    if (i === 150) w.broker.setAvailable(true);
  }
  w.clock.advance(60_000); // let the outbox drain
  const g = globalThis as unknown as { gc?: () => void };
  if (typeof g.gc === "function") g.gc();
  const s = rt!.stats();
  return {
    published, acked: s.acked, confirmed: s.confirmed, retransmits: s.retransmits, batches: s.batches, outboxDepth: s.outboxDepth, uptimeMs: w.clock.uptimeMs(),
  };
}
