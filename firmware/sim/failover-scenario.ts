// Gateway failover under simulated time (docs/edge.md "Failover"): two
// gateways (the device runtime in the gateway role, each with the gateway
// core on its own broker session) list the same n children; each child is
// configured with both (brokerUrls [gw-a, gw-b]: its session tries them in
// turn on reconnect), so all start on gw-a. Over lossy, delayed links gw-a
// is killed (power loss: no DISCONNECT, its links break, the broker
// publishes its will); the children reconnect to gw-b and carry on. Seeded
// and deterministic, no platform API: runs on XS too.
//
// What it returns is what the checks need: per child, the batch seqs the
// cloud stand-in recorded once, the gateway each recorded batch came
// through, the child's own end state, and the gateways' stats.
import { decodeEnvelope, type Envelope } from "../../shared/proto/xsfleet.gen";
import { Uplink, parseDeviceAddress } from "../../shared/topics";
import { DeviceRuntime, type RuntimeStats } from "../device/runtime";
import { Gateway, type GatewayStats } from "../edge/gateway";
import { linkMqttConnect, type LinkClientStats } from "../edge/link-client";
import { MemoryNetwork } from "./memory-links";
import { MemoryStorage } from "./memory-storage";
import { ReplaySource, roomClimateChannels, type TraceRow } from "./replay-source";
import { SeededRandom } from "./sim-clock";
import { createSimPlatform, createSimWorld, type SimWorld } from "./sim-platform";

export interface FailoverScenarioInput {
  seed: number;
  children: number;
  /** Simulated time before and after the kill, ms. */
  phaseMs: number;
  linkLossRate: number;
  linkDelayMs: number;
  linkJitterMs: number;
}

export interface FailoverChildResult {
  deviceId: string;
  stats: RuntimeStats;
  /** Batch seqs the cloud recorded (first delivery), ascending. */
  batchSeqs: number[];
  /** (epoch, seq) the cloud recorded more than once as new: must be 0. */
  appliedTwice: number;
  /** Gateways the recorded batches came through, in order of first use. */
  routes: string[];
  /** Gateways the child's uplinks came through after gw-a was killed. */
  routesAfterKill: string[];
  /** The route of the child's last uplink the broker saw. */
  lastVia: string;
}

export interface FailoverScenarioResult {
  children: FailoverChildResult[];
  gatewayA: GatewayStats;
  gatewayB: GatewayStats;
  /** gw-a's retained status after the kill came from the broker's will. */
  killedWill: boolean;
  links: LinkClientStats;
}

const stepMs = 50;
const gwA = "gw-a";
const gwB = "gw-b";

function rows(n: number, node: number): TraceRow[] {
  return Array.from({ length: n }, (_, i) => ({ timeMs: 1_458_031_648_545 + i * 1_000, values: [20 + ((i + node) % 9) * 0.01, 40 + node, 180, 500] }));
}

function startGateway(world: SimWorld, net: MemoryNetwork, id: string, ids: readonly string[], seed: number): { gateway: Gateway; runtime: DeviceRuntime } {
  const p = createSimPlatform(world, { seed });
  const gateway = new Gateway({ ...p, links: net.host(id).links }, { gatewayId: id, port: 1884, allow: ids, rejoinGraceMs: 5_000 });
  const runtime = new DeviceRuntime({ ...p, mqttConnect: gateway.upstream(world.broker.connect) }, {
    deviceId: id, role: "gateway", brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 2_000, backoff: { baseMs: 200, capMs: 2_000 }, connectTimeoutMs: 1_000,
  });
  gateway.start();
  runtime.start();
  return { gateway, runtime };
}

