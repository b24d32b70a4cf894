// Steps a gateway on XS through phases so bench:edge can read the heap after
// a full GC at each: the simulated world (broker, in-memory LAN; no cloud
// stand-in, whose per-device ledgers would count), the gateway (its runtime
// and core), then 16 minimal children connected but silent (their link ends,
// timers and closures), then the same 16 joined and publishing one
// telemetry envelope a second. joined - connected is the gateway's state
// per child plus what the in-memory broker keeps per child (a retained
// status, three subscriptions): an upper bound for the gateway alone.
import { DeviceRuntime } from "../../firmware/device/runtime";
import { FrameReader, FrameType, encodeFrame } from "../../firmware/edge/frame";
import { Gateway } from "../../firmware/edge/gateway";
import { MemoryNetwork } from "../../firmware/sim/memory-links";
import { SeededRandom } from "../../firmware/sim/sim-clock";
import { createSimPlatform, createSimWorld, type SimWorld } from "../../firmware/sim/sim-platform";
import { Presence, createEnvelope, createStatus, createTelemetryBatch, encodeEnvelope, schemaVersion } from "../../shared/proto/xsfleet.gen";

export type GatewayFootprintPhase = { phase: "world" } | { phase: "gateway" } | { phase: "connect"; n: number } | { phase: "join"; minutes: number } | { phase: "run"; minutes: number };

export interface GatewayFootprintResult {
  phase: string;
  children: number;
  forwarded: number;
  pubAcks: number;
}

const allow = Array.from({ length: 16 }, (_, i) => `fp-child-${i}`);
let world: SimWorld | undefined;
let net: MemoryNetwork | undefined;
let gateway: Gateway | undefined;
let rt: DeviceRuntime | undefined;
const joins: Array<() => void> = [];

function advance(minutes: number): void {
  const end = world!.clock.uptimeMs() + minutes * 60_000;
  while (world!.clock.uptimeMs() < end) world!.clock.advance(1_000);
}

/** Connects a silent child (its timers armed but idle); the returned function makes it join and publish. */
function connectChild(id: string): () => void {
  const reader = new FrameReader();
  let seq = 1;
  let active = false;
  const will = encodeEnvelope(createEnvelope({ schemaVersion, deviceId: id, seq: seq++, status: createStatus({ presence: Presence.PRESENCE_OFFLINE, reason: "connection lost" }) }));
  const payload = new Uint8Array(40).fill(3);
  let packetId = 0;
  const link = net!.host(id).links.connect("gw", 1884, { opened: () => {}, data: (c) => { reader.push(c); }, closed: () => {} });
  world!.clock.repeat(() => {
    if (!active) return;
    const env = encodeEnvelope(createEnvelope({
      schemaVersion, deviceId: id, seq: seq++, epoch: 1,
      telemetry: createTelemetryBatch({ batchSeq: seq, payload, pointCount: 10, firstTimeMs: world!.clock.wallMs() - 1000, lastTimeMs: world!.clock.wallMs() }),
    }));
    packetId = packetId === 0xffff ? 1 : packetId + 1;
    link.send(encodeFrame({ type: FrameType.Publish, kind: 2, retain: false, packetId, envelope: env }));
  }, 1_000);
  world!.clock.repeat(() => { if (active) link.send(encodeFrame({ type: FrameType.Ping })); }, 15_000);
  return () => {
    active = true;
    link.send(encodeFrame({ type: FrameType.Join, deviceId: id, keepaliveS: 30, will }));
  };
}

export default function run(input: GatewayFootprintPhase): GatewayFootprintResult {
  if (input.phase === "world") {
    world = createSimWorld({ keepLog: false, cloud: false });
    net = new MemoryNetwork(world.clock, new SeededRandom(5));
  } else if (input.phase === "gateway") {
    const p = createSimPlatform(world!, { seed: 9 });
    gateway = new Gateway({ ...p, links: net!.host("gw").links }, { gatewayId: "fp-gw", port: 1884, allow });
    rt = new DeviceRuntime({ ...p, mqttConnect: gateway.upstream(world!.broker.connect) }, {
      deviceId: "fp-gw", role: "gateway", brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 5_000,
    });
    gateway.start();
    rt.start();
    advance(0.5);
  } else if (input.phase === "connect") {
    while (joins.length < input.n) joins.push(connectChild(allow[joins.length]!));
    advance(2 / 60); // under the gateway's 10 s join deadline
  } else if (input.phase === "join") {
    for (const j of joins) j();
    advance(input.minutes);
  } else if (input.phase === "run") {
    advance(input.minutes);
  }
  const g = globalThis as unknown as { gc?: () => void };
  if (typeof g.gc === "function") g.gc();
  const s = gateway?.stats;
  return { phase: input.phase, children: s?.children ?? 0, forwarded: s?.forwarded ?? 0, pubAcks: s?.pubAcks ?? 0 };
}
