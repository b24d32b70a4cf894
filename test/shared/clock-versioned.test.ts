import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Order, VectorClock } from "../../shared/clock/vectorclock";
import {
  type Versioned,
  WriteOutcome,
  applyWrite,
  causalContext,
  clockForWrite,
  mergeSiblingSets,
} from "../../shared/clock/versioned";

type Shadow = { led: string };
const w = (clock: Record<string, number>, led: string): Versioned<Shadow> => ({ clock: VectorClock.from(clock), value: { led } });
const values = (s: readonly Versioned<Shadow>[]) => s.map((x) => x.value.led).sort();

describe("versioned (multi-value register)", () => {
  it("keeps concurrent desired/reported updates as siblings and resolves them", () => {
    let s: readonly Versioned<Shadow>[] = [];
    let r = applyWrite(s, w({ cloud: 1 }, "on"));
    expect(r.outcome).toBe(WriteOutcome.Stored);
    s = r.siblings;
    // Device and operator both saw {cloud:1}, then write concurrently.
    r = applyWrite(s, w({ cloud: 1, dev: 1 }, "off"));
    expect(r).toMatchObject({ outcome: WriteOutcome.Stored, superseded: 1 });
    s = r.siblings;
    r = applyWrite(s, w({ cloud: 2 }, "blink"));
    expect(r).toMatchObject({ outcome: WriteOutcome.Stored, superseded: 0 });
    s = r.siblings;
    expect(values(s)).toEqual(["blink", "off"]); // neither lost
    // A stale write is ignored; a redelivered one is a duplicate.
    expect(applyWrite(s, w({ cloud: 1 }, "on")).outcome).toBe(WriteOutcome.Dominated);
    expect(applyWrite(s, w({ cloud: 2 }, "blink")).outcome).toBe(WriteOutcome.Duplicate);
    expect(applyWrite(s, w({ cloud: 2 }, "other"), { valueEquals: (a, b) => a.led === b.led }).outcome).toBe(WriteOutcome.ClockReused);
    // Resolving: write with a clock that dominates what was read.
    expect(causalContext(s).toJSON()).toEqual({ cloud: 2, dev: 1 });
    const resolved = { clock: clockForWrite(s, "op"), value: { led: "on" } };
    r = applyWrite(s, resolved);
    expect(r).toMatchObject({ outcome: WriteOutcome.Stored, superseded: 2 });
    expect(values(r.siblings)).toEqual(["on"]);
  });

  it("rejects a write past siblingsMax without touching the set", () => {
    const s = [w({ a: 1 }, "a"), w({ b: 1 }, "b")];
    const r = applyWrite(s, w({ c: 1 }, "c"), { siblingsMax: 2 });
    expect(r.outcome).toBe(WriteOutcome.SiblingsMax);
    expect(r.siblings).toBe(s);
    const m = mergeSiblingSets(s, [w({ c: 1 }, "c"), w({ a: 2 }, "a2")], { siblingsMax: 2 });
    expect(values(m.siblings)).toEqual(["a2", "b"]);
    expect(m.rejected.map((x) => x.value.led)).toEqual(["c"]);
  });

  // Writers with their own clocks write and occasionally sync; any delivery
  // order must give the same sibling set: the maximal writes, none lost.
  const history = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined })), { minLength: 1, maxLength: 25 })
    .map((steps) => {
      const clocks = Array.from({ length: 4 }, () => new VectorClock());
      const writes: Versioned<string>[] = [];
      steps.forEach(([who, syncFrom], i) => {
        if (syncFrom !== undefined) clocks[who]!.merge(clocks[syncFrom]!);
        clocks[who]!.increment(`w${who}`);
        writes.push({ clock: clocks[who]!.clone(), value: `v${i}` });
      });
      return writes;
    });

  it("converges for any delivery order, with duplicates, and loses no write", () => {
    fc.assert(
      fc.property(history, fc.array(fc.nat()), (writes, keys) => {
        const maximal = writes.filter((a) => !writes.some((b) => a.clock.compare(b.clock) === Order.Before));
        const expected = maximal.map((x) => x.value).sort();
        // Shuffle with duplicates: sort indices (some repeated) by random keys.
        const order = writes.map((_, i) => i).concat(keys.slice(0, 5).map((k) => k % writes.length));
        const ks = order.map((_, i) => keys[i] ?? i);
        const perm = order.map((o, i) => [o, ks[i]!] as const).sort((x, y) => x[1] - y[1]).map(([o]) => o);
        let s: readonly Versioned<string>[] = [];
        for (const i of perm) s = applyWrite(s, writes[i]!, { siblingsMax: 64 }).siblings;
        expect(s.map((x) => x.value).sort()).toEqual(expected);
        // Antichain, and every write is covered by some sibling.
        for (const a of s) for (const b of s) if (a !== b) expect(a.clock.compare(b.clock)).toBe(Order.Concurrent);
        for (const x of writes) expect(s.some((y) => x.clock.lessOrEqual(y.clock))).toBe(true);
        // Anti-entropy between two halves gives the same set.
        const half = Math.floor(writes.length / 2);
        let left: readonly Versioned<string>[] = [];
        let right: readonly Versioned<string>[] = [];
        writes.slice(0, half).forEach((x) => (left = applyWrite(left, x, { siblingsMax: 64 }).siblings));
        writes.slice(half).forEach((x) => (right = applyWrite(right, x, { siblingsMax: 64 }).siblings));
        const merged = mergeSiblingSets(left, right, { siblingsMax: 64 });
        expect(merged.siblings.map((x) => x.value).sort()).toEqual(expected);
        expect(merged.rejected).toEqual([]);
      }),
    );
  });
});
