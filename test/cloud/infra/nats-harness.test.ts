import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import mqtt from "mqtt";
import { startNats, type NatsCluster } from "../../harness/nats";

describe("test harness: a real 3-node nats-server cluster with JetStream and MQTT", () => {
  let cluster: NatsCluster;
  beforeAll(async () => { cluster = await startNats({ size: 3 }); });
  afterAll(async () => { await cluster?.stop(); });

  it("carries an MQTT publish on one node to a NATS subscriber on another, and runs R3 streams", async () => {
    const nc = await connect({ servers: cluster.nodes[2]!.natsUrl });
    const jsm = await jetstreamManager(nc);
    const si = await jsm.streams.add({ name: "HARNESS", subjects: ["harness.>"], num_replicas: 3 });
    expect(si.config.num_replicas).toBe(3);
    const sub = nc.subscribe("dev.a1.hello", { max: 1 });
    await nc.flush();
    const client = mqtt.connect(cluster.nodes[0]!.mqttUrl, { clientId: "a1", protocolVersion: 4 });
    await new Promise<void>((resolve, reject) => { client.once("connect", () => resolve()); client.once("error", reject); });
    await client.publishAsync("dev/a1/hello", Buffer.from([1, 2, 3]), { qos: 1 });
    for await (const m of sub) expect(Array.from(m.data)).toEqual([1, 2, 3]);
    await client.endAsync();
    await nc.close();
  });
});
