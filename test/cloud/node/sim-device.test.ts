// The real firmware (simulated actuator over MQTT) against a cloud node that
// runs ingest, api and commands: a command sent while the device is offline
// is executed once and acknowledged once it connects; desired config
// reaches it; the device's state is readable through the API.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until, waitFor } from "../../harness/wait";
import { ApiClient } from "../../../cloud/api/client";
import type { CloudNode } from "../../../cloud/node/node";
import { startSimDevice, type SimDevice } from "../../../firmware/host/sim-device";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startTestNode, testPartitions } from "../api/fixture";
import { startControlPlaneInProcess, type InProcessControlPlane } from "../../harness/control-plane";

let nats: NatsCluster;
let node: CloudNode;
let nc: NatsConnection;
let api: ApiClient;
let dir: string;
/** Ingest's partition leases live on the control plane. */
let cp: InProcessControlPlane;

beforeAll(async () => {
  nats = await startNats({ size: 1, partitions: testPartitions });
  cp = await startControlPlaneInProcess(nats.servers[0]!);
  node = await startTestNode(nats.servers, { nodeId: "full-node", roles: ["ingest", "api", "commands"] });
  nc = await connect({ servers: nats.servers });
  api = new ApiClient(nc);
  dir = mkdtempSync(path.join(tmpdir(), "xsfleet-simdev-"));
});

afterAll(async () => {
  await nc?.close();
  await node?.stop();
  await cp?.stop();
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("cloud node with the simulated firmware", () => {
  it("delivers an offline-sent command, desired config and device state end to end", async () => {
    await api.register("sim-act-1", { room: "lab" });
    const reply = api.sendCommand({ deviceId: "sim-act-1", name: "set", args: { on: true }, timeoutMs: 30_000 });
    await api.setConfig("sim-act-1", { heartbeatIntervalMs: 2000 });

    let dev: SimDevice | null = null;
    try {
      dev = await startSimDevice({ deviceId: "sim-act-1", brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, "sim-act-1"), role: "actuator", heartbeatIntervalMs: 1000 });
      const executions: string[] = [];
      const configs: string[] = [];
      dev.on("command", (e) => { if (e.outcome === 0) executions.push(e.commandId); });
      dev.on("config", (e) => { configs.push(...e.applied); });

      const { command } = await reply;
      expect(command).toMatchObject({ state: "acked", ack: { status: "ok" } });
      await until("the configuration (desired shadow) applied by the device", () => configs.includes("heartbeatIntervalMs"));
      expect(dev.runtime.cadence.heartbeatIntervalMs).toBe(2000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(executions.filter((id) => id === command.commandId)).toHaveLength(1);

      const state = await waitFor("the device state to say online", async () => {
        const s = await api.deviceState("sim-act-1");
        return (s as { presence?: { state?: string } } | null)?.presence?.state === "online" ? s : undefined;
      }, { intervalMs: 100 });
      expect(state).toMatchObject({ deviceId: "sim-act-1", presence: { state: "online" } });
    } finally {
      await dev?.stop();
    }
  });

  it("answers telemetry.query from the history a simulated sensor produced", async () => {
    await api.register("sim-sen-1"); // the registry is ingest's gate
    const dev = await startSimDevice({
      deviceId: "sim-sen-1", brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, "sim-sen-1"), role: "sensor",
      sampleIntervalMs: 100, batchPointsMax: 2, batchAgeMaxMs: 300, heartbeatIntervalMs: 1000, speedup: 60,
    });
    try {
      const points = await waitFor("two points in the telemetry history", async () => {
        const res = (await api.queryTelemetry({ deviceId: "sim-sen-1", channel: "temperature", fromMs: 0, toMs: Date.now() + 3_600_000, limit: 100 })) as { points: { t: number; v: number }[] };
        return res.points.length >= 2 ? res.points : undefined;
      }, { intervalMs: 100 });
      expect(points.length).toBeGreaterThanOrEqual(2);
      expect(points.every((p) => Number.isFinite(p.v) && p.t > 0)).toBe(true);
    } finally {
      await dev.stop();
    }
  });
});
