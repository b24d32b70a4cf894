import { describe, expect, it } from "vitest";
import { CommandKind as K, ControlError } from "../../../cloud/control/types";
import { driver } from "./helpers";

describe("client sessions (exactly-once retries)", () => {
  it("a duplicate (clientId, seq) returns the first result without acting again", () => {
    const d = driver();
    const s = { clientId: "c1", seq: 1 };
    const first = d.run({ kind: K.LockTryAcquire, name: "L", holder: "A", ttlMs: 100 }, s);
    const again = d.run({ kind: K.LockTryAcquire, name: "L", holder: "A", ttlMs: 100 }, s);
    expect(again).toEqual(first);
    expect(d.sm.read({ kind: K.LockCheckFence, name: "L", token: 1 }).ok).toBe(true);
    // A metadata update retried after its success does not fail its own CAS.
    d.ok({ kind: K.DeviceRegister, deviceId: "d", role: "sensor", metadata: {} });
    const set = { kind: K.DeviceUpdateMetadata, deviceId: "d", metadata: { a: "1" }, expectedRevision: 1 } as const;
    expect(d.run(set, { clientId: "c1", seq: 2 })).toMatchObject({ ok: true });
    expect(d.run(set, { clientId: "c1", seq: 2 })).toMatchObject({ ok: true, value: { revision: 2 } });
  });

  it("accepts out-of-order seqs within the window; older evicted seqs are stale", () => {
    const d = driver({ sessionResponsesMax: 2 });
    const grant = (seq: number) => d.run({ kind: K.LeaseGrant, holder: "h", ttlMs: 1000 }, { clientId: "c", seq });
    expect(grant(3)).toMatchObject({ ok: true, value: { leaseId: 1 } });
    expect(grant(2)).toMatchObject({ ok: true, value: { leaseId: 2 } });
    expect(grant(5)).toMatchObject({ ok: true, value: { leaseId: 3 } }); // evicts seq 2
    expect(grant(3)).toMatchObject({ ok: true, value: { leaseId: 1 } });
    expect(grant(1)).toMatchObject({ ok: false, code: ControlError.StaleSession });
    expect(grant(2)).toMatchObject({ ok: false, code: ControlError.StaleSession });
    expect(grant(4)).toMatchObject({ ok: true, value: { leaseId: 4 } });
  });

  it("reads bypass sessions; idle sessions expire; sessionsMax evicts the least recently active", () => {
    const d = driver({ sessionsMax: 2, sessionTtlMs: 1000 });
    d.run({ kind: K.MemberList }, { clientId: "reader", seq: 1 });
    expect(d.sm.counts.sessions).toBe(0);
    d.run({ kind: K.Tick }, { clientId: "a", seq: 1 });
    d.nowMs = 1_100;
    d.run({ kind: K.Tick }, { clientId: "b", seq: 1 });
    d.nowMs = 1_200;
    d.run({ kind: K.Tick }, { clientId: "c", seq: 1 }); // evicts a
    expect(d.sm.counts.sessions).toBe(2);
    d.nowMs = 5_000;
    d.run({ kind: K.Tick });
    expect(d.sm.counts.sessions).toBe(0);
  });
});
