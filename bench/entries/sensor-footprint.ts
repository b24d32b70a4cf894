// Steps a sensor node on XS through phases so bench:footprint can read the
// heap after a full GC at each: bundle loaded, simulated world built, device
// running, device in steady state. The device's RAM is the difference
// between "world" and "steady" (on an ESP32 the module code itself is
// preloaded into flash and does not count against the heap).
import { DeviceRuntime } from "../../firmware/device/runtime";
import { ReplaySource, roomClimateChannels, type TraceRow } from "../../firmware/sim/replay-source";
import { createSimPlatform, createSimWorld, type SimWorld } from "../../firmware/sim/sim-platform";

export type FootprintPhase = { phase: "load" } | { phase: "settle" } | { phase: "world"; rows: TraceRow[] } | { phase: "device" } | { phase: "run"; minutes: number };

export interface FootprintResult {
  phase: string;
  published: number;
  outboxDepth: number;
  batches: number;
}

let world: SimWorld | undefined;
let rows: TraceRow[] = [];
let rt: DeviceRuntime | undefined;
let published = 0;

function advance(minutes: number): void {
  const end = world!.clock.uptimeMs() + minutes * 60_000;
  while (world!.clock.uptimeMs() < end) world!.clock.advance(1_000);
}

export default function run(input: FootprintPhase): FootprintResult {
  if (input.phase === "world") {
    rows = input.rows;
    world = createSimWorld({ keepLog: false });
    world.broker.subscribe("xsfleet/v1/dev/+/+", (m) => { if (m.from !== "") published++; }); // the device's own, not the cloud's receipts
  } else if (input.phase === "device") {
    const sensor = new ReplaySource(roomClimateChannels, rows, { startMs: world!.clock.wallMs(), speedup: 10, loop: true });
    rt = new DeviceRuntime(createSimPlatform(world!, { seed: 7, sensor }), {
      deviceId: "footprint-1", brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 5_000, sampleIntervalMs: 250, batchPointsMax: 32,
    });
    rt.start();
    advance(1);
  } else if (input.phase === "run") {
    advance(input.minutes);
  }
  const g = globalThis as unknown as { gc?: () => void };
  if (typeof g.gc === "function") g.gc();
  const s = rt?.stats();
  return { phase: input.phase, published, outboxDepth: s?.outboxDepth ?? 0, batches: s?.batches ?? 0 };
}
