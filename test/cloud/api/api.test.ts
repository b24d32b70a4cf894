import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Svcm } from "@nats-io/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../../harness/wait";
import { ApiClient } from "../../../cloud/api/client";
import { ApiError, apiServiceName } from "../../../cloud/api/types";
import type { CloudNode } from "../../../cloud/node/node";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startTestNode, testPartitions } from "./fixture";
import { ShadowStore } from "../../../cloud/shadow";
import { startTestDevice } from "./mqtt-device";

let nats: NatsCluster;
let node: CloudNode;
let nc: NatsConnection;
let api: ApiClient;

beforeAll(async () => {
  nats = await startNats({ size: 1, partitions: testPartitions });
  node = await startTestNode(nats.servers, {}, {
    roles: {
      apiSeams: async (ctx) => ({
        // The real shadow store: devices.config.set writes the desired shadow.
        shadow: await ShadowStore.open(ctx.nc),
        deviceState: { getDeviceState: async (id) => (id === "known" ? { deviceId: id, presence: { state: "online" } } : null) },
        queryHistory: async (q) => ({ points: [{ t: q.fromMs, v: 21.5 }], query: q }),
      }),
    },
  });
  nc = await connect({ servers: nats.servers });
  api = new ApiClient(nc);
});

afterAll(async () => {
  await nc?.close();
  await node?.stop();
  await nats?.stop();
});

async function expectApiError(p: Promise<unknown>, code: string, status: number, message?: RegExp): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    const err = e as ApiError;
    expect({ code: err.code, status: err.status }).toEqual({ code, status });
    if (message) expect(err.message).toMatch(message);
    return err;
  }
  throw new Error(`expected ApiError ${code}`);
}

