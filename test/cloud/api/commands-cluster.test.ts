// Command delivery with several nodes running the commands role: every
// attempt is sent by exactly one node (the compare-and-set winner), each ack
// is recorded once, a stopping node hands its retry loops over, and an ack
// sent while no commands node runs is recorded later from XSF_UP.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../../harness/wait";
import { ApiClient } from "../../../cloud/api/client";
import { Kvm } from "@nats-io/kv";
import type { CommandEvent, CommandRecord } from "../../../cloud/commands/types";
import type { CloudNode } from "../../../cloud/node/node";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startTestNode, testPartitions } from "./fixture";
import { startTestDevice, type TestDevice } from "./mqtt-device";

let nats: NatsCluster;
let nc: NatsConnection;
let api: ApiClient;
const nodes: CloudNode[] = [];
const devices: TestDevice[] = [];

beforeAll(async () => {
  nats = await startNats({ size: 1, partitions: testPartitions });
  nc = await connect({ servers: nats.servers });
  api = new ApiClient(nc);
});

afterAll(async () => {
  for (const d of devices) await d.close().catch(() => {});
  for (const n of nodes) await n.stop();
  await nc?.close();
  await nats?.stop();
});

async function node(nodeId: string, roles: string[], commands?: Record<string, number>): Promise<CloudNode> {
  const n = await startTestNode(nats.servers, { nodeId, roles, ...(commands ? { commands } : {}) });
  nodes.push(n);
  return n;
}

async function device(deviceId: string, dropFirstCommands = 0, ackDelayMs = 0): Promise<TestDevice> {
  const d = await startTestDevice({ deviceId, mqttUrl: nats.nodes[0]!.mqttUrl, dropFirstCommands, ackDelayMs });
  devices.push(d);
  return d;
}

describe("commands across several nodes", () => {
  // First: no other commands node may run during it.
  it("records an ack that arrived while no commands node ran (read durably from XSF_UP), without a resend", async () => {
    const slow = { retryInitialMs: 60_000, retryMaxMs: 60_000, leaseMs: 65_000, tickMs: 50 };
    const first = await node("ack-first", ["api", "commands"], slow);
    await api.register("ack-late");
    const dev = await device("ack-late", 0, 1_500);
    const sent = await api.sendCommand({ deviceId: "ack-late", name: "op", wait: false, timeoutMs: 120_000 });
    await until("the command reached the device", () => dev.received.length === 1);
    await first.stop(); // no commands node runs while the device acks
    nodes.splice(nodes.indexOf(first), 1);
    await until("the device acked", () => dev.acksSent.length === 1);
    const second = await node("ack-second", ["api", "commands"], slow);
    await until("the ack recorded by the node started afterwards", () => second.commandWorker!.stats.acked === 1).catch((e: unknown) => { throw new Error(`${String(e)}; stats ${JSON.stringify(second.commandWorker!.stats)}; acks ${JSON.stringify(dev.acksSent)}`); });
    expect(await api.getCommand("ack-late", sent.command.commandId)).toMatchObject({ state: "acked", attempts: 1, ack: { duplicate: false } });
    expect(dev.received).toHaveLength(1); // recorded from XSF_UP, not by sending again
    await second.stop();
    nodes.splice(nodes.indexOf(second), 1);
  });

  it("re-sends on Hello: an offline device gets its command as soon as it connects, long before the next timed retry", async () => {
    const slow = { retryInitialMs: 20_000, retryMaxMs: 20_000, leaseMs: 25_000, tickMs: 50 };
    const n = await node("hello-node", ["api", "commands"], slow);
    try {
      await api.register("late-dev");
      const sent = await api.sendCommand({ deviceId: "late-dev", name: "door.unlock", wait: false, timeoutMs: 60_000 });
      const dev = await device("late-dev");
      await until("ack after Hello", () => dev.acksSent.length === 1);
      await until("ack recorded", () => n.commandWorker!.stats.acked === 1);
      expect(n.commandWorker!.stats.resentOnline).toBe(1);
      expect(n.commandWorker!.stats.sent).toBe(0);
      expect(await api.getCommand("late-dev", sent.command.commandId)).toMatchObject({ state: "acked", attempts: 2 });
    } finally {
      await n.stop();
      nodes.splice(nodes.indexOf(n), 1);
    }
  });

  it("sends each attempt once and records each ack once with two worker nodes", async () => {
    const a = await node("worker-a", ["api", "commands"]);
    const b = await node("worker-b", ["commands"]);
    const events: CommandEvent[] = [];
    const sub = nc.subscribe("xsfleet.v1.events.*.command-acked", { callback: (_e, m) => { events.push(m.json<CommandEvent>()); } });
    const ids = ["lossy-0", "lossy-1", "lossy-2", "lossy-3"];
    const devs = await Promise.all(ids.map(async (id, i) => { await api.register(id); return device(id, 1 + (i % 3)); }));
    const replies = await Promise.all(ids.flatMap((id) => [1, 2].map((k) => api.sendCommand({ deviceId: id, name: `op${k}`, timeoutMs: 30_000 }))));
    expect(replies.every((r) => r.command.state === "acked")).toBe(true);
    await new Promise((r) => setTimeout(r, 1000));
    for (const r of replies) {
      const dev = devs[ids.indexOf(r.command.deviceId)]!;
      const final = await api.getCommand(r.command.deviceId, r.command.commandId);
      // Exactly as many copies reached the device as attempts were recorded: no node sent an attempt twice.
      expect(dev.received.filter((c) => c.commandId === r.command.commandId)).toHaveLength(final.attempts);
      expect(events.filter((e) => e.commandId === r.command.commandId)).toHaveLength(1);
    }
    expect(a.commandWorker!.stats.acked + b.commandWorker!.stats.acked).toBe(replies.length);
    expect(a.commandWorker!.stats.sent + b.commandWorker!.stats.sent).toBeGreaterThan(0);
    sub.unsubscribe();
  });

  it("hands a stopping node's retry loops to another node", async () => {
    const [a, b] = nodes.slice(-2) as [CloudNode, CloudNode];
    await api.register("handover");
    // Drops the first 1000 copies: only the attempt budget/deadline bounds the loop.
    const dev = await device("handover", 1000);
    const sent = await api.sendCommand({ deviceId: "handover", name: "op", wait: false, timeoutMs: 60_000 });
    await until("a few retries", () => dev.received.length >= 3);
    const kv = await new Kvm(nc).open("xsfleet_commands");
    const leaseOwner = (await kv.get(`handover.${sent.command.commandId}`))!.json<CommandRecord>().leaseOwner;
    const owner = [a, b].find((n) => n.nodeId === leaseOwner)!;
    expect(owner).toBeDefined();
    const other = owner === a ? b : a;
    const otherSentBefore = other.commandWorker!.stats.sent;
    await owner.stop();
    nodes.splice(nodes.indexOf(owner), 1);
    const receivedAtStop = dev.received.length;
    await until("retries continue from the other node", () => dev.received.length >= receivedAtStop + 2);
    expect(other.commandWorker!.stats.sent).toBeGreaterThan(otherSentBefore);
  });
});
