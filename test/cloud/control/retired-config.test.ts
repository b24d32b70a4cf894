// Persisted control-plane data of releases that kept the desired config on
// the control plane (config.set / config.get; the config now lives in the
// device shadow, docs/shadow.md "Configuration"): an old log entry still
// decodes and applies as a failure that changes nothing, an old snapshot's
// `configs` array loads and is dropped, and an old session's cached
// config.set result loads.
import { describe, expect, it } from "vitest";
import { canonicalBytes } from "../../../cloud/control/canonical-json";
import { ControlStateMachine } from "../../../cloud/control/state-machine";
import { CommandKind as K, CONTROL_FORMAT_VERSION, ControlError, RetiredCommandKind } from "../../../cloud/control/types";
import { driver, text } from "./helpers";

describe("retired desired-config commands", () => {
  it("an old log's config.set and config.get apply as failures and change nothing", () => {
    const d = driver();
    d.ok({ kind: K.DeviceRegister, deviceId: "d1", role: "sensor", metadata: {} });
    const before = text(d.sm.snapshot());
    const entry = (index: number, cmd: Record<string, unknown>, session?: { clientId: string; seq: number }) =>
      d.sm.apply(canonicalBytes({ v: CONTROL_FORMAT_VERSION, nowMs: 1_000, cmd, ...(session ? { session } : {}) }), index);
    const set = entry(2, { kind: "config.set", deviceId: "d1", config: { sampleIntervalMs: 1000, mode: "eco", led: true }, expectedVersion: 0 }, { clientId: "old", seq: 1 });
    expect(set).toMatchObject({ ok: false, code: ControlError.InvalidCommand });
    expect(!set.ok && set.message).toMatch(/device shadow/);
    expect(entry(3, { kind: "config.get", deviceId: "d1" })).toMatchObject({ ok: false, code: ControlError.InvalidCommand });
    // Only the applied index and the session's cached failure differ.
    const after = JSON.parse(text(d.sm.snapshot())) as Record<string, unknown>;
    const was = JSON.parse(before) as Record<string, unknown>;
    expect({ ...after, appliedIndex: 0, sessions: [] }).toEqual({ ...was, appliedIndex: 0, sessions: [] });
    expect(after.configs).toBeUndefined();
  });

  it("an old snapshot's configs (and a cached config.set result) load; the next snapshot drops them", () => {
    const d = driver();
    d.ok({ kind: K.DeviceRegister, deviceId: "d1", role: "sensor", metadata: {} });
    d.ok({ kind: K.LeaseGrant, holder: "h", ttlMs: 60_000 }, { clientId: "old", seq: 1 });
    const current = JSON.parse(text(d.sm.snapshot())) as { sessions: Array<Record<string, unknown>> };
    const old = JSON.parse(JSON.stringify(current)) as Record<string, unknown> & { sessions: Array<Record<string, unknown>> };
    old.configs = [{ deviceId: "d1", version: 3, config: { hb: 1000, "s.mode": "eco" }, updatedAtMs: 1_000 }];
    // The cached result of an old config.set in the client's session.
    const sessionText = JSON.stringify(old.sessions).replace(`"kind":"${K.LeaseGrant}"`, `"kind":"${RetiredCommandKind.ConfigSet}"`);
    expect(sessionText).toContain(RetiredCommandKind.ConfigSet);
    old.sessions = JSON.parse(sessionText) as Array<Record<string, unknown>>;
    const sm = new ControlStateMachine();
    sm.restore(canonicalBytes(old));
    const again = JSON.parse(text(sm.snapshot())) as Record<string, unknown>;
    expect(again.configs).toBeUndefined();
    expect({ ...again, sessions: [] }).toEqual({ ...current, sessions: [] });
    expect(sm.read({ kind: K.DeviceGet, deviceId: "d1" }).ok).toBe(true);
  });
});
