// The whole shadow loop with the real firmware runtime (simulated actuator
// over MQTT, file storage) against a cloud node with the api and ingest
// roles (and an in-process control-plane replica for ingest's partition
// leases): a desired value written through the API reaches the device as a
// delta, the device applies it and reports on its heartbeats, ingest joins
// the reports in its partitioned pipeline under the device's key (`dev`),
// the reported document converges and the delta closes; after a restart (same state dir) the device's dots
// continue where they were (no dot reuse) and a delta written while it was
// offline is applied on Hello.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient, ApiEndpoint } from "../../../cloud/api";
import type { CloudNode } from "../../../cloud/node/node";
import { startSimDevice, type SimDevice } from "../../../firmware/host/sim-device";
import { startNats, type NatsCluster } from "../../harness/nats";
import { waitFor } from "../../harness/wait";
import { startTestNode } from "../api/fixture";
import { startControlPlaneInProcess, type InProcessControlPlane } from "../../harness/control-plane";

let nats: NatsCluster;
let node: CloudNode;
let cp: InProcessControlPlane;
let nc: NatsConnection;
let api: ApiClient;
let dir: string;

beforeAll(async () => {
  nats = await startNats({ size: 1, partitions: 16 });
  cp = await startControlPlaneInProcess(nats.servers[0]!);
  node = await startTestNode(nats.servers, { nodeId: "loop-node", roles: ["api", "commands", "ingest"] });
  nc = await connect({ servers: nats.servers });
  api = new ApiClient(nc);
  dir = mkdtempSync(path.join(tmpdir(), "xsfleet-shadow-loop-"));
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await node?.stop();
  await cp?.stop();
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const shadow = async (id: string) => (await api.call(ApiEndpoint.ShadowGet, { deviceId: id })).shadow;

describe("shadow loop with the real firmware", () => {
  it("desired → delta → device → report on heartbeats → reported; survives a restart without reusing dots", async () => {
    const id = "loop-act-1";
    const start = () => startSimDevice({ deviceId: id, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, id), role: "actuator", heartbeatIntervalMs: 500 });
    await api.register(id, {});
    let dev: SimDevice = await start();
    try {
      await dev.waitFor("connected");
      await api.call(ApiEndpoint.ShadowPut, { deviceId: id, field: "led", value: "on", actor: "op" });
      const s1 = await waitFor("the device to report led=on", async () => {
        const s = await shadow(id);
        return s.reported.fields.led?.values[0] === "on" ? s : undefined;
      });
      expect(s1.reported.fields.led!.siblings).toEqual([{ writer: "dev", counter: 1, value: "on" }]);
      // Joined by ingest under the device's key (no api node's key).
      expect(s1.reported.writers).toEqual(["dev"]);
      expect(s1.delta).toEqual({ fields: {}, deleted: {}, conflicts: [] });

      // Offline: the operator changes it; the device restarts from its state dir and gets it on Hello.
      await dev.stop();
      await api.call(ApiEndpoint.ShadowPut, { deviceId: id, field: "led", value: "off", context: s1.desired.fields.led!.context });
      dev = await start();
      const s2 = await waitFor("the device to report led=off after restart", async () => {
        const s = await shadow(id);
        return s.reported.fields.led?.values[0] === "off" ? s : undefined;
      });
      // Its counter continued (persisted replica): dot 2, the old value replaced, nothing reused.
      expect(s2.reported.fields.led!.siblings).toEqual([{ writer: "dev", counter: 2, value: "off" }]);
      expect(s2.delta.fields).toEqual({});
    } finally {
      await dev.stop();
    }
  }, 90_000);
});
