import { describe, expect, it } from "vitest";
import { CommandKind as K, ControlError } from "../../../cloud/control/types";
import { driver } from "./helpers";

describe("locks", () => {
  it("tryAcquire grants or answers held (with the holder's expiry); not reentrant", () => {
    const d = driver();
    const a = d.ok({ kind: K.LockTryAcquire, name: "db", holder: "A", ttlMs: 100 });
    expect(a).toEqual({ name: "db", holder: "A", token: 1, ttlMs: 100, acquiredAtMs: 1000, expiresAtMs: 1100 });
    expect(d.fail({ kind: K.LockTryAcquire, name: "db", holder: "B", ttlMs: 100 })).toMatchObject({ code: ControlError.Held, holder: "A", expiresAtMs: 1100 });
    expect(d.fail({ kind: K.LockTryAcquire, name: "db", holder: "A", ttlMs: 100 }).code).toBe(ControlError.Held);
  });

  it("release only by the holder with its token", () => {
    const d = driver();
    const a = d.ok({ kind: K.LockTryAcquire, name: "db", holder: "A", ttlMs: 100 });
    expect(d.fail({ kind: K.LockRelease, name: "db", holder: "B", token: a.token }).code).toBe(ControlError.NotHolder);
    expect(d.fail({ kind: K.LockRelease, name: "db", holder: "A", token: a.token + 1 }).code).toBe(ControlError.NotHolder);
    d.ok({ kind: K.LockRelease, name: "db", holder: "A", token: a.token });
    expect(d.fail({ kind: K.LockRelease, name: "db", holder: "A", token: a.token }).code).toBe(ControlError.NotHolder);
    expect(d.sm.counts.locks).toBe(0);
  });

  it("expires at the TTL; the next holder gets a larger token; the old one is fenced", () => {
    const d = driver();
    const a = d.ok({ kind: K.LockTryAcquire, name: "db", holder: "A", ttlMs: 100 });
    d.nowMs = 1_099;
    expect(d.ok({ kind: K.LockCheckFence, name: "db", token: a.token }).holder).toBe("A");
    d.nowMs = 1_100;
    // Paused past its TTL: rejected even though nobody else took the lock yet.
    expect(d.fail({ kind: K.LockCheckFence, name: "db", token: a.token }).code).toBe(ControlError.StaleToken);
    const b = d.ok({ kind: K.LockTryAcquire, name: "db", holder: "B", ttlMs: 100 });
    expect(b.token).toBeGreaterThan(a.token);
    expect(d.fail({ kind: K.LockCheckFence, name: "db", token: a.token })).toMatchObject({ code: ControlError.StaleToken, current: b.token });
    expect(d.fail({ kind: K.LockExtend, name: "db", holder: "A", token: a.token, ttlMs: 100 }).code).toBe(ControlError.NotHolder);
  });

  it("extend restarts the TTL for the holder", () => {
    const d = driver();
    const a = d.ok({ kind: K.LockTryAcquire, name: "db", holder: "A", ttlMs: 100 });
    d.nowMs = 1_050;
    expect(d.ok({ kind: K.LockExtend, name: "db", holder: "A", token: a.token, ttlMs: 500 }).expiresAtMs).toBe(1550);
    d.nowMs = 1_400;
    expect(d.fail({ kind: K.LockTryAcquire, name: "db", holder: "B", ttlMs: 100 }).code).toBe(ControlError.Held);
  });

  it("tokens come from one growing counter: per lock they strictly increase", () => {
    const d = driver();
    const t1 = d.ok({ kind: K.LockTryAcquire, name: "x", holder: "A", ttlMs: 10 }).token;
    const t2 = d.ok({ kind: K.LockTryAcquire, name: "y", holder: "A", ttlMs: 10 }).token;
    d.ok({ kind: K.LockRelease, name: "x", holder: "A", token: t1 });
    const t3 = d.ok({ kind: K.LockTryAcquire, name: "x", holder: "B", ttlMs: 10 }).token;
    expect([t1, t2, t3]).toEqual([1, 2, 3]);
  });

  it("enforces locksMax after sweeping expired locks", () => {
    const d = driver({ locksMax: 1 });
    d.ok({ kind: K.LockTryAcquire, name: "x", holder: "A", ttlMs: 10 });
    expect(d.fail({ kind: K.LockTryAcquire, name: "y", holder: "A", ttlMs: 10 }).code).toBe(ControlError.LimitExceeded);
    d.nowMs = 1_010;
    expect(d.ok({ kind: K.LockTryAcquire, name: "y", holder: "A", ttlMs: 10 }).token).toBe(2);
  });

  it("read() serves check-fence off the log at the caller's time without changing state", () => {
    const d = driver();
    const a = d.ok({ kind: K.LockTryAcquire, name: "db", holder: "A", ttlMs: 100 });
    const before = d.sm.snapshot();
    expect(d.sm.read({ kind: K.LockCheckFence, name: "db", token: a.token }).ok).toBe(true);
    expect(d.sm.read({ kind: K.LockCheckFence, name: "db", token: a.token }, 5_000)).toMatchObject({ ok: false, code: ControlError.StaleToken });
    expect(d.sm.snapshot()).toEqual(before);
    expect(d.sm.read({ kind: K.LockRelease, name: "db", holder: "A", token: 1 } as never)).toMatchObject({ ok: false, code: ControlError.InvalidCommand });
  });
});
