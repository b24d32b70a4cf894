// Edge jobs under simulated time (docs/edge.md, "Edge jobs on the device"):
// one processing node (the device runtime in the processing role with the
// gateway core) whose desired config carries an aggregate job and a rules
// job, n sensor children and one actuator child over in-memory links with
// seeded loss and delay, a lossy broker path, then an upstream cut while the
// temperatures cross the rule's threshold (the node must act locally: a set
// command to the actuator child), then heal and drain. Deterministic for a
// given input, so Node and XS can be compared byte for byte
// (test/xs/edge.xs.test.ts).
//
// Returns what the checks need: per child the windows the cloud recorded
// (channel, start, count) from the applied envelopes, the raw points the
// child made, the gateway's and the edge work's counters, and the actuator.
import { fnv1a32 } from "../../shared/crdt/wire";
import { decodeBatch } from "../../shared/codec/batch";
import { GCounter } from "../../shared/crdt/gcounter";
import { decodeEnvelope, type Envelope } from "../../shared/proto/xsfleet.gen";
import { Downlink, Uplink, deviceTopic, parseDeviceAddress } from "../../shared/topics";
import { SimDesiredShadow } from "./config-delta";
import { DeviceRuntime } from "../device/runtime";
import { Gateway, type GatewayStats } from "../edge/gateway";
import type { EdgeWorkStats } from "../edge/edge-work";
import { linkMqttConnect, type LinkClientStats } from "../edge/link-client";
import { MemoryNetwork } from "./memory-links";
import { MemoryStorage } from "./memory-storage";
import { ReplaySource, roomClimateChannels, type TraceRow } from "./replay-source";
import { SeededRandom } from "./sim-clock";
import { createSimPlatform, createSimWorld } from "./sim-platform";

export interface EdgeJobsScenarioInput {
  seed: number;
  children: number;
  phaseMs: number;
  windowMs: number;
  linkLossRate: number;
  linkDelayMs: number;
  /** The rule: temperature above this raises; the actuator child gets set {value: 1}. */
  threshold: number;
}

export interface EdgeJobsChildResult {
  deviceId: string;
  /** Telemetry points the child made (what the windows should count). */
  points: number;
  /** Windows the cloud recorded: "<channel>@<start>" → count, each window once. */
  windows: Record<string, number>;
  /** A window the cloud recorded twice (must stay 0). */
  duplicateWindows: number;
  /** Raw points that reached the cloud (must stay 0 while aggregating). */
  rawPoints: number;
  /** Seqs the cloud saw again with other bytes (a resend must carry what was sent first: 0). */
  conflicts: number;
}

export interface EdgeJobsScenarioResult {
  children: EdgeJobsChildResult[];
  gateway: GatewayStats;
  work: EdgeWorkStats;
  links: LinkClientStats;
  actuator: { deviceId: string; value: number; commandsExecuted: number };
  /** The highest "alerts-rules-1" count the node reported upstream (its CounterState on the broker). */
  alertsReported: number;
  trace: string[];
}

const stepMs = 50;
const wallBaseMs = 1_700_000_000_000;

function rows(n: number, node: number): TraceRow[] {
  // Temperatures sweep 20.0 .. 23.0 and back, so a threshold in between is crossed again and again.
  return Array.from({ length: n }, (_, i) => ({ timeMs: wallBaseMs + i * 1_000, values: [20 + Math.abs(((i + node * 7) % 60) - 30) / 10, 40 + node, 180, 500] }));
}

