import { describe, expect, it } from "vitest";
import { CommandKind as K, ControlError } from "../../../cloud/control/types";
import { driver } from "./helpers";

describe("desired configuration", () => {
  it("versions per device with a compare-and-set on the version", () => {
    const d = driver();
    d.ok({ kind: K.DeviceRegister, deviceId: "d1", role: "sensor", metadata: {} });
    d.ok({ kind: K.DeviceRegister, deviceId: "d2", role: "sensor", metadata: {} });
    expect(d.fail({ kind: K.ConfigGet, deviceId: "d1" })).toMatchObject({ code: ControlError.NotFound, current: 0 });
    const v1 = d.ok({ kind: K.ConfigSet, deviceId: "d1", config: { sampleIntervalMs: 1000, mode: "eco", led: true }, expectedVersion: 0 });
    expect(v1).toEqual({ deviceId: "d1", version: 1, config: { sampleIntervalMs: 1000, mode: "eco", led: true }, updatedAtMs: 1000 });
    expect(d.fail({ kind: K.ConfigSet, deviceId: "d1", config: { mode: "x" }, expectedVersion: 0 })).toMatchObject({ code: ControlError.Conflict, current: 1 });
    d.nowMs = 5_000;
    const v2 = d.ok({ kind: K.ConfigSet, deviceId: "d1", config: { mode: "full" }, expectedVersion: 1 });
    expect(v2).toMatchObject({ version: 2, config: { mode: "full" }, updatedAtMs: 5000 });
    expect(d.ok({ kind: K.ConfigGet, deviceId: "d1" })).toEqual(v2);
    // Versions are per device.
    expect(d.ok({ kind: K.ConfigSet, deviceId: "d2", config: {}, expectedVersion: 0 }).version).toBe(1);
  });

  it("refuses unknown and decommissioned devices; keeps the version line across re-registration", () => {
    const d = driver();
    expect(d.fail({ kind: K.ConfigSet, deviceId: "ghost", config: {}, expectedVersion: 0 }).code).toBe(ControlError.NotFound);
    d.ok({ kind: K.DeviceRegister, deviceId: "d", role: "sensor", metadata: {} });
    d.ok({ kind: K.ConfigSet, deviceId: "d", config: { a: 1 }, expectedVersion: 0 });
    d.ok({ kind: K.DeviceDecommission, deviceId: "d" });
    expect(d.fail({ kind: K.ConfigSet, deviceId: "d", config: {}, expectedVersion: 1 }).code).toBe(ControlError.NotFound);
    d.ok({ kind: K.DeviceRegister, deviceId: "d", role: "sensor", metadata: {} });
    expect(d.ok({ kind: K.ConfigSet, deviceId: "d", config: { a: 2 }, expectedVersion: 1 }).version).toBe(2);
  });

  it("bounds config size and value types", () => {
    const d = driver({ configEntriesMax: 2, configBytesMax: 32 });
    d.ok({ kind: K.DeviceRegister, deviceId: "d", role: "sensor", metadata: {} });
    expect(() => d.run({ kind: K.ConfigSet, deviceId: "d", config: { a: 1, b: 2, c: 3 }, expectedVersion: 0 })).toThrow(/entries exceed/);
    expect(() => d.run({ kind: K.ConfigSet, deviceId: "d", config: { a: "y".repeat(40) }, expectedVersion: 0 })).toThrow(/bytes exceed/);
    expect(() => d.run({ kind: K.ConfigSet, deviceId: "d", config: { a: 0.5 }, expectedVersion: 0 })).toThrow(/safe integers/);
    expect(() => d.run({ kind: K.ConfigSet, deviceId: "d", config: { "bad key": 1 }, expectedVersion: 0 })).toThrow(/bad key/);
  });
});
