// A star under simulated time (docs/edge.md): one gateway (the real device
// runtime in the gateway role, with the gateway core on its session) and n
// sensor children that reach the broker only through it, over in-memory
// links with seeded loss, delay and a partition that cuts some children
// off, a lossy broker path, an upstream cut of the gateway, and one child
// killed. Deterministic for a given input, so the bytes the broker saw can be
// compared between Node and XS (test/xs/edge.xs.test.ts).
//
// What it returns is what the checks need: per child, the batch seqs the
// cloud recorded (via, epoch, seq), the child's own end state, and the
// retained status of the killed child.
import { fnv1a32 } from "../../shared/crdt/wire";
import { Presence, decodeEnvelope, type Envelope } from "../../shared/proto/xsfleet.gen";
import { Uplink, deviceTopic, parseDeviceAddress } from "../../shared/topics";
import { DeviceRuntime, type RuntimeStats } from "../device/runtime";
import { Gateway, type GatewayStats } from "../edge/gateway";
import { linkMqttConnect, type LinkClientStats } from "../edge/link-client";
import { MemoryNetwork, type MemoryNetworkStats } from "./memory-links";
import { MemoryStorage } from "./memory-storage";
import { ReplaySource, roomClimateChannels, type TraceRow } from "./replay-source";
import { SeededRandom } from "./sim-clock";
import { createSimPlatform, createSimWorld } from "./sim-platform";

export interface StarScenarioInput {
  seed: number;
  children: number;
  /** Simulated time per phase (faults, partition, upstream cut, heal), ms. */
  phaseMs: number;
  linkLossRate: number;
  linkDelayMs: number;
  linkJitterMs: number;
}

export interface StarChildResult {
  deviceId: string;
  stats: RuntimeStats;
  /** Batch seqs of the telemetry the cloud recorded, ascending, each once. */
  batchSeqs: number[];
  /** Telemetry points in those batches. */
  points: number;
  /** Uplinks seen on the child's topics without via = the gateway. */
  withoutVia: number;
  /** Recorded (epoch, seq) the cloud saw with differing bytes. */
  conflicts: number;
}

export interface StarScenarioResult {
  children: StarChildResult[];
  gateway: GatewayStats;
  network: MemoryNetworkStats;
  links: LinkClientStats;
  killed: string;
  /** Presence and via of the killed child's last retained status. */
  killedStatus: { presence: number; via: string; reason: string } | undefined;
  /** Sender, topic, FNV-1a and length of every message on a child's topics, in order (XS parity). */
  trace: string[];
}

const stepMs = 50;

function rows(n: number, node: number): TraceRow[] {
  return Array.from({ length: n }, (_, i) => ({ timeMs: 1_458_031_648_545 + i * 1_000, values: [20 + ((i + node) % 9) * 0.01, 40 + node, 180, 500] }));
}

