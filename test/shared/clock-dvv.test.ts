import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DvvContext, type DvvSet, DvvError, DvvErrorCode, contextCovers, dvvDiscard, dvvEmpty, dvvEquals, dvvJoin, dvvPut, dvvValidate, dvvValues,
} from "../../shared/clock/dvv";

const writers = ["a", "b", "c"] as const;

/** One step of a replicated workload: a put at replica `at` with the context
 *  of a read from any earlier state (of any replica), or a sync at←from. */
type Step =
  | { kind: "put"; at: number; readOf: number; value: string }
  | { kind: "sync"; at: number; from: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("put" as const), at: fc.nat(2), readOf: fc.nat(1000), value: fc.constantFrom("on", "off", "blink", "") }),
  fc.record({ kind: fc.constant("sync" as const), at: fc.nat(2), from: fc.nat(2) }),
);

interface PutRecord { writer: string; counter: number; value: string; ctx: DvvContext }

/** Runs the steps; returns every replica's final state, every state seen, and every put. */
function simulate(steps: readonly Step[]) {
  const replicas: DvvSet[] = writers.map(() => dvvEmpty());
  const seen: DvvSet[] = [dvvEmpty()];
  const puts: PutRecord[] = [];
  for (const s of steps) {
    if (s.kind === "put") {
      const ctx = seen[s.readOf % seen.length]!.context;
      const r = dvvPut(replicas[s.at]!, s.value, ctx, writers[s.at]!, { siblingsMax: 64 });
      replicas[s.at] = r.set;
      puts.push({ writer: r.writer, counter: r.counter, value: s.value, ctx });
    } else {
      replicas[s.at] = dvvJoin(replicas[s.at]!, replicas[s.from]!).set;
    }
    seen.push(replicas[s.at]!);
  }
  return { replicas, seen, puts };
}

const joinAll = (xs: readonly DvvSet[]) => xs.reduce((acc, x) => dvvJoin(acc, x).set, dvvEmpty());

describe("DVV set: lattice laws over reachable states", () => {
  const statesArb = fc.array(stepArb, { minLength: 1, maxLength: 60 }).map((steps) => simulate(steps).seen);

  it("join is commutative, associative and idempotent", () => {
    fc.assert(
      fc.property(statesArb, fc.nat(), fc.nat(), fc.nat(), (seen, i, j, k) => {
        const x = seen[i % seen.length]!;
        const y = seen[j % seen.length]!;
        const z = seen[k % seen.length]!;
        expect(dvvEquals(dvvJoin(x, y).set, dvvJoin(y, x).set)).toBe(true);
        expect(dvvEquals(dvvJoin(dvvJoin(x, y).set, z).set, dvvJoin(x, dvvJoin(y, z).set).set)).toBe(true);
        expect(dvvEquals(dvvJoin(x, x).set, x)).toBe(true);
        expect(dvvJoin(x, y).dotConflicts).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("every state keeps its invariants (dots distinct, sorted, covered by the context)", () => {
    fc.assert(
      fc.property(statesArb, (seen) => {
        for (const s of seen) expect(dvvEquals(dvvValidate(JSON.parse(JSON.stringify(s))), s)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe("DVV set: no update lost, causally later wins", () => {
  it("after all replicas exchange state, the siblings are exactly the puts no other put saw", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80 }), (steps) => {
        const { replicas, puts } = simulate(steps);
        const all = joinAll(replicas);
        // Oracle: a put survives iff no put's read context covered its dot.
        const expected = puts
          .filter((p) => !puts.some((q) => q !== p && contextCovers(q.ctx, p.writer, p.counter)))
          .map((p) => `${p.writer}:${p.counter}=${p.value}`)
          .sort();
        expect(all.siblings.map((s) => `${s.writer}:${s.counter}=${s.value}`).sort()).toEqual(expected);
        // Dots are unique: no two puts got the same one.
        expect(new Set(puts.map((p) => `${p.writer}:${p.counter}`)).size).toBe(puts.length);
        // Every replica, synced in any order, converges to the same set.
        const order = [...replicas].reverse();
        expect(dvvEquals(joinAll(order), all)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});

describe("DVV set: examples", () => {
  it("two operators writing through one server with the same stale context stay siblings", () => {
    const s0 = dvvPut(dvvEmpty(), "on", {}, "api-1").set;
    const ctx = s0.context;
    const s1 = dvvPut(s0, "off", ctx, "api-1").set;
    const s2 = dvvPut(s1, "blink", ctx, "api-1").set;
    expect(dvvValues(s2).sort()).toEqual(["blink", "off"]);
    // A writer that puts with the context it read resolves the siblings.
    const s3 = dvvPut(s2, "off", s2.context, "api-2");
    expect(s3.replaced).toBe(2);
    expect(dvvValues(s3.set)).toEqual(["off"]);
  });

  it("a delete removes what it saw and keeps a concurrent write", () => {
    const s0 = dvvPut(dvvEmpty(), "on", {}, "a").set;
    const seenCtx = s0.context;
    const s1 = dvvPut(s0, "off", {}, "b").set; // concurrent with the delete's read
    const s2 = dvvDiscard(s1, seenCtx);
    expect(dvvValues(s2)).toEqual(["off"]);
    // The delete is remembered: a replica still holding "on" does not bring it back.
    expect(dvvValues(dvvJoin(s2, s0).set)).toEqual(["off"]);
  });

  it("refuses a put that would exceed siblingsMax, and bad input, with typed errors", () => {
    let s = dvvEmpty();
    for (let i = 0; i < 3; i++) s = dvvPut(s, `v${i}`, {}, "a", { siblingsMax: 3 }).set;
    const code = (f: () => unknown) => {
      try {
        f();
        return "ok";
      } catch (e) {
        return e instanceof DvvError ? e.code : `unexpected ${String(e)}`;
      }
    };
    expect(code(() => dvvPut(s, "v3", {}, "a", { siblingsMax: 3 }))).toBe(DvvErrorCode.SiblingsMax);
    expect(code(() => dvvPut(s, "v3", s.context, "a", { siblingsMax: 3 }))).toBe("ok");
    expect(code(() => dvvPut(s, "x", {}, "bad.writer"))).toBe(DvvErrorCode.BadWriter);
    expect(code(() => dvvPut(s, "x".repeat(2000), {}, "a"))).toBe(DvvErrorCode.BadValue);
    expect(code(() => dvvValidate({ siblings: [{ writer: "a", counter: 5, value: "x" }], context: { a: 4 } }))).toBe(DvvErrorCode.BadShape);
    expect(code(() => dvvValidate({ siblings: [], context: { a: 0 } }))).toBe(DvvErrorCode.BadCounter);
    expect(code(() => dvvValidate({ siblings: [], context: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`w${i}`, 1])) }))).toBe(DvvErrorCode.WritersMax);
    expect(code(() => dvvValidate(null))).toBe(DvvErrorCode.BadShape);
  });

  it("a reused dot (writer lost its state) is resolved deterministically and counted", () => {
    const x = dvvPut(dvvEmpty(), "on", {}, "dev").set;
    const y = dvvPut(dvvEmpty(), "off", {}, "dev").set;
    const xy = dvvJoin(x, y);
    const yx = dvvJoin(y, x);
    expect(xy.dotConflicts).toBe(1);
    expect(dvvEquals(xy.set, yx.set)).toBe(true);
    expect(dvvValues(xy.set)).toEqual(["off"]);
  });
});
