import { describe, expect, it } from "vitest";
import { retryUntil, type TryOutcome } from "../../../cloud/lock/acquire-loop";
import { FencedOutcome, judgeFencedWrite } from "../../../cloud/lock/fence";

/** A manual clock: sleeping advances it, so the loop runs without real time. */
function fakeTime() {
  const t = { nowMs: 0, sleeps: [] as number[] };
  return {
    t,
    nowMs: () => t.nowMs,
    sleep: async (ms: number) => { t.sleeps.push(ms); t.nowMs += ms; },
  };
}

describe("retryUntil (acquire with timeout)", () => {
  it("timeoutMs 0 tries exactly once", async () => {
    const f = fakeTime();
    let calls = 0;
    const r = await retryUntil(async (): Promise<TryOutcome<number>> => { calls++; return { ok: false }; }, { timeoutMs: 0, ...f });
    expect(r).toEqual({ ok: false, attempts: 1, waitedMs: 0 });
    expect(calls).toBe(1);
  });

  it("returns the value on the first success with the attempt count", async () => {
    const f = fakeTime();
    let calls = 0;
    const r = await retryUntil(async (): Promise<TryOutcome<string>> => (++calls === 3 ? { ok: true, value: "got" } : { ok: false }), { timeoutMs: 1_000, ...f, random: () => 0 });
    expect(r).toEqual({ ok: true, value: "got", attempts: 3 });
  });

  it("backs off exponentially (with jitter) up to retryMaxMs, never past the deadline, and tries once more at it", async () => {
    const f = fakeTime();
    const r = await retryUntil(async (): Promise<TryOutcome<number>> => ({ ok: false }), { timeoutMs: 1_000, retryMinMs: 10, retryMaxMs: 80, ...f, random: () => 0.999 });
    expect(r.ok).toBe(false);
    expect(f.t.sleeps.slice(0, 5)).toEqual([10, 20, 40, 80, 80]);
    expect(f.t.sleeps.reduce((a, b) => a + b, 0)).toBe(1_000);
    if (!r.ok) expect(r.waitedMs).toBe(1_000);
  });

  it("sleeps no longer than the holder's expiry hint", async () => {
    const f = fakeTime();
    let calls = 0;
    await retryUntil(async (): Promise<TryOutcome<number>> => (++calls === 4 ? { ok: true, value: 1 } : { ok: false, retryAfterMs: 7 }), { timeoutMs: 1_000, retryMinMs: 5, retryMaxMs: 500, ...f, random: () => 0.999 });
    expect(f.t.sleeps).toEqual([5, 7, 7]);
  });

  it("validates its bounds and propagates backend errors", async () => {
    await expect(retryUntil(async () => ({ ok: false }), { timeoutMs: 10, retryMinMs: 0 })).rejects.toThrow(/retry bounds/);
    await expect(retryUntil(async () => { throw new Error("redis down"); }, { timeoutMs: 10 })).rejects.toThrow(/redis down/);
  });
});

describe("judgeFencedWrite (the fenced compare-and-set rule)", () => {
  it("accepts a token >= the stored one only at the expected version", () => {
    expect(judgeFencedWrite(undefined, 3, 0)).toBe(FencedOutcome.Ok);
    expect(judgeFencedWrite(undefined, 3, 1)).toBe(FencedOutcome.VersionConflict);
    expect(judgeFencedWrite({ token: 3, version: 4 }, 3, 4)).toBe(FencedOutcome.Ok);
    expect(judgeFencedWrite({ token: 3, version: 4 }, 5, 4)).toBe(FencedOutcome.Ok);
    // The lost-update case of a token-only check: an older read with a newer (or equal) token.
    expect(judgeFencedWrite({ token: 3, version: 4 }, 3, 3)).toBe(FencedOutcome.VersionConflict);
    expect(judgeFencedWrite({ token: 3, version: 4 }, 2, 4)).toBe(FencedOutcome.StaleToken);
    expect(() => judgeFencedWrite(undefined, 0, 0)).toThrow(RangeError);
  });
});
