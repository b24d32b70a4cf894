// A minimal MQTT device for cloud tests: connects to nats-server's MQTT
// listener, subscribes to its cmd and cfg topics at QoS 0 (as the firmware
// does), says Hello, executes each command id once and answers every copy
// with a CommandAck (duplicate=true after the first), built with the
// generated protobuf types. It can drop the first N commands it receives to
// imitate QoS 0 loss.
import mqtt, { type MqttClient } from "mqtt";
import {
  AckStatus, createCommandAck, createEnvelope, createHello, decodeEnvelope, encodeEnvelope, Role, schemaVersion,
  type Command, type DesiredConfig,
} from "../../../shared/proto/xsfleet.gen";
import { deviceTopic, Downlink, Uplink } from "../../../shared/topics";

export interface TestDeviceOptions {
  deviceId: string;
  mqttUrl: string;
  /** Drop this many incoming commands before handling any (simulated QoS 0 loss). */
  dropFirstCommands?: number;
  /** Wait this long between executing a command and acking it. */
  ackDelayMs?: number;
  /** Ack status for executed commands (default OK). */
  status?: AckStatus;
}

export interface TestDevice {
  /** Executions per command id (must end at 1 each). */
  executed: Map<string, number>;
  /** Every command copy received, including dropped and duplicate ones. */
  received: Command[];
  acksSent: { commandId: string; duplicate: boolean }[];
  configs: DesiredConfig[];
  hello(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestDevice(o: TestDeviceOptions): Promise<TestDevice> {
  let seq = 0;
  let toDrop = o.dropFirstCommands ?? 0;
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();
  /** Commands executing now: copies that arrive meanwhile are ignored, as the firmware does. */
  const running = new Set<string>();
  const dev: TestDevice = {
    executed: new Map(), received: [], acksSent: [], configs: [],
    hello: async () => {
      const env = createEnvelope({
        schemaVersion, deviceId: o.deviceId, seq: ++seq, deviceTimeMs: Date.now(),
        hello: createHello({ role: Role.ROLE_ACTUATOR, capabilities: ["relay"], firmwareVersion: "test", heartbeatIntervalMs: 10_000 }),
      });
      await client.publishAsync(deviceTopic(o.deviceId, Uplink.Hello), Buffer.from(encodeEnvelope(env)), { qos: 1 });
    },
    close: async () => {
      closed = true;
      for (const t of timers) clearTimeout(t);
      await client.endAsync();
    },
  };
  const client: MqttClient = await mqtt.connectAsync(o.mqttUrl, { clientId: o.deviceId, protocolVersion: 4, clean: true, reconnectPeriod: 0 });
  const ack = async (c: Command, duplicate: boolean): Promise<void> => {
    if (closed) return;
    const env = createEnvelope({
      schemaVersion, deviceId: o.deviceId, seq: ++seq, deviceTimeMs: Date.now(),
      commandAck: createCommandAck({ commandId: c.commandId, status: o.status ?? AckStatus.ACK_STATUS_OK, resultJson: JSON.stringify({ ran: c.name }), duplicate }),
    });
    dev.acksSent.push({ commandId: c.commandId, duplicate });
    await client.publishAsync(deviceTopic(o.deviceId, Uplink.CommandAck), Buffer.from(encodeEnvelope(env)), { qos: 1 });
  };
  client.on("message", (topic, payload) => {
    const env = decodeEnvelope(new Uint8Array(payload));
    if (topic === deviceTopic(o.deviceId, Downlink.Config) && env.config) { dev.configs.push(env.config); return; }
    const c = env.command;
    if (!c) return;
    dev.received.push(c);
    if (toDrop > 0) { toDrop--; return; }
    if (running.has(c.commandId)) return;
    if (dev.executed.has(c.commandId)) { void ack(c, true); return; }
    dev.executed.set(c.commandId, 1);
    running.add(c.commandId);
    const t = setTimeout(() => {
      timers.delete(t);
      running.delete(c.commandId);
      void ack(c, false);
    }, o.ackDelayMs ?? 0);
    timers.add(t);
  });
  await client.subscribeAsync([deviceTopic(o.deviceId, Downlink.Command), deviceTopic(o.deviceId, Downlink.Config)], { qos: 0 });
  await dev.hello();
  return dev;
}
