// The shadow endpoints of the API role on a real cloud node: put with and
// without context, get with siblings, context and delta, delete, history,
// events, and errors mapped to API codes.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient, ApiEndpoint } from "../../../cloud/api";
import type { CloudNode } from "../../../cloud/node/node";
import { ShadowStore, applyShadowReport, type ShadowEvent } from "../../../cloud/shadow";
import { DeviceEvent, deviceEventSubject, deviceSubject } from "../../../cloud/subjects";
import { fieldsFromWire, fieldsToWire } from "../../../shared/clock/dvv-wire";
import { createEnvelope, createHello, decodeEnvelope, encodeEnvelope, type Envelope } from "../../../shared/proto/xsfleet.gen";
import { Downlink, Uplink } from "../../../shared/topics";
import { ShadowReplica, deltaFromSets } from "../../../firmware/device/shadow";
import { startNats, type NatsCluster } from "../../harness/nats";
import { until } from "../../harness/wait";
import { startTestNode } from "../api/fixture";

let nats: NatsCluster;
let node: CloudNode;
let nc: NatsConnection;
let api: ApiClient;

beforeAll(async () => {
  nats = await startNats({ size: 1 });
  node = await startTestNode(nats.servers, { nodeId: "shadow-node", roles: ["api"] });
  nc = await connect({ servers: nats.servers });
  api = new ApiClient(nc);
  // Desired state is written for registered devices only.
  for (const id of ["thermo-1", "d1", "d2", "lamp-3", "gone-1"]) await api.register(id, { source: "test" });
  await api.call(ApiEndpoint.DevicesDecommission, { deviceId: "gone-1" });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await node?.stop();
  await nats?.stop();
});