export function runFailoverScenario(input: FailoverScenarioInput): FailoverScenarioResult {
  const world = createSimWorld({ wallBaseMs: 1_700_000_000_000 });
  const { clock, broker } = world;
  const net = new MemoryNetwork(clock, new SeededRandom(input.seed ^ 0x5a5a));
  net.setFaults({ lossRate: input.linkLossRate, delayMs: input.linkDelayMs, jitterMs: input.linkJitterMs });
  const ids = Array.from({ length: input.children }, (_, i) => `child-${i}`);
  const a = startGateway(world, net, gwA, ids, input.seed);
  const b = startGateway(world, net, gwB, ids, input.seed + 7);

  const linkStats: LinkClientStats = { badFrames: 0, refused: 0, sendFailures: 0 };
  const children = ids.map((id, i) => {
    const sensor = new ReplaySource(roomClimateChannels, rows(600, i), { startMs: clock.wallMs(), speedup: 4, loop: true });
    const p = createSimPlatform(world, { seed: input.seed * 31 + i + 1, storage: new MemoryStorage(), sensor });
    const rt = new DeviceRuntime({ ...p, mqttConnect: linkMqttConnect(net.host(id).links, clock, clock, linkStats) }, {
      deviceId: id, brokerUrls: [`mqtt://${gwA}:1884`, `mqtt://${gwB}:1884`], heartbeatIntervalMs: 2_000, sampleIntervalMs: 250, batchPointsMax: 10,
      batchAgeMaxMs: 3_000, keepaliveS: 5, connectTimeoutMs: 1_000, backoff: { baseMs: 100, capMs: 1_500 }, seqBlock: 16,
      outbox: { messagesMax: 128, bytesMax: 64 * 1024, inflightMax: 4, receiptTimeoutMs: 1_000, receiptTimeoutCapMs: 4_000 },
    });
    rt.start();
    return rt;
  });

  const run = (ms: number): void => { for (let t = 0; t < ms; t += stepMs) clock.advance(stepMs); };
  run(input.phaseMs);
  const killAt = broker.log.length;
  // gw-a dies: power loss (the broker publishes its will), its links break.
  a.runtime.crash();
  a.gateway.stop();
  net.crashHost(gwA);
  run(input.phaseMs);
  net.setFaults({ lossRate: 0 });
  for (let t = 0; t < 60_000 && children.some((c) => c.stats().outboxDepth > 0); t += stepMs) clock.advance(stepMs);

  const per = new Map<string, { seen: Map<number, number>; twice: number; routes: string[]; after: string[]; lastVia: string }>();
  for (const id of ids) per.set(id, { seen: new Map(), twice: 0, routes: [], after: [], lastVia: "" });
  let killedWill = false;
  for (let i = 0; i < broker.log.length; i++) {
    const m = broker.log[i]!;
    const addr = parseDeviceAddress(m.topic);
    if (addr === null) continue;
    if (addr.deviceId === gwA && addr.kind === Uplink.Status && m.will) killedWill = true;
    const c = per.get(addr.deviceId);
    if (c === undefined || (m.from !== gwA && m.from !== gwB)) continue; // downlinks from the cloud stand-in
    let env: Envelope;
    try {
      env = decodeEnvelope(m.payload);
    } catch {
      continue;
    }
    c.lastVia = env.via;
    if (i >= killAt && c.after.indexOf(env.via) < 0) c.after.push(env.via);
    if (addr.kind !== Uplink.Telemetry || env.telemetry === undefined) continue;
    const rec = world.cloud!.record(addr.deviceId, env.epoch, env.seq);
    if (rec === undefined) continue;
    if (rec.applied > 1) c.twice++;
    if (!c.seen.has(env.telemetry.batchSeq)) {
      c.seen.set(env.telemetry.batchSeq, env.seq);
      if (c.routes.indexOf(env.via) < 0) c.routes.push(env.via);
    }
  }
  const result: FailoverChildResult[] = ids.map((id, i) => {
    const c = per.get(id)!;
    return {
      deviceId: id, stats: children[i]!.stats(), batchSeqs: [...c.seen.keys()].sort((x, y) => x - y), appliedTwice: c.twice, routes: c.routes, routesAfterKill: c.after, lastVia: c.lastVia,
    };
  });
  for (const c of children) c.stop();
  b.runtime.stop();
  b.gateway.stop();
  run(500);
  return { children: result, gatewayA: { ...a.gateway.stats }, gatewayB: { ...b.gateway.stats }, killedWill, links: { ...linkStats } };
}