export function runEdgeJobsScenario(input: EdgeJobsScenarioInput): EdgeJobsScenarioResult {
  const world = createSimWorld({ wallBaseMs });
  const { clock, broker } = world;
  const net = new MemoryNetwork(clock, new SeededRandom(input.seed ^ 0x5eed));
  net.setFaults({ lossRate: input.linkLossRate, delayMs: input.linkDelayMs, jitterMs: input.linkDelayMs });
  const gwId = "proc-1";
  const actuatorId = "act-0";
  const ids = Array.from({ length: input.children }, (_, i) => `sensor-${i}`);

  const gwPlatform = createSimPlatform(world, { seed: input.seed });
  // The scheduler's placement, as the cloud delivers it: desired shadow
  // fields in a retained cfg downlink (shared/edge-jobs.ts, docs/shadow.md).
  const desired = new SimDesiredShadow()
    .set("children", [...ids, actuatorId].join(","))
    .set("job.agg-1", `aggregate;w=${input.windowMs};ch=temperature,humidity`)
    .set("job.rules-1", `rules;ch=temperature;gt=${input.threshold};act=${actuatorId}:1`);
  broker.publish(deviceTopic(gwId, Downlink.Config), desired.envelope(gwId, 1), { retain: true });
  const gateway = new Gateway({ ...gwPlatform, links: net.host("gw").links }, { gatewayId: gwId, port: 1884, allow: [], rejoinGraceMs: 5_000 });
  const gwRuntime: DeviceRuntime = new DeviceRuntime({ ...gwPlatform, mqttConnect: gateway.upstream(world.broker.connect) }, {
    deviceId: gwId, role: "processing", brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 2_000, backoff: { baseMs: 200, capMs: 2_000 }, connectTimeoutMs: 1_000,
    extraCounters: () => gateway.alertCounters(),
  }, (e) => { if (e.type === "config" && e.settingsChanged) gateway.applySettings(gwRuntime.settings()); });
  gateway.applySettings(gwRuntime.settings());
  let alertsDue = false;
  gateway.onAlerts = () => {
    if (alertsDue) return;
    alertsDue = true;
    clock.set(() => { alertsDue = false; gwRuntime.publishCounters(); }, 1_000);
  };
  gateway.start();
  gwRuntime.start();

  const linkStats: LinkClientStats = { badFrames: 0, refused: 0, sendFailures: 0 };
  const childOptions = {
    brokerUrls: ["mqtt://gw:1884"], heartbeatIntervalMs: 2_000, keepaliveS: 5, connectTimeoutMs: 1_000, backoff: { baseMs: 100, capMs: 1_500 }, seqBlock: 16,
    outbox: { messagesMax: 256, bytesMax: 128 * 1024, inflightMax: 4, receiptTimeoutMs: 1_000, receiptTimeoutCapMs: 4_000 },
  };
  const sensors = ids.map((id, i) => {
    const sensor = new ReplaySource(roomClimateChannels, rows(3_600, i), { startMs: clock.wallMs(), speedup: 4, loop: true });
    const p = createSimPlatform(world, { seed: input.seed * 31 + i + 1, storage: new MemoryStorage(), sensor });
    const rt = new DeviceRuntime({ ...p, mqttConnect: linkMqttConnect(net.host(id).links, clock, clock, linkStats) }, {
      ...childOptions, deviceId: id, sampleIntervalMs: 250, batchPointsMax: 10, batchAgeMaxMs: 3_000,
    });
    rt.start();
    return rt;
  });
  const ap = createSimPlatform(world, { seed: input.seed * 77 + 5, storage: new MemoryStorage() });
  const actuator = new DeviceRuntime({ ...ap, mqttConnect: linkMqttConnect(net.host(actuatorId).links, clock, clock, linkStats) }, {
    ...childOptions, deviceId: actuatorId, role: "actuator",
  });
  actuator.start();

  const run = (ms: number): void => { for (let t = 0; t < ms; t += stepMs) clock.advance(stepMs); };
  const faults = new SeededRandom(input.seed ^ 0xfa17);
  // 1: lossy links and a lossy broker path (duplicates too).
  broker.setFaults({ uplinkLossRate: 0.05, uplinkDuplicateRate: 0.05, downlinkLossRate: 0.1 }, faults);
  run(input.phaseMs);
  // 2: the cloud is unreachable: the node keeps its children and acts on the rule locally.
  broker.setAvailable(false);
  run(input.phaseMs);
  broker.setAvailable(true);
  // 3: heal and drain.
  broker.setFaults({}, faults);
  net.setFaults({ lossRate: 0 });
  run(input.phaseMs);
  for (let t = 0; t < 60_000 && sensors.some((c) => c.stats().outboxDepth > 0); t += stepMs) clock.advance(stepMs);

  const per = new Map<string, EdgeJobsChildResult>();
  for (const id of ids) per.set(id, { deviceId: id, points: 0, windows: {}, duplicateWindows: 0, rawPoints: 0, conflicts: 0 });
  const trace: string[] = [];
  const applied = new Set<string>();
  for (const m of broker.log) {
    const a = parseDeviceAddress(m.topic);
    if (a === null || m.from !== gwId || a.kind !== Uplink.Telemetry) continue;
    const c = per.get(a.deviceId);
    if (c === undefined) continue;
    trace.push(`${m.topic} ${fnv1a32(m.payload)} ${m.payload.length}`);
    let env: Envelope;
    try {
      env = decodeEnvelope(m.payload);
    } catch {
      continue;
    }
    const rec = world.cloud!.record(a.deviceId, env.epoch, env.seq);
    // The cloud applies each (epoch, seq) once, the bytes it saw first; the broker log holds every resend.
    if (env.telemetry === undefined || rec === undefined || rec.hash !== fnv1a32(m.payload)) continue;
    const k = `${a.deviceId}/${env.epoch}/${env.seq}`;
    if (applied.has(k)) continue;
    applied.add(k);
    const b = decodeBatch(env.telemetry.payload);
    env.telemetry.channels.forEach((info, k) => {
      if (!info.name.endsWith("_count")) {
        if (info.name.indexOf("_") < 0) c.rawPoints += b.timestampsMs.length;
        return;
      }
      const ch = info.name.slice(0, -"_count".length);
      b.timestampsMs.forEach((t, r) => {
        const key = `${ch}@${t}`;
        if (c.windows[key] !== undefined) c.duplicateWindows++;
        c.windows[key] = b.channels[k]!.values[r]!;
      });
    });
  }
  let alertsReported = 0;
  for (const m of broker.log) {
    const a = parseDeviceAddress(m.topic);
    if (a === null || a.deviceId !== gwId || a.kind !== Uplink.Counters) continue;
    const c = decodeEnvelope(m.payload).counters?.counters.find((x) => x.name === "alerts-rules-1");
    if (c !== undefined) alertsReported = Math.max(alertsReported, GCounter.decode(c.state).value());
  }
  for (const [k, r] of world.cloud!.records()) {
    const c = per.get(k.slice(0, k.indexOf("/")));
    if (c !== undefined) c.conflicts += r.conflicts;
  }
  const children = ids.map((id, i) => ({ ...per.get(id)!, points: sensors[i]!.stats().points }));
  const debug = (globalThis as { edgeScenarioDebug?: (log: typeof broker.log, cloud: typeof world.cloud) => void }).edgeScenarioDebug;
  if (debug !== undefined) debug(broker.log, world.cloud);
  const result: EdgeJobsScenarioResult = {
    children, gateway: { ...gateway.stats }, work: { ...gateway.work.stats }, links: { ...linkStats },
    actuator: { deviceId: actuatorId, value: actuator.actuatorValue, commandsExecuted: actuator.stats().counters.cmdsExecuted ?? 0 },
    alertsReported, trace,
  };
  for (const c of sensors) c.stop();
  actuator.stop();
  gwRuntime.stop();
  gateway.stop();
  run(500);
  return result;
}
