import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../../harness/wait";
import { ApiClient } from "../../../cloud/api/client";
import type { CommandEvent } from "../../../cloud/commands/types";
import type { CloudNode } from "../../../cloud/node/node";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startTestNode, testPartitions } from "./fixture";
import { startTestDevice, type TestDevice } from "./mqtt-device";

let nats: NatsCluster;
let node: CloudNode;
let nc: NatsConnection;
let api: ApiClient;
const devices: TestDevice[] = [];

beforeAll(async () => {
  nats = await startNats({ size: 1, partitions: testPartitions });
  node = await startTestNode(nats.servers);
  nc = await connect({ servers: nats.servers });
  api = new ApiClient(nc);
});

afterAll(async () => {
  for (const d of devices) await d.close().catch(() => {});
  await nc?.close();
  await node?.stop();
  await nats?.stop();
});

function collectEvents(deviceId: string): { events: CommandEvent[]; sub: Subscription } {
  const events: CommandEvent[] = [];
  const sub = nc.subscribe(`xsfleet.v1.events.${deviceId}.*`, { callback: (_e, m) => { events.push(m.json<CommandEvent>()); } });
  return { events, sub };
}

async function device(deviceId: string, opts: { dropFirstCommands?: number; ackDelayMs?: number } = {}): Promise<TestDevice> {
  const d = await startTestDevice({ deviceId, mqttUrl: nats.nodes[0]!.mqttUrl, ...opts });
  devices.push(d);
  return d;
}

describe("commands with acknowledgement and deadline", () => {
  it("delivers a command sent while the device was offline, once it comes online, acknowledged exactly once", async () => {
    await api.register("act-1");
    const { events, sub } = collectEvents("act-1");
    // The device is offline: the first attempt goes nowhere (QoS 0, no session).
    const reply = api.sendCommand({ deviceId: "act-1", name: "relay.set", args: { on: true }, timeoutMs: 20_000 });
    await until("a timed retry while offline", () => node.commandWorker!.stats.sent >= 1);
    const dev = await device("act-1");
    const { command } = await reply;
    expect(command).toMatchObject({ deviceId: "act-1", name: "relay.set", state: "acked", ack: { status: "ok", resultJson: '{"ran":"relay.set"}' } });
    expect(command.attempts).toBeGreaterThanOrEqual(2);
    expect(Date.now()).toBeLessThan(command.deadlineMs);
    expect(dev.executed.get(command.commandId)).toBe(1);
    expect(dev.received.filter((c) => c.commandId === command.commandId)[0]!.argsJson).toBe('{"on":true}');
    // Any later copies are duplicates for the device, and never a second acked event.
    await new Promise((r) => setTimeout(r, 1500));
    expect(events.filter((e) => e.commandId === command.commandId && e.event === "command-acked")).toHaveLength(1);
    expect(dev.acksSent.filter((a) => a.commandId === command.commandId && !a.duplicate)).toHaveLength(1);
    expect(await api.getCommand("act-1", command.commandId)).toMatchObject({ state: "acked" });
    sub.unsubscribe();
  });

  it("retries lost attempts (QoS 0 loss) until the ack arrives", async () => {
    await api.register("act-2");
    const dev = await device("act-2", { dropFirstCommands: 2 });
    const { command } = await api.sendCommand({ deviceId: "act-2", name: "valve.open", timeoutMs: 20_000 });
    expect(command.state).toBe("acked");
    expect(command.attempts).toBeGreaterThanOrEqual(3);
    expect(dev.received.filter((c) => c.commandId === command.commandId).length).toBeGreaterThanOrEqual(3);
    expect(dev.executed.get(command.commandId)).toBe(1);
  });

  it("reports a command expired when its deadline passes without an ack", async () => {
    await api.register("act-3");
    const { events, sub } = collectEvents("act-3");
    const started = Date.now();
    const { command } = await api.sendCommand({ deviceId: "act-3", name: "relay.set", timeoutMs: 1500 });
    expect(command.state).toBe("expired");
    expect(command.expiredMs).toBeGreaterThanOrEqual(command.deadlineMs);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    await until("command-expired event", () => events.length >= 1);
    expect(events).toEqual([expect.objectContaining({ event: "command-expired", commandId: command.commandId, state: "expired", nodeId: "test-node" })]);
    // A device that shows up after the deadline does not get it.
    const dev = await device("act-3");
    await new Promise((r) => setTimeout(r, 500));
    expect(dev.received.filter((c) => c.commandId === command.commandId)).toHaveLength(0);
    sub.unsubscribe();
  });

  it("is idempotent by client command id and sends without waiting on request", async () => {
    await api.register("act-4");
    const first = await api.sendCommand({ deviceId: "act-4", name: "blink", commandId: "my-cmd-1", wait: false, timeoutMs: 20_000 });
    expect(first).toMatchObject({ created: true, command: { state: "pending", commandId: "my-cmd-1" } });
    const again = await api.sendCommand({ deviceId: "act-4", name: "blink", commandId: "my-cmd-1", wait: false, timeoutMs: 20_000 });
    expect(again.created).toBe(false);
    await expect(api.sendCommand({ deviceId: "act-4", name: "other", commandId: "my-cmd-1", wait: false })).rejects.toMatchObject({ code: "conflict" });
    const dev = await device("act-4");
    await until("device executes my-cmd-1", () => dev.executed.has("my-cmd-1"));
    await until("my-cmd-1 to be recorded as acked", async () => (await api.getCommand("act-4", "my-cmd-1")).state === "acked");
  });

  it("says device state is not available before any ingest node created its bucket", async () => {
    await expect(api.deviceState("act-1")).rejects.toMatchObject({ code: "not_available", status: 501, message: expect.stringMatching(/start a node with the ingest role/) });
  });

  it("bounds pending commands per device", async () => {
    await api.register("act-5");
    for (let i = 0; i < 32; i++) await api.sendCommand({ deviceId: "act-5", name: "n", wait: false, timeoutMs: 60_000 });
    await expect(api.sendCommand({ deviceId: "act-5", name: "n", wait: false })).rejects.toMatchObject({ code: "too_many_pending", status: 429 });
  });
});