describe("shadow API", () => {
  it("put, get with siblings and context, resolve, delete, history and events", async () => {
    const id = "thermo-1";
    const events: ShadowEvent[] = [];
    const sub = nc.subscribe(deviceEventSubject(id, DeviceEvent.Shadow), { callback: (_e, m) => { events.push(m.json<ShadowEvent>()); } });
    await nc.flush();

    const p1 = await api.call(ApiEndpoint.ShadowPut, { deviceId: id, field: "setpoint", value: 21.5, actor: "alice" });
    expect(p1.op.dot).toEqual({ writer: "api-shadow-node", counter: 1 });
    // Bob writes without having read: kept beside Alice's value, not over it.
    await api.call(ApiEndpoint.ShadowPut, { deviceId: id, field: "setpoint", value: 19, actor: "bob" });
    const g = (await api.call(ApiEndpoint.ShadowGet, { deviceId: id })).shadow;
    expect(g.desired.fields.setpoint!.values.sort()).toEqual([19, 21.5]);
    expect(g.desired.fields.setpoint!.context).toEqual({ "api-shadow-node": 2 });
    expect(g.delta).toEqual({ fields: {}, deleted: {}, conflicts: ["setpoint"] });
    expect(g.reported.fields).toEqual({});

    // Carol resolves with the context she read.
    const p3 = await api.call(ApiEndpoint.ShadowPut, { deviceId: id, field: "setpoint", value: 20, context: g.desired.fields.setpoint!.context, actor: "carol" });
    expect(p3.field.values).toEqual([20]);
    const g2 = (await api.call(ApiEndpoint.ShadowGet, { deviceId: id })).shadow;
    expect(g2.delta.fields).toEqual({ setpoint: { value: 20, context: { "api-shadow-node": 3 } } });

    const mode = await api.call(ApiEndpoint.ShadowPut, { deviceId: id, field: "mode", value: { name: "eco", level: 2 } });
    expect(mode.field.context).toEqual({ "api-shadow-node": 1 }); // dots count per field
    const del = await api.call(ApiEndpoint.ShadowDelete, { deviceId: id, field: "mode", context: mode.field.context });
    expect(del.field.values).toEqual([]);
    const h = (await api.call(ApiEndpoint.ShadowHistory, { deviceId: id, doc: "desired" })).history;
    expect(h.map((e) => [e.op.kind, e.op.actor ?? "", JSON.stringify(e.op.value ?? null)])).toEqual([
      ["put", "alice", "21.5"], ["put", "bob", "19"], ["put", "carol", "20"], ["put", "", '{"level":2,"name":"eco"}'], ["delete", "", "null"],
    ]);
    await until("five shadow events", () => events.length >= 5);
    expect(events.map((e) => e.op.kind)).toEqual(["put", "put", "put", "put", "delete"]);
    await sub.unsubscribe();
  }, 60_000);

  it("answers bad requests with API error codes", async () => {
    const code = async (p: Promise<unknown>) => p.then(() => "ok", (e: { code?: string }) => e.code ?? String(e));
    expect(await code(api.call(ApiEndpoint.ShadowPut, { deviceId: "d1", field: "a b", value: 1 }))).toBe("bad_request");
    // Cadence fields are configuration: the device's own range check (shared/device-config.ts); dotted names are fine.
    expect(await code(api.call(ApiEndpoint.ShadowPut, { deviceId: "d1", field: "heartbeatIntervalMs", value: 5 }))).toBe("bad_request");
    expect(await code(api.call(ApiEndpoint.ShadowPut, { deviceId: "d1", field: "job.x", value: "rules;ch=t;gt=1" }))).toBe("ok");
    expect(await code(api.call(ApiEndpoint.ShadowPut, { deviceId: "d1", field: "a", value: 1, context: { "api-x": -1 } }))).toBe("bad_request");
    // Longer than a device keeps (shared/device-config.ts settingValueBytesMax): refused, never pending for ever.
    expect(await code(api.call(ApiEndpoint.ShadowPut, { deviceId: "d1", field: "a", value: "x".repeat(600) }))).toBe("bad_request");
    expect(await code(api.call(ApiEndpoint.ShadowPut, { deviceId: "d1", field: "a" } as never))).toBe("bad_request");
    expect(await code(api.call(ApiEndpoint.ShadowDelete, { deviceId: "d1", field: "a" } as never))).toBe("bad_request");
    expect(await code(api.call(ApiEndpoint.ShadowHistory, { deviceId: "d1", doc: "other" as never }))).toBe("bad_request");
    expect(await code(api.call(ApiEndpoint.ShadowGet, { deviceId: "bad id" }))).toBe("bad_request");
    // Only registered, active devices get desired state.
    expect(await code(api.call(ApiEndpoint.ShadowPut, { deviceId: "nobody-1", field: "a", value: 1 }))).toBe("not_found");
    expect(await code(api.call(ApiEndpoint.ShadowDelete, { deviceId: "nobody-1", field: "a", context: {} }))).toBe("not_found");
    expect(await code(api.call(ApiEndpoint.ShadowPut, { deviceId: "gone-1", field: "a", value: 1 }))).toBe("decommissioned");
    // A context naming writes the store never saw (forged, or from a rolled-back store) is refused.
    expect(await code(api.call(ApiEndpoint.ShadowPut, { deviceId: "d1", field: "a", value: 1, context: { "api-shadow-node": 99 } }))).toBe("bad_request");
    for (let i = 0; i < 8; i++) await api.call(ApiEndpoint.ShadowPut, { deviceId: "d2", field: "a", value: i });
    expect(await code(api.call(ApiEndpoint.ShadowPut, { deviceId: "d2", field: "a", value: 9 }))).toBe("conflict");
  }, 60_000);

  it("pushes the delta to the device on desired changes and on Hello, as a version-0 DesiredConfig; what the device reported leaves it", async () => {
    const id = "lamp-3";
    const got: Envelope[] = [];
    const sub = nc.subscribe(deviceSubject(id, Downlink.Config), { callback: (_e, m) => { got.push(decodeEnvelope(m.data)); } });
    await nc.flush();
    await api.call(ApiEndpoint.ShadowPut, { deviceId: id, field: "led", value: "on" });
    await until("a delta push", () => got.length >= 1);
    expect(got[0]!.config!.version).toBe(0);
    const dev = new ShadowReplica();
    expect(dev.applyDelta(deltaFromSets(fieldsFromWire(got[0]!.config!.shadowDelta!.fields)))).toEqual(["led"]);
    // The device reports (here straight to the ingest hook); a Hello then finds nothing to send.
    const store = await ShadowStore.open(nc);
    await applyShadowReport(store, id, { fields: fieldsToWire(dev.report()) });
    await api.call(ApiEndpoint.ShadowPut, { deviceId: id, field: "color", value: "warm" });
    await until("a second push", () => got.length >= 2);
    expect(got[1]!.config!.shadowDelta!.fields.map((f) => f.name)).toEqual(["color"]);
    nc.publish(deviceSubject(id, Uplink.Hello), encodeEnvelope(createEnvelope({ deviceId: id, hello: createHello({ firmwareVersion: "t" }) })));
    await until("a push on Hello", () => got.length >= 3);
    expect(got[2]!.config!.shadowDelta!.fields.map((f) => f.name)).toEqual(["color"]);
    await sub.unsubscribe();
  }, 60_000);
});
