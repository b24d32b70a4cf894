// On a 3-server NATS cluster with replicated buckets: the cloud node talks to
// one server, the device's MQTT session lives on another, and a command sent
// while the device is offline is still delivered and acknowledged once.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "../../../cloud/api/client";
import type { CloudNode } from "../../../cloud/node/node";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startTestNode, testPartitions } from "./fixture";
import { startTestDevice, type TestDevice } from "./mqtt-device";

let nats: NatsCluster;
let node: CloudNode;
let nc: NatsConnection;
let dev: TestDevice | null = null;

beforeAll(async () => {
  nats = await startNats({ size: 3, partitions: testPartitions });
  node = await startTestNode([nats.servers[0]!], { nodeId: "cluster-node", streams: { replicas: 3 } });
  nc = await connect({ servers: [nats.servers[1]!] });
});

afterAll(async () => {
  await dev?.close();
  await nc?.close();
  await node?.stop();
  await nats?.stop();
});

describe("commands on a NATS cluster", () => {
  it("delivers across servers with R3 buckets", async () => {
    const api = new ApiClient(nc);
    await api.register("far-dev");
    const reply = api.sendCommand({ deviceId: "far-dev", name: "set", args: { value: 3 }, timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    dev = await startTestDevice({ deviceId: "far-dev", mqttUrl: nats.nodes[2]!.mqttUrl });
    const { command } = await reply;
    expect(command).toMatchObject({ state: "acked", ack: { status: "ok", duplicate: false } });
    expect(dev.executed.get(command.commandId)).toBe(1);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("KV_xsfleet_commands")).config.num_replicas).toBe(3);
    expect((await jsm.streams.info("KV_xsfleet_registry")).config.num_replicas).toBe(3);
  });
});
