// A complete sensor-node scenario under simulated time: boot, sample a
// replayed trace, batch and publish through a lossy broker (lost, duplicated
// uplinks, lost receipts) to the cloud stand-in, lose the broker (backoff),
// come back, receive a command and a config, crash, reboot on the same
// flash, run on with receipts withheld (resends on receipt timeouts), then
// with them again. Deterministic for a given input, so its published bytes
// and the receipts can be compared between Node and the XS engine
// (test/xs/firmware-scenario).
import { toHex } from "../../shared/crdt/wire";
import { createCommand, createEnvelope, encodeEnvelope, schemaVersion } from "../../shared/proto/xsfleet.gen";
import { Downlink, deviceTopic } from "../../shared/topics";
import { DeviceRuntime, type RuntimeStats } from "../device/runtime";
import { SimDesiredShadow } from "./config-delta";
import { MemoryStorage } from "./memory-storage";
import { ReplaySource, roomClimateChannels, type TraceRow } from "./replay-source";
import { SeededRandom } from "./sim-clock";
import type { SimCloudStats } from "./sim-cloud";
import { createSimPlatform, createSimWorld } from "./sim-platform";

export interface SensorScenarioInput {
  seed: number;
  deviceId: string;
  rows: TraceRow[];
  speedup: number;
  /** Simulated run time before and after the reboot, ms each. */
  phaseMs: number;
}

export interface ScenarioMessage {
  topic: string;
  retain: boolean;
  will: boolean;
  hex: string;
}

export interface SensorScenarioResult {
  messages: ScenarioMessage[];
  /** Receipts the cloud stand-in published to the device (some lost on the way). */
  receipts: ScenarioMessage[];
  before: RuntimeStats;
  after: RuntimeStats;
  cloud: SimCloudStats;
}

const stepMs = 100;

export function runSensorScenario(input: SensorScenarioInput): SensorScenarioResult {
  const world = createSimWorld({ wallBaseMs: 1_700_000_000_000 });
  const { clock, broker } = world;
  const storage = new MemoryStorage();
  const boot = (seed: number): DeviceRuntime => {
    const sensor = new ReplaySource(roomClimateChannels, input.rows, { startMs: clock.wallMs(), speedup: input.speedup, loop: true });
    const platform = createSimPlatform(world, { seed, storage, sensor });
    const rt = new DeviceRuntime(platform, {
      deviceId: input.deviceId, brokerUrls: ["mqtt://sim-a:1883", "mqtt://sim-b:1883"], heartbeatIntervalMs: 2_000, sampleIntervalMs: 250,
      batchPointsMax: 12, batchAgeMaxMs: 5_000, backoff: { baseMs: 200, capMs: 5_000 }, connectTimeoutMs: 1_000,
      outbox: { messagesMax: 64, bytesMax: 16 * 1024, inflightMax: 4, receiptTimeoutMs: 1_000, receiptTimeoutCapMs: 4_000 }, seqBlock: 16,
    });
    rt.start();
    return rt;
  };
  const run = (ms: number): void => {
    for (let t = 0; t < ms; t += stepMs) clock.advance(stepMs);
  };
  const cmdTopic = deviceTopic(input.deviceId, Downlink.Command);
  const cfgTopic = deviceTopic(input.deviceId, Downlink.Config);

  const runUntilConnected = (): void => {
    for (let t = 0; t < 60_000 && !rt.stats().connected; t += stepMs) clock.advance(stepMs);
  };

  let rt = boot(input.seed);
  const third = Math.floor(input.phaseMs / 3);
  const faultRandom = new SeededRandom(input.seed ^ 0x5eed);
  const lossy = { uplinkLossRate: 0.25, uplinkDuplicateRate: 0.25, downlinkLossRate: 0.3 };
  broker.setFaults(lossy, faultRandom);
  run(third);
  broker.setAvailable(false); // broker outage: the will fires, reconnects back off
  run(third);
  broker.setFaults({}, faultRandom); // the command and config below must get through (QoS 0)
  broker.setAvailable(true);
  runUntilConnected();
  run(1_000);
  broker.publish(cmdTopic, encodeEnvelope(createEnvelope({
    schemaVersion, deviceId: input.deviceId, seq: 1,
    command: createCommand({ commandId: "cmd-1", name: "ping", deadlineMs: clock.wallMs() + 10_000 }),
  })));
  broker.publish(cfgTopic, new SimDesiredShadow().set("heartbeatIntervalMs", 1_000).set("batchPointsMax", 8).envelope(input.deviceId, 2), { retain: true });
  run(input.phaseMs - 2 * third - 1_000);
  const before = rt.stats();
  rt.crash();
  run(500);
  rt = boot(input.seed + 1);
  broker.setFaults(lossy, faultRandom);
  const cloud = world.cloud!;
  cloud.hold(true); // recorded, never receipted: resends on receipt timeouts
  run(third);
  cloud.hold(false);
  run(input.phaseMs - third - 5_000);
  broker.setFaults({}, faultRandom); // heal: what is left gets confirmed
  run(5_000);
  const after = rt.stats();
  rt.stop();
  run(500);
  const messages = broker.log
    .filter((m) => m.from === input.deviceId || m.will)
    .map((m) => ({ topic: m.topic, retain: m.retain, will: m.will, hex: toHex(m.payload) }));
  const receipts = broker.log
    .filter((m) => m.topic === deviceTopic(input.deviceId, Downlink.Receipt))
    .map((m) => ({ topic: m.topic, retain: m.retain, will: m.will, hex: toHex(m.payload) }));
  return { messages, receipts, before, after, cloud: { ...cloud.stats } };
}

