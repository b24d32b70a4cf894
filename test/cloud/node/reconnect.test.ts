// A node outlives a broker restart: health reports the outage, and the API
// and command delivery work again after the reconnect (maxReconnectAttempts -1).
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until, waitFor } from "../../harness/wait";
import { ApiClient } from "../../../cloud/api/client";
import type { CloudNode } from "../../../cloud/node/node";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startTestNode } from "../api/fixture";
import { startTestDevice } from "../api/mqtt-device";

let nats: NatsCluster;
let node: CloudNode;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats({ size: 1, partitions: 16 });
  node = await startTestNode(nats.servers);
  nc = await connect({ servers: nats.servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
});

afterAll(async () => {
  await nc?.close();
  await node?.stop();
  await nats?.stop();
});

describe("broker restart", () => {
  it("reports disconnected, reconnects, and serves again", async () => {
    const api = new ApiClient(nc);
    await api.register("survivor-dev");
    expect(node.health().status).toBe("ok");
    await nats.stopNode(0);
    await until("health reports the outage", () => node.health().status === "disconnected");
    await nats.startNode(0);
    await until("health recovers", () => node.health().status === "ok", 30_000);
    // JetStream state survived the restart and the service is reachable again.
    const device = await waitFor("the API to answer again after the broker restart", () => api.get("survivor-dev"), { intervalMs: 100 });
    expect(device.lifecycle).toBe("registered");
    const dev = await startTestDevice({ deviceId: "survivor-dev", mqttUrl: nats.nodes[0]!.mqttUrl });
    try {
      const { command } = await api.sendCommand({ deviceId: "survivor-dev", name: "ping", timeoutMs: 15_000 });
      expect(command.state).toBe("acked");
    } finally {
      await dev.close();
    }
  });
});