describe("device management API", () => {
  it("is discoverable with $SRV.PING and $SRV.INFO", async () => {
    const svc = new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).client();
    const pings = [];
    for await (const p of await svc.ping(apiServiceName)) pings.push(p);
    expect(pings).toHaveLength(1);
    expect(pings[0]!.metadata).toEqual({ node: "test-node" });
    const raw = await nc.request("$SRV.PING.xsfleet-api", "", { timeout: 2000 });
    expect(raw.json<{ name: string }>().name).toBe("xsfleet-api");
    const infos = [];
    for await (const i of await svc.info(apiServiceName)) infos.push(i);
    const subjects = infos[0]!.endpoints.map((e) => e.subject).sort();
    expect(subjects).toEqual([
      "xsfleet.v1.api.alerts.ack", "xsfleet.v1.api.alerts.history", "xsfleet.v1.api.alerts.list", "xsfleet.v1.api.analytics.windows",
      "xsfleet.v1.api.commands.get", "xsfleet.v1.api.commands.send",
      "xsfleet.v1.api.devices.config.set", "xsfleet.v1.api.devices.decommission", "xsfleet.v1.api.devices.get",
      "xsfleet.v1.api.devices.list", "xsfleet.v1.api.devices.metadata", "xsfleet.v1.api.devices.register",
      "xsfleet.v1.api.devices.state", "xsfleet.v1.api.mesh.counters",
      "xsfleet.v1.api.rules.delete", "xsfleet.v1.api.rules.list", "xsfleet.v1.api.rules.put", "xsfleet.v1.api.shadow.delete", "xsfleet.v1.api.shadow.get", "xsfleet.v1.api.shadow.history",
      "xsfleet.v1.api.shadow.put", "xsfleet.v1.api.telemetry.query",
    ]);
  });

  it("answers mesh.counters not_available when the node has no device state store", async () => {
    await expectApiError(api.meshCounters(), "not_available", 501, /mesh counters/);
  });

  it("registers, gets, lists, updates metadata and decommissions", async () => {
    const rec = await api.register("dev-a", { site: "lab" });
    expect(rec).toMatchObject({ deviceId: "dev-a", lifecycle: "registered", metadata: { site: "lab" } });
    await api.register("dev-b");
    await api.register("dev-c");
    expect((await api.get("dev-a")).revision).toBe(rec.revision);

    const page1 = await api.list({ limit: 2 });
    expect(page1.devices.map((d) => d.deviceId)).toEqual(["dev-a", "dev-b"]);
    expect(page1.next).toBe("dev-b");
    const page2 = await api.list({ limit: 2, after: page1.next! });
    expect(page2.devices.map((d) => d.deviceId)).toEqual(["dev-c"]);
    expect(page2.next).toBeUndefined();

    const updated = await api.setMetadata("dev-a", { zone: "z1", site: null });
    expect(updated.metadata).toEqual({ zone: "z1" });
    await expectApiError(api.setMetadata("dev-a", { zone: "z2" }, rec.revision), "conflict", 409, /revision/);

    const events: unknown[] = [];
    const sub = nc.subscribe("xsfleet.v1.events.dev-c.decommissioned", { callback: (_e, m) => { events.push(m.json()); } });
    await nc.flush();
    const gone = await api.decommission("dev-c");
    expect(gone.lifecycle).toBe("decommissioned");
    await until("decommissioned event", () => events.length === 1);
    expect(events[0]).toEqual({ deviceId: "dev-c", event: "decommissioned", atMs: gone.decommissionedMs, revision: gone.revision });
    sub.unsubscribe();
    expect((await api.list({ lifecycle: "registered" })).devices.map((d) => d.deviceId)).toEqual(["dev-a", "dev-b"]);
    await expectApiError(api.setMetadata("dev-c", { a: "b" }), "decommissioned", 410);
    // Registering again brings it back.
    expect((await api.register("dev-c")).lifecycle).toBe("registered");
  });

  it("answers bad requests with error headers, a code and a message saying what to fix", async () => {
    await expectApiError(api.register("bad.id"), "bad_request", 400, /deviceId must be 1-64 characters/);
    await expectApiError(api.get("nobody"), "not_found", 404, /not registered/);
    await api.register("dup");
    await expectApiError(api.register("dup"), "already_exists", 409, /already registered/);
    await expectApiError(api.call("devices.get", { deviceId: "dup", extra: 1 } as never), "bad_request", 400, /unknown field "extra"/);
    await expectApiError(api.list({ limit: 100_000 }), "bad_request", 400, /limit must be an integer from 1 to 1000/);
    await expectApiError(api.setMetadata("dup", { "bad key": "x" }), "bad_request", 400, /metadata key/);
    await expectApiError(api.setConfig("dup", { heartbeatIntervalMs: -1 }), "bad_request", 400, /heartbeatIntervalMs/);
    await expectApiError(api.sendCommand({ deviceId: "nobody", name: "x" }), "not_found", 404, /register it before/);
    await expectApiError(api.sendCommand({ deviceId: "dup", name: "has space" }), "bad_request", 400, /name/);
    await expectApiError(api.sendCommand({ deviceId: "dup", name: "x", timeoutMs: 10 }), "bad_request", 400, /timeoutMs/);
    await expectApiError(api.queryTelemetry({ deviceId: "dup", channel: "t", fromMs: 10, toMs: 5 }), "bad_request", 400, /before fromMs/);

    // Raw protocol: the status is in the Nats-Service-Error-Code header and the body is JSON.
    const raw = await nc.request("xsfleet.v1.api.devices.get", "{not json", { timeout: 2000 });
    expect(raw.headers?.get("Nats-Service-Error-Code")).toBe("400");
    expect(raw.json<{ error: { code: string; message: string } }>().error).toMatchObject({ code: "bad_request", message: expect.stringMatching(/not valid JSON/) });
    const big = await nc.request("xsfleet.v1.api.devices.register", JSON.stringify({ deviceId: "x", metadata: { a: "x".repeat(70_000) } }), { timeout: 2000 });
    expect(big.headers?.get("Nats-Service-Error-Code")).toBe("413");
  });

  it("writes configuration into the desired shadow (checked per field, one write), pushes the delta, re-sends it on Hello", async () => {
    await api.register("cfg-dev");
    const dev = await startTestDevice({ deviceId: "cfg-dev", mqttUrl: nats.nodes[0]!.mqttUrl });
    const pushedNames = (i: number) => (dev.configs[i]?.shadowDelta?.fields ?? []).map((f) => f.name);
    try {
      const r1 = await api.setConfig("cfg-dev", { heartbeatIntervalMs: 5000, led: "on" });
      expect(r1.op).toMatchObject({ kind: "write", fields: ["heartbeatIntervalMs", "led"] });
      expect(r1.fields.heartbeatIntervalMs!.values).toEqual([5000]);
      expect(r1.fields.led!.values).toEqual(["on"]);
      expect(r1.delta.fields).toMatchObject({ heartbeatIntervalMs: { value: 5000 }, led: { value: "on" } });
      await until("the delta pushed", () => dev.configs.some((c, i) => pushedNames(i).includes("led")));
      // Only the shadow delta: the deprecated linear fields stay empty.
      expect(dev.configs[0]).toMatchObject({ version: 0, heartbeatIntervalMs: 0, settings: [] });

      // Refused with the device's own rules, naming the field; nothing written.
      await expectApiError(api.setConfig("cfg-dev", { heartbeatIntervalMs: 50 }), "bad_request", 400, /heartbeatIntervalMs/);
      await expectApiError(api.setConfig("cfg-dev", { led: "x".repeat(600) }), "bad_request", 400, /led: value longer than 512 characters/);
      await expectApiError(api.setConfig("cfg-dev", { "bad name": "x" }), "bad_request", 400, /bad name/);
      await expectApiError(api.setConfig("nobody", { led: "x" }), "not_found", 404, /not registered/);
      // A write with the context it read (here: a blind one) keeps a concurrent value: a conflict, held back from the device.
      const r2 = await api.setConfig("cfg-dev", { led: "off" }, { led: {} });
      expect([...r2.fields.led!.values].sort()).toEqual(["off", "on"]);
      expect(r2.delta.conflicts).toEqual(["led"]);
      // Without contexts a write replaces what it read.
      const r3 = await api.setConfig("cfg-dev", { led: "off" });
      expect(r3.fields.led!.values).toEqual(["off"]);

      const before = dev.configs.length;
      await dev.hello();
      await until("the delta re-sent after Hello", () => dev.configs.length > before);
      expect(pushedNames(dev.configs.length - 1)).toEqual(["heartbeatIntervalMs", "led"]);
      // null deletes the field (the device reports nothing here, so the delta has nothing to remove).
      const r4 = await api.setConfig("cfg-dev", { led: null });
      expect(r4.fields.led!.values).toEqual([]);
      expect(r4.delta.fields.led).toBeUndefined();
      expect((await api.call("shadow.get", { deviceId: "cfg-dev" })).shadow.desired.fields.heartbeatIntervalMs!.values).toEqual([5000]);
    } finally {
      await dev.close();
    }
  });

  it("serves device state and telemetry through the wired seams", async () => {
    expect(await api.deviceState("known")).toMatchObject({ presence: { state: "online" } });
    expect(await api.deviceState("unknown")).toBeNull();
    const res = await api.queryTelemetry({ deviceId: "known", channel: "temperature", fromMs: 1000, toMs: 2000, limit: 10 });
    expect(res).toEqual({ points: [{ t: 1000, v: 21.5 }], query: { deviceId: "known", channel: "temperature", fromMs: 1000, toMs: 2000, limit: 10 } });
  });

  it("reports no responders as not_available", async () => {
    const other = await startNats({ size: 1, partitions: testPartitions });
    const c = await connect({ servers: other.servers });
    try {
      await expectApiError(new ApiClient(c).get("x"), "not_available", 503, /start one with the api role/);
    } finally {
      await c.close();
      await other.stop();
    }
  });
});
