import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import mqtt from "mqtt";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { anyPort, startNatsServer } from "../../../cloud/infra";
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

describe("nats-server start-up", () => {
  it("a node stopped and started again comes back on its own ports", async () => {
    const one = await startNats();
    try {
      const before = { ...one.nodes[0]! };
      await one.stopNode(0);
      await one.startNode(0);
      const after = one.nodes[0]!;
      expect([after.clientPort, after.mqttPort, after.monitorPort]).toEqual([before.clientPort, before.mqttPort, before.monitorPort]);
      const nc = await connect({ servers: after.natsUrl });
      await nc.flush();
      await nc.close();
    } finally {
      await one.stop();
    }
  });

  it("a server that does not come up is reported with its own log", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "xsfleet-bad-nats-"));
    try {
      // A store dir that is a file: JetStream cannot start, nats-server exits and says why.
      writeFileSync(path.join(dir, "store"), "not a directory");
      const spec = {
        name: "bad", host: "127.0.0.1", storeDir: path.join(dir, "store"), replicas: 1, routes: [], portsFileDir: dir,
        clientPort: anyPort, mqttPort: anyPort, monitorPort: anyPort, clusterPort: null,
      };
      await expect(startNatsServer(spec, path.join(dir, "bad.conf"))).rejects.toThrow(/nats-server bad exited with code \d+ before it listened; its log:\n[\s\S]*\[FTL\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
