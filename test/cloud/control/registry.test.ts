import { describe, expect, it } from "vitest";
import { CommandKind as K, ControlError } from "../../../cloud/control/types";
import { driver } from "./helpers";

describe("device registry", () => {
  it("registers with metadata, gets, and refuses a second registration", () => {
    const d = driver();
    const rec = d.ok({ kind: K.DeviceRegister, deviceId: "dev-1", role: "sensor", metadata: { room: "lab", fw: "1.2.0" } });
    expect(rec).toEqual({ deviceId: "dev-1", role: "sensor", metadata: { room: "lab", fw: "1.2.0" }, revision: 1, status: "active", registeredAtMs: 1000, updatedAtMs: 1000 });
    expect(d.ok({ kind: K.DeviceGet, deviceId: "dev-1" })).toEqual(rec);
    expect(d.fail({ kind: K.DeviceRegister, deviceId: "dev-1", role: "sensor", metadata: {} })).toMatchObject({ code: ControlError.AlreadyExists, current: 1 });
    expect(d.fail({ kind: K.DeviceGet, deviceId: "nope" }).code).toBe(ControlError.NotFound);
  });

  it("updates metadata only at the expected revision (CAS)", () => {
    const d = driver();
    d.ok({ kind: K.DeviceRegister, deviceId: "d", role: "gateway", metadata: { a: "1" } });
    d.nowMs = 2_000;
    const r2 = d.ok({ kind: K.DeviceUpdateMetadata, deviceId: "d", metadata: { a: "2" }, expectedRevision: 1 });
    expect(r2).toMatchObject({ revision: 2, metadata: { a: "2" }, updatedAtMs: 2000, registeredAtMs: 1000 });
    // A second writer who read revision 1 loses and learns the current revision.
    expect(d.fail({ kind: K.DeviceUpdateMetadata, deviceId: "d", metadata: { a: "x" }, expectedRevision: 1 })).toMatchObject({ code: ControlError.Conflict, current: 2 });
    expect(d.ok({ kind: K.DeviceGet, deviceId: "d" }).metadata).toEqual({ a: "2" });
    expect(d.fail({ kind: K.DeviceUpdateMetadata, deviceId: "zz", metadata: {}, expectedRevision: 1 }).code).toBe(ControlError.NotFound);
  });

  it("decommissions (optionally at a revision), keeps the record, and allows re-registration", () => {
    const d = driver();
    d.ok({ kind: K.DeviceRegister, deviceId: "d", role: "actuator", metadata: {} });
    expect(d.fail({ kind: K.DeviceDecommission, deviceId: "d", expectedRevision: 7 }).code).toBe(ControlError.Conflict);
    const gone = d.ok({ kind: K.DeviceDecommission, deviceId: "d", expectedRevision: 1 });
    expect(gone).toMatchObject({ status: "decommissioned", revision: 2 });
    expect(d.fail({ kind: K.DeviceDecommission, deviceId: "d" }).code).toBe(ControlError.Decommissioned);
    expect(d.fail({ kind: K.DeviceUpdateMetadata, deviceId: "d", metadata: {}, expectedRevision: 2 }).code).toBe(ControlError.Decommissioned);
    expect(d.ok({ kind: K.DeviceGet, deviceId: "d" }).status).toBe("decommissioned");
    const back = d.ok({ kind: K.DeviceRegister, deviceId: "d", role: "sensor", metadata: { b: "1" } });
    expect(back).toMatchObject({ status: "active", revision: 3, role: "sensor" });
  });

  it("lists in id order, pages with afterDeviceId, hides decommissioned unless asked", () => {
    const d = driver();
    for (const id of ["c", "a", "e", "b", "d"]) d.ok({ kind: K.DeviceRegister, deviceId: id, role: "sensor", metadata: {} });
    d.ok({ kind: K.DeviceDecommission, deviceId: "c" });
    const p1 = d.ok({ kind: K.DeviceList, limit: 2 });
    expect(p1.devices.map((x) => x.deviceId)).toEqual(["a", "b"]);
    expect(p1.nextAfterDeviceId).toBe("b");
    const p2 = d.ok({ kind: K.DeviceList, limit: 2, afterDeviceId: "b" });
    expect(p2.devices.map((x) => x.deviceId)).toEqual(["d", "e"]);
    expect(p2.nextAfterDeviceId).toBeUndefined();
    const all = d.ok({ kind: K.DeviceList, limit: 10, includeDecommissioned: true });
    expect(all.devices.map((x) => x.deviceId)).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("enforces devicesMax and the metadata limits", () => {
    const d = driver({ devicesMax: 2, metadataEntriesMax: 2, metadataBytesMax: 16 });
    d.ok({ kind: K.DeviceRegister, deviceId: "a", role: "sensor", metadata: {} });
    d.ok({ kind: K.DeviceRegister, deviceId: "b", role: "sensor", metadata: {} });
    expect(d.fail({ kind: K.DeviceRegister, deviceId: "c", role: "sensor", metadata: {} }).code).toBe(ControlError.LimitExceeded);
    // Bad metadata never reaches the log: the encoder refuses it.
    expect(() => d.run({ kind: K.DeviceUpdateMetadata, deviceId: "a", metadata: { k1: "v", k2: "v", k3: "v" }, expectedRevision: 1 })).toThrow(/entries exceed/);
    expect(() => d.run({ kind: K.DeviceUpdateMetadata, deviceId: "a", metadata: { k: "x".repeat(20) }, expectedRevision: 1 })).toThrow(/bytes exceed/);
    expect(() => d.run({ kind: K.DeviceRegister, deviceId: "bad.id", role: "sensor", metadata: {} })).toThrow(/device ids/);
    // Through apply() with an object, the same checks give a typed result.
    const r = d.sm.apply({ v: 1, nowMs: 1, cmd: { kind: K.DeviceRegister, deviceId: "c", role: "sensor", metadata: { __proto__x: "1", ["__proto__"]: "2" } } }, d.sm.appliedIndex + 1);
    expect(r).toMatchObject({ ok: false, code: ControlError.InvalidCommand });
  });
});
