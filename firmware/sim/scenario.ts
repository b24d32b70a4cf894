// A complete sensor-node scenario under simulated time: boot, sample a
// replayed trace, batch and publish, lose the broker (backoff), come back,
// receive a command and a config, crash, reboot on the same flash, and run
// on. Deterministic for a given input, so its published bytes can be
// compared between Node and the XS engine (test/xs/firmware-scenario).
import { toHex } from "../../shared/crdt/wire";
import { createCommand, createDesiredConfig, createEnvelope, encodeEnvelope, schemaVersion } from "../../shared/proto/xsfleet.gen";
import { Downlink, deviceTopic } from "../../shared/topics";
import { DeviceRuntime, type RuntimeStats } from "../device/runtime";
import { MemoryStorage } from "./memory-storage";
import { ReplaySource, roomClimateChannels, type TraceRow } from "./replay-source";
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
  before: RuntimeStats;
  after: RuntimeStats;
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
      outbox: { messagesMax: 64, bytesMax: 16 * 1024, inflightMax: 4 }, seqBlock: 16,
    });
    rt.start();
    return rt;
  };
  const run = (ms: number): void => {
    for (let t = 0; t < ms; t += stepMs) clock.advance(stepMs);
  };
  const cmdTopic = deviceTopic(input.deviceId, Downlink.Command);
  const cfgTopic = deviceTopic(input.deviceId, Downlink.Config);

  let rt = boot(input.seed);
  const third = Math.floor(input.phaseMs / 3);
  run(third);
  broker.setAvailable(false); // broker outage: the will fires, reconnects back off
  run(third);
  broker.setAvailable(true);
  run(1_000);
  broker.publish(cmdTopic, encodeEnvelope(createEnvelope({
    schemaVersion, deviceId: input.deviceId, seq: 1,
    command: createCommand({ commandId: "cmd-1", name: "ping", deadlineMs: clock.wallMs() + 10_000 }),
  })));
  broker.publish(cfgTopic, encodeEnvelope(createEnvelope({
    schemaVersion, deviceId: input.deviceId, seq: 2, config: createDesiredConfig({ version: 2, heartbeatIntervalMs: 1_000, batchPointsMax: 8 }),
  })), { retain: true });
  run(input.phaseMs - 2 * third - 1_000);
  const before = rt.stats();
  rt.crash();
  run(500);
  rt = boot(input.seed + 1);
  run(input.phaseMs);
  const after = rt.stats();
  rt.stop();
  run(500);
  const messages = broker.log
    .filter((m) => m.from === input.deviceId || m.will)
    .map((m) => ({ topic: m.topic, retain: m.retain, will: m.will, hex: toHex(m.payload) }));
  return { messages, before, after };
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