export interface ActuatorScenarioInput {
  seed: number;
  deviceId: string;
}

export interface ActuatorScenarioResult {
  messages: ScenarioMessage[];
  actuatorValues: number[];
  stats: RuntimeStats;
}

/**
 * An actuator: commands (set, duplicate, expired, unknown, malformed),
 * a lost PUBACK window and a crash, then the same command id again after the
 * reboot (must not execute twice).
 */
export function runActuatorScenario(input: ActuatorScenarioInput): ActuatorScenarioResult {
  const world = createSimWorld({ wallBaseMs: 1_700_000_000_000 });
  const { clock, broker } = world;
  const storage = new MemoryStorage();
  const values: number[] = [];
  const boot = (seed: number): DeviceRuntime => {
    const rt = new DeviceRuntime(createSimPlatform(world, { seed, storage }), {
      deviceId: input.deviceId, role: "actuator", brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 1_000,
      backoff: { baseMs: 100, capMs: 1_000 }, seqBlock: 4,
    });
    rt.start();
    return rt;
  };
  const cmdTopic = deviceTopic(input.deviceId, Downlink.Command);
  let n = 0;
  const send = (commandId: string, name: string, argsJson: string, deadlineMs: number): void => {
    broker.publish(cmdTopic, encodeEnvelope(createEnvelope({
      schemaVersion, deviceId: input.deviceId, seq: ++n, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      command: createCommand({ commandId, name, argsJson, deadlineMs, issuedMs: clock.wallMs(), attempt: 1 }),
    })));
  };
  let rt = boot(input.seed);
  clock.advance(500);
  send("a1", "set", "{\"value\":5}", clock.wallMs() + 5_000);
  clock.advance(50);
  values.push(rt.actuatorValue);
  send("a1", "set", "{\"value\":6}", clock.wallMs() + 5_000);
  send("a2", "set", "{\"on\":false}", clock.wallMs() - 1);
  send("a3", "warp", "", 0);
  broker.publish(cmdTopic, new Uint8Array([8, 200, 1, 0xff]));
  clock.advance(50);
  values.push(rt.actuatorValue);
  broker.holdAcks(true);
  send("a4", "set", "{\"value\":9}", 0);
  clock.advance(50);
  values.push(rt.actuatorValue);
  rt.crash();
  broker.holdAcks(false);
  clock.advance(200);
  rt = boot(input.seed + 1);
  clock.advance(500);
  send("a4", "set", "{\"value\":9}", 0);
  send("a1", "set", "{\"value\":7}", 0);
  clock.advance(3_000);
  values.push(rt.actuatorValue);
  const stats = rt.stats();
  rt.stop();
  clock.advance(100);
  const messages = broker.log
    .filter((m) => m.from === input.deviceId || m.will)
    .map((m) => ({ topic: m.topic, retain: m.retain, will: m.will, hex: toHex(m.payload) }));
  return { messages, actuatorValues: values, stats };
}
