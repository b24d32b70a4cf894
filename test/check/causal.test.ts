// The causal checker accepts what a correct DVV store does and rejects each
// kind of violation: invented values, a causally overwritten value kept as a
// sibling, a read missing a write in its causal past (lost update, no
// read-your-writes), diverging final reads, a cycle.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkCausal, type CausalOp } from "../../cloud/check";
import { type DvvContext, type DvvSet, contextJoin, dvvDiscard, dvvEmpty, dvvJoin, dvvPut } from "../../shared/clock/dvv";

const w = (session: string, key: string, value: string, writer: string, counter: number): CausalOp => ({ kind: "write", session, key, value, dot: { writer, counter } });
const del = (session: string, key: string, lost = false): CausalOp => ({ kind: "delete", session, key, ...(lost ? { lost } : {}) });
const r = (session: string, key: string, sibs: Array<[string, number, string]>, final = false): CausalOp => ({
  kind: "read", session, key, siblings: sibs.map(([writer, counter, value]) => ({ writer, counter, value })), final,
});

describe("causal checker on hand-made histories", () => {
  it("accepts concurrent writes kept as siblings and a resolving write", () => {
    const h = [
      w("s1", "led", "on", "a", 1),
      w("s2", "led", "off", "b", 1),
      r("s3", "led", [["a", 1, "on"], ["b", 1, "off"]]),
      w("s3", "led", "blink", "a", 2),
      r("s1", "led", [["a", 2, "blink"]], true),
      r("s2", "led", [["a", 2, "blink"]], true),
    ];
    const rep = checkCausal(h);
    expect(rep.violations).toEqual([]);
    expect(rep.pastWritesChecked).toBeGreaterThan(0);
  });

  it("rejects a read that misses the session's own write (no read-your-writes)", () => {
    const rep = checkCausal([w("s1", "led", "on", "a", 1), r("s1", "led", [])]);
    expect(rep.ok).toBe(false);
    expect(rep.violations[0]).toMatch(/does not reflect write #0/);
  });

  it("rejects a lost update: a write in the causal past neither returned nor overwritten", () => {
    const rep = checkCausal([
      w("s1", "led", "on", "a", 1),
      r("s2", "led", [["a", 1, "on"]]),
      w("s3", "led", "off", "b", 1),
      r("s2", "led", [["b", 1, "off"]]), // s2 saw a:1 before; b:1 never saw it: a:1 must stay
    ]);
    expect(rep.ok).toBe(false);
    expect(rep.violations.join("\n")).toMatch(/does not reflect write #0/);
  });

  it("rejects a value kept beside the write that overwrote it", () => {
    const rep = checkCausal([
      w("s1", "led", "on", "a", 1),
      r("s2", "led", [["a", 1, "on"]]),
      w("s2", "led", "off", "b", 1),
      r("s3", "led", [["a", 1, "on"], ["b", 1, "off"]]),
    ]);
    expect(rep.ok).toBe(false);
    expect(rep.violations[0]).toMatch(/happened after it/);
  });

  it("rejects invented values, diverging final reads and cycles", () => {
    expect(checkCausal([r("s1", "led", [["a", 1, "on"]])]).violations[0]).toMatch(/no write produced/);
    expect(checkCausal([w("s1", "led", "on", "a", 1), r("s2", "led", [["a", 1, "off"]])]).violations[0]).toMatch(/wrote on/);
    const div = checkCausal([w("s1", "k", "x", "a", 1), w("s2", "k", "y", "b", 1), r("s1", "k", [["a", 1, "x"], ["b", 1, "y"]], true), r("s2", "k", [["a", 1, "x"]], true)]);
    expect(div.violations.join("\n")).toMatch(/disagree/);
    // s1 reads s2's write, s2's write comes after s2 read s1's later write.
    const cyc = checkCausal([
      r("s1", "k", [["b", 1, "y"]]),
      w("s1", "k", "x", "a", 1),
      r("s2", "k", [["a", 1, "x"]]),
      w("s2", "k", "y", "b", 1),
    ]);
    expect(cyc.violations[0]).toMatch(/cycle/);
  });

  it("requires a write whose reply was lost only once someone observed it", () => {
    const lost: CausalOp = { kind: "write", session: "s1", key: "k", value: "x", dot: undefined };
    expect(checkCausal([lost, r("s1", "k", [])]).ok).toBe(true);
    // Once observed it happened: later reads in its causal future must reflect it.
    expect(checkCausal([lost, r("s2", "k", [["a", 9, "x"]]), r("s1", "k", [])]).ok).toBe(false);
    expect(checkCausal([lost, r("s2", "k", [["a", 9, "x"]]), r("s2", "k", [])]).ok).toBe(false);
    expect(checkCausal([lost, r("s2", "k", [["a", 9, "x"]]), r("s3", "k", [])]).ok).toBe(true);
  });
});

describe("causal checker: causality per key", () => {
  it("does not order a session's writes to one field by what it read of another", () => {
    // s2 reads led (which s1 wrote after writing mode), then writes mode with the context it had of mode (none):
    // both mode values stay, as they do in a store whose contexts are per field.
    const rep = checkCausal([
      w("s1", "mode", "a", "a", 1),
      w("s1", "led", "on", "a", 2),
      r("s2", "led", [["a", 2, "on"]]),
      w("s2", "mode", "b", "b", 1),
      r("s2", "mode", [["a", 1, "a"], ["b", 1, "b"]]),
    ]);
    expect(rep.violations).toEqual([]);
  });
});

describe("causal checker with deletes", () => {
  it("accepts a delete of what the session saw, and a concurrent write surviving it", () => {
    const rep = checkCausal([
      w("s1", "led", "on", "a", 1),
      r("s2", "led", [["a", 1, "on"]]),
      del("s2", "led"),
      r("s2", "led", []),
      w("s3", "led", "off", "b", 1), // concurrent with the delete: kept
      r("s2", "led", [["b", 1, "off"]], true),
      r("s3", "led", [["b", 1, "off"]], true),
    ]);
    expect(rep.violations).toEqual([]);
    expect(rep.deletes).toBe(1);
  });

  it("excuses a write a concurrent delete removed, not one removed by a delete after the read", () => {
    // s1's own write is gone when it reads: s2 deleted it concurrently (the store may apply that first).
    expect(checkCausal([w("s1", "k", "x", "a", 1), r("s2", "k", [["a", 1, "x"]]), del("s2", "k"), r("s1", "k", [])]).violations).toEqual([]);
    // The delete comes after the read in the read's own session: the read should still have shown the write.
    const rep = checkCausal([w("s1", "k", "x", "a", 1), r("s1", "k", []), del("s1", "k")]);
    expect(rep.violations.join("\n")).toMatch(/does not reflect write #0/);
  });

  it("rejects a deleted value coming back to a session that knows of the delete", () => {
    const rep = checkCausal([w("s1", "k", "x", "a", 1), r("s2", "k", [["a", 1, "x"]]), del("s2", "k"), r("s2", "k", [["a", 1, "x"]])]);
    expect(rep.violations.join("\n")).toMatch(/which delete #2 \(s2\) in its causal past removed/);
    // A delete whose reply was lost may not have happened: no such requirement.
    expect(checkCausal([w("s1", "k", "x", "a", 1), r("s2", "k", [["a", 1, "x"]]), del("s2", "k", true), r("s2", "k", [["a", 1, "x"]])]).ok).toBe(true);
  });
});

// A replicated DVV store in memory: replicas join lazily; sessions carry the
// context of everything they saw, write replies included (as the API's
// clients do: a put's reply shows the field after the write). The checker must
// accept it; the same workload on a last-writer-wins store must be caught.
type Step = { session: number; replica: number; kind: "read" | "write" | "sync" | "delete"; other: number };
const stepArb = fc.record({ session: fc.nat(3), replica: fc.nat(2), kind: fc.constantFrom("read" as const, "write" as const, "sync" as const), other: fc.nat(2) });
const stepWithDeletesArb = fc.record({
  session: fc.nat(3), replica: fc.nat(2), other: fc.nat(2),
  kind: fc.constantFrom("read" as const, "write" as const, "write" as const, "sync" as const, "delete" as const),
});

/** `forgetfulDeletes`: a delete empties the replica's set, context and all (a tombstone-less store). */
function runWorkload(steps: readonly Step[], lww: boolean, forgetfulDeletes = false): CausalOp[] {
  const replicas: DvvSet[] = [dvvEmpty(), dvvEmpty(), dvvEmpty()];
  const ctx: DvvContext[] = [{}, {}, {}, {}];
  const ops: CausalOp[] = [];
  let n = 0;
  for (const s of steps) {
    const sess = `s${s.session}`;
    if (s.kind === "sync") {
      replicas[s.replica] = dvvJoin(replicas[s.replica]!, replicas[s.other]!).set;
    } else if (s.kind === "delete") {
      // With the context of everything the session saw, at any replica (it may not hold all of it yet).
      replicas[s.replica] = forgetfulDeletes ? dvvEmpty() : dvvDiscard(replicas[s.replica]!, ctx[s.session]!);
      ops.push({ kind: "delete", session: sess, key: "k" });
    } else if (s.kind === "write") {
      const value = `v${n++}`;
      // A session is sticky to nothing: it writes wherever; its context says what it saw.
      const put = dvvPut(lww ? dvvEmpty() : replicas[s.replica]!, value, ctx[s.session]!, `r${s.replica}`, { siblingsMax: 64 });
      const counter = lww ? (replicas[s.replica]!.context[`r${s.replica}`] ?? 0) + 1 : put.counter;
      replicas[s.replica] = lww ? { siblings: [{ writer: `r${s.replica}`, counter, value }], context: contextJoin(replicas[s.replica]!.context, { [`r${s.replica}`]: counter }) } : put.set;
      ctx[s.session] = contextJoin(ctx[s.session]!, replicas[s.replica]!.context);
      ops.push({ kind: "write", session: sess, key: "k", value, dot: { writer: `r${s.replica}`, counter } });
      // The reply shows the field after the write (as shadow.put's does): the session saw those values.
      ops.push({ kind: "read", session: sess, key: "k", siblings: replicas[s.replica]!.siblings.map((x) => ({ ...x })) });
    } else {
      // Reads go to a replica that has everything the session saw (the store's job: here, join it in).
      const rep = s.replica;
      for (let o = 0; o < replicas.length; o++) replicas[rep] = dvvJoin(replicas[rep]!, replicas[o]!).set;
      const seen = replicas[rep]!;
      ctx[s.session] = contextJoin(ctx[s.session]!, seen.context);
      ops.push({ kind: "read", session: sess, key: "k", siblings: seen.siblings.map((x) => ({ ...x })) });
    }
  }
  return ops;
}

describe("causal checker against stores", () => {
  it("accepts every history of a DVV store", () => {
    fc.assert(fc.property(fc.array(stepArb, { maxLength: 80 }), (steps) => {
      const rep = checkCausal(runWorkload(steps, false));
      expect(rep.violations).toEqual([]);
    }), { numRuns: 300 });
  });

  it("accepts every history of a DVV store with deletes", () => {
    let deletes = 0;
    fc.assert(fc.property(fc.array(stepWithDeletesArb, { maxLength: 80 }), (steps) => {
      const rep = checkCausal(runWorkload(steps, false));
      deletes += rep.deletes;
      expect(rep.violations).toEqual([]);
    }), { numRuns: 300, seed: 7 });
    expect(deletes).toBeGreaterThan(100); // the histories really deleted
  });

  it("finds deleted values coming back in a store whose deletes forget what they removed", () => {
    let caught = 0;
    fc.assert(fc.property(fc.array(stepWithDeletesArb, { minLength: 20, maxLength: 80 }), (steps) => {
      if (!checkCausal(runWorkload(steps, false, true)).ok) caught++;
    }), { numRuns: 100, seed: 42 });
    expect(caught).toBeGreaterThan(30);
  });

  it("finds lost updates in a last-writer-wins store", () => {
    let caught = 0;
    fc.assert(fc.property(fc.array(stepArb, { minLength: 20, maxLength: 80 }), (steps) => {
      if (!checkCausal(runWorkload(steps, true)).ok) caught++;
    }), { numRuns: 100, seed: 42 });
    expect(caught).toBeGreaterThan(50);
  });
});
