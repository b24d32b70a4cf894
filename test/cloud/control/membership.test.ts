import { describe, expect, it } from "vitest";
import { CommandKind as K, ControlError } from "../../../cloud/control/types";
import { driver } from "./helpers";

const resources = { cpuMillis: 2000, memoryBytes: 4_000_000_000 };

describe("membership", () => {
  it("join, heartbeat (refreshing resources), list with status, leave", () => {
    const d = driver();
    const m = d.ok({ kind: K.MemberJoin, nodeId: "cloud-1", address: "10.0.0.1:7000", roles: ["orchestration", "ingest"], resources, ttlMs: 3000 });
    expect(m).toMatchObject({ nodeId: "cloud-1", roles: ["ingest", "orchestration"], incarnation: 1, status: "alive", joinedAtMs: 1000, lastHeartbeatMs: 1000 });
    d.nowMs = 3_000;
    const hb = d.ok({ kind: K.MemberHeartbeat, nodeId: "cloud-1", incarnation: 1, resources: { cpuMillis: 1500, memoryBytes: 1 } });
    expect(hb).toMatchObject({ lastHeartbeatMs: 3000, resources: { cpuMillis: 1500, memoryBytes: 1 } });
    d.ok({ kind: K.MemberJoin, nodeId: "cloud-2", address: "10.0.0.2:7000", roles: ["analytics"], resources, ttlMs: 10_000 });
    d.nowMs = 6_000;
    const list = d.ok({ kind: K.MemberList });
    expect(list.members.map((x) => [x.nodeId, x.status])).toEqual([["cloud-1", "expired"], ["cloud-2", "alive"]]);
    d.ok({ kind: K.MemberLeave, nodeId: "cloud-2", incarnation: 2 });
    expect(d.ok({ kind: K.MemberList }).members.map((x) => x.nodeId)).toEqual(["cloud-1"]);
  });

  it("an expired member must rejoin; the old incarnation is then rejected (zombie)", () => {
    const d = driver();
    d.ok({ kind: K.MemberJoin, nodeId: "n", address: "a:1", roles: ["ingest"], resources, ttlMs: 1000 });
    d.nowMs = 2_000;
    expect(d.fail({ kind: K.MemberHeartbeat, nodeId: "n", incarnation: 1 }).code).toBe(ControlError.Expired);
    const again = d.ok({ kind: K.MemberJoin, nodeId: "n", address: "a:2", roles: ["ingest"], resources, ttlMs: 1000 });
    expect(again.incarnation).toBe(2);
    expect(d.fail({ kind: K.MemberHeartbeat, nodeId: "n", incarnation: 1 })).toMatchObject({ code: ControlError.Conflict, current: 2 });
    expect(d.fail({ kind: K.MemberLeave, nodeId: "n", incarnation: 1 }).code).toBe(ControlError.Conflict);
    expect(d.fail({ kind: K.MemberHeartbeat, nodeId: "ghost", incarnation: 1 }).code).toBe(ControlError.NotFound);
  });

  it("enforces membersMax and validates roles", () => {
    const d = driver({ membersMax: 1 });
    d.ok({ kind: K.MemberJoin, nodeId: "n1", address: "a:1", roles: [], resources, ttlMs: 1000 });
    expect(d.fail({ kind: K.MemberJoin, nodeId: "n2", address: "a:1", roles: [], resources, ttlMs: 1000 }).code).toBe(ControlError.LimitExceeded);
    // Rejoining an existing id is not a new slot.
    expect(d.ok({ kind: K.MemberJoin, nodeId: "n1", address: "a:9", roles: [], resources, ttlMs: 1000 }).incarnation).toBe(2);
    expect(() => d.run({ kind: K.MemberJoin, nodeId: "n1", address: "a:1", roles: ["ingest", "ingest"], resources, ttlMs: 1000 })).toThrow(/duplicate role/);
    expect(() => d.run({ kind: K.MemberJoin, nodeId: "n1", address: "a:1", roles: ["chef" as never], resources, ttlMs: 1000 })).toThrow(/expected one of/);
  });
});