export function runStarScenario(input: StarScenarioInput): StarScenarioResult {
  const world = createSimWorld({ wallBaseMs: 1_700_000_000_000 });
  const { clock, broker } = world;
  const net = new MemoryNetwork(clock, new SeededRandom(input.seed ^ 0x11ee));
  net.setFaults({ lossRate: input.linkLossRate, delayMs: input.linkDelayMs, jitterMs: input.linkJitterMs });
  const gwId = "gw-1";
  const ids = Array.from({ length: input.children }, (_, i) => `child-${i}`);

  const gwPlatform = createSimPlatform(world, { seed: input.seed });
  const gwLinks = net.host("gw");
  const gateway = new Gateway({ ...gwPlatform, links: gwLinks.links }, { gatewayId: gwId, port: 1884, allow: ids, rejoinGraceMs: 5_000 });
  const gwRuntime = new DeviceRuntime({ ...gwPlatform, mqttConnect: gateway.upstream(world.broker.connect) }, {
    deviceId: gwId, role: "gateway", brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 2_000, backoff: { baseMs: 200, capMs: 2_000 }, connectTimeoutMs: 1_000,
  });
  gateway.start();
  gwRuntime.start();

  const linkStats: LinkClientStats = { badFrames: 0, refused: 0, sendFailures: 0 };
  const children = ids.map((id, i) => {
    const sensor = new ReplaySource(roomClimateChannels, rows(600, i), { startMs: clock.wallMs(), speedup: 4, loop: true });
    const p = createSimPlatform(world, { seed: input.seed * 31 + i + 1, storage: new MemoryStorage(), sensor });
    const rt = new DeviceRuntime({ ...p, mqttConnect: linkMqttConnect(net.host(id).links, clock, clock, linkStats) }, {
      deviceId: id, brokerUrls: ["mqtt://gw:1884"], heartbeatIntervalMs: 2_000, sampleIntervalMs: 250, batchPointsMax: 10, batchAgeMaxMs: 3_000,
      keepaliveS: 5, connectTimeoutMs: 1_000, backoff: { baseMs: 100, capMs: 1_500 }, seqBlock: 16,
      outbox: { messagesMax: 128, bytesMax: 64 * 1024, inflightMax: 4, receiptTimeoutMs: 1_000, receiptTimeoutCapMs: 4_000 },
    });
    rt.start();
    return rt;
  });

  const run = (ms: number): void => { for (let t = 0; t < ms; t += stepMs) clock.advance(stepMs); };
  const faults = new SeededRandom(input.seed ^ 0xfa17);
  const killed = ids[ids.length - 1]!;

  // 1: lossy links and a lossy broker path.
  broker.setFaults({ uplinkLossRate: 0.05, uplinkDuplicateRate: 0.05, downlinkLossRate: 0.1 }, faults);
  run(input.phaseMs);
  // 2: a partition cuts two children off the gateway; then it heals.
  net.partition([[ids[0]!, ids[1]!]]);
  run(input.phaseMs);
  net.heal();
  // 3: the gateway's own uplink is cut: every child is closed and refused until it is back.
  broker.dropClient(gwId);
  broker.setAvailable(false);
  run(input.phaseMs / 2);
  broker.setAvailable(true);
  run(input.phaseMs / 2);
  // 4: a child dies (power loss): the gateway sees the link go and publishes its will.
  children[children.length - 1]!.crash();
  net.crashHost(killed);
  run(input.phaseMs);
  // 5: heal everything and drain.
  broker.setFaults({}, faults);
  net.setFaults({ lossRate: 0 });
  run(input.phaseMs);
  const live = children.slice(0, -1);
  for (let t = 0; t < 60_000 && live.some((c) => c.stats().outboxDepth > 0); t += stepMs) clock.advance(stepMs);

  const perChild = new Map<string, { batches: Map<number, number>; withoutVia: number }>();
  for (const id of ids) perChild.set(id, { batches: new Map(), withoutVia: 0 });
  const trace: string[] = [];
  let killedStatus: StarScenarioResult["killedStatus"];
  for (const m of broker.log) {
    const a = parseDeviceAddress(m.topic);
    if (a === null || a.deviceId === gwId) continue;
    const c = perChild.get(a.deviceId);
    if (c === undefined) continue;
    let env: Envelope;
    try {
      env = decodeEnvelope(m.payload);
    } catch {
      continue;
    }
    trace.push(`${m.from}>${m.topic} ${fnv1a32(m.payload)} ${m.payload.length}`);
    if (m.from !== gwId) continue; // downlinks from the cloud stand-in
    if (env.via !== gwId) c.withoutVia++;
    if (a.kind === Uplink.Telemetry && env.telemetry !== undefined && world.cloud!.record(a.deviceId, env.epoch, env.seq)?.applied === 1) {
      c.batches.set(env.telemetry.batchSeq, env.telemetry.pointCount);
    }
    if (a.deviceId === killed && a.kind === Uplink.Status && env.status !== undefined) {
      killedStatus = { presence: env.status.presence, via: env.via, reason: env.status.reason };
    }
  }
  const result: StarChildResult[] = ids.map((id, i) => {
    const c = perChild.get(id)!;
    const batchSeqs = [...c.batches.keys()].sort((x, y) => x - y);
    let points = 0;
    for (const n of c.batches.values()) points += n;
    let conflicts = 0;
    for (const [k, r] of world.cloud!.records()) if (k.startsWith(id + "/")) conflicts += r.conflicts;
    return { deviceId: id, stats: children[i]!.stats(), batchSeqs, points, withoutVia: c.withoutVia, conflicts };
  });
  for (const c of live) c.stop();
  gwRuntime.stop();
  gateway.stop();
  run(500);
  return { children: result, gateway: { ...gateway.stats }, network: { ...net.stats }, links: { ...linkStats }, killed, killedStatus, trace };
}

export { Presence };
