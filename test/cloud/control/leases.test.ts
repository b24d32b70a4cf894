import { describe, expect, it } from "vitest";
import { CommandKind as K, ControlError } from "../../../cloud/control/types";
import { driver } from "./helpers";

describe("leases", () => {
  it("grants with a TTL, renews on keepalive, expires when state time passes expiry", () => {
    const d = driver();
    const l = d.ok({ kind: K.LeaseGrant, holder: "node-a", ttlMs: 500 });
    expect(l).toEqual({ leaseId: 1, holder: "node-a", ttlMs: 500, grantedAtMs: 1000, expiresAtMs: 1500 });
    d.nowMs = 1_400;
    expect(d.ok({ kind: K.LeaseKeepAlive, leaseId: 1, holder: "node-a" }).expiresAtMs).toBe(1900);
    expect(d.fail({ kind: K.LeaseKeepAlive, leaseId: 1, holder: "node-b" }).code).toBe(ControlError.NotHolder);
    d.nowMs = 1_900; // expiry is exclusive: at expiresAtMs the lease is gone
    expect(d.fail({ kind: K.LeaseKeepAlive, leaseId: 1, holder: "node-a" }).code).toBe(ControlError.Expired);
    expect(d.sm.counts.leases).toBe(0);
  });

  it("revokes only for the holder; ids never repeat", () => {
    const d = driver();
    const a = d.ok({ kind: K.LeaseGrant, holder: "a", ttlMs: 1000 });
    expect(d.fail({ kind: K.LeaseRevoke, leaseId: a.leaseId, holder: "b" }).code).toBe(ControlError.NotHolder);
    d.ok({ kind: K.LeaseRevoke, leaseId: a.leaseId, holder: "a" });
    expect(d.fail({ kind: K.LeaseRevoke, leaseId: a.leaseId, holder: "a" }).code).toBe(ControlError.Expired);
    expect(d.ok({ kind: K.LeaseGrant, holder: "a", ttlMs: 1000 }).leaseId).toBe(2);
  });

  it("never moves time backwards when a new leader's stamp is behind", () => {
    const d = driver();
    d.ok({ kind: K.LeaseGrant, holder: "a", ttlMs: 100 });
    d.nowMs = 1_200;
    d.ok({ kind: K.Tick });
    d.nowMs = 900; // a new leader whose clock lags
    expect(d.ok({ kind: K.Tick }).timeMs).toBe(1200);
    expect(d.fail({ kind: K.LeaseKeepAlive, leaseId: 1, holder: "a" }).code).toBe(ControlError.Expired);
  });

  it("enforces leasesMax, sweeping expired leases before refusing", () => {
    const d = driver({ leasesMax: 2 });
    d.ok({ kind: K.LeaseGrant, holder: "a", ttlMs: 100 });
    d.ok({ kind: K.LeaseGrant, holder: "b", ttlMs: 10_000 });
    expect(d.fail({ kind: K.LeaseGrant, holder: "c", ttlMs: 100 }).code).toBe(ControlError.LimitExceeded);
    d.nowMs = 1_100;
    expect(d.ok({ kind: K.LeaseGrant, holder: "c", ttlMs: 100 }).leaseId).toBe(3);
  });
});

describe("singleton roles", () => {
  it("one holder at a time; the holder renews; others see who holds it", () => {
    const d = driver();
    const r = d.ok({ kind: K.RoleAcquire, role: "scheduler", nodeId: "n1", ttlMs: 1000 });
    expect(r).toEqual({ role: "scheduler", holder: "n1", leaseId: 1, epoch: 1, expiresAtMs: 2000 });
    expect(d.fail({ kind: K.RoleAcquire, role: "scheduler", nodeId: "n2", ttlMs: 1000 })).toMatchObject({ code: ControlError.Held, holder: "n1", expiresAtMs: 2000 });
    d.nowMs = 1_500;
    expect(d.ok({ kind: K.RoleAcquire, role: "scheduler", nodeId: "n1", ttlMs: 1000 })).toMatchObject({ epoch: 1, leaseId: 1, expiresAtMs: 2500 });
    expect(d.ok({ kind: K.RoleGet, role: "scheduler" }).holder).toBe("n1");
  });

  it("fails over after expiry with a larger epoch; release by a non-holder is refused", () => {
    const d = driver();
    d.ok({ kind: K.RoleAcquire, role: "shard/7", nodeId: "n1", ttlMs: 1000 });
    d.nowMs = 2_000;
    expect(d.fail({ kind: K.RoleGet, role: "shard/7" }).code).toBe(ControlError.NotFound);
    const r2 = d.ok({ kind: K.RoleAcquire, role: "shard/7", nodeId: "n2", ttlMs: 1000 });
    expect(r2.epoch).toBe(2);
    expect(d.fail({ kind: K.RoleRelease, role: "shard/7", nodeId: "n1" }).code).toBe(ControlError.NotHolder);
    d.ok({ kind: K.RoleRelease, role: "shard/7", nodeId: "n2" });
    expect(d.fail({ kind: K.RoleRelease, role: "shard/7", nodeId: "n2" }).code).toBe(ControlError.NotFound);
    expect(d.ok({ kind: K.RoleAcquire, role: "shard/7", nodeId: "n1", ttlMs: 1000 }).epoch).toBe(3);
  });

  it("revoking the role's lease frees the role", () => {
    const d = driver();
    const r = d.ok({ kind: K.RoleAcquire, role: "ingest-leader", nodeId: "n1", ttlMs: 1000 });
    d.ok({ kind: K.LeaseRevoke, leaseId: r.leaseId, holder: "n1" });
    expect(d.ok({ kind: K.RoleAcquire, role: "ingest-leader", nodeId: "n2", ttlMs: 1000 }).holder).toBe("n2");
  });

  it("enforces rolesMax", () => {
    const d = driver({ rolesMax: 1 });
    d.ok({ kind: K.RoleAcquire, role: "a", nodeId: "n1", ttlMs: 100 });
    expect(d.fail({ kind: K.RoleAcquire, role: "b", nodeId: "n1", ttlMs: 100 }).code).toBe(ControlError.LimitExceeded);
    d.nowMs = 1_100;
    expect(d.ok({ kind: K.RoleAcquire, role: "b", nodeId: "n1", ttlMs: 100 }).role).toBe("b");
  });
});
