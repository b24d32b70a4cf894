import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PNCounter, Order, mergePNCounters } from "../../shared/crdt/pncounter";
import { CrdtError, CrdtErrorCode, toHex } from "../../shared/crdt/wire";

const replicaId = fc.oneof(fc.constantFrom("a", "b", "c", "dev-1", "gw_0"), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/));
const op = fc.tuple(replicaId, fc.integer({ min: -(2 ** 40), max: 2 ** 40 }));
const pncounter = fc.array(op, { maxLength: 12 }).map((ops) => {
  const c = new PNCounter();
  for (const [id, d] of ops) c.add(id, d);
  return c;
});

function codeOf(f: () => unknown): CrdtErrorCode | "no-error" {
  try {
    f();
    return "no-error";
  } catch (e) {
    expect(e).toBeInstanceOf(CrdtError);
    return (e as CrdtError).code;
  }
}

describe("PNCounter basics", () => {
  it("counts up and down per replica and merges", () => {
    const a = new PNCounter();
    expect(a.increment("dev-1", 5)).toBe(5);
    expect(a.decrement("dev-1", 2)).toBe(3);
    expect(a.add("gw_0", -4)).toBe(-1);
    const b = new PNCounter();
    b.increment("cloud", 10);
    b.decrement("dev-1", 1); // older view of dev-1's decrements
    expect(a.merge(b)).toBe(true);
    expect(a.value()).toBe(9);
    expect(a.get("dev-1")).toBe(3);
    expect(a.merge(b)).toBe(false);
    expect(a.toJSON()).toEqual({ p: { cloud: 10, "dev-1": 5 }, n: { "dev-1": 2, gw_0: 4 } });
  });

  it("compares by both halves", () => {
    const a = new PNCounter();
    a.increment("x");
    const b = a.clone();
    b.decrement("x");
    expect(a.compare(b)).toBe(Order.Before);
    expect(b.compare(a)).toBe(Order.After);
    const c = a.clone();
    c.increment("y");
    expect(b.compare(c)).toBe(Order.Concurrent);
    expect(a.compare(a.clone())).toBe(Order.Equal);
  });

  it("encodes P then N with a known layout", () => {
    const c = new PNCounter();
    c.increment("a", 2);
    c.decrement("b", 1);
    expect(toHex(c.encode())).toBe("01" + "0161" + "02" + "01" + "0162" + "01");
    expect(toHex(new PNCounter().encode())).toBe("0000");
    expect(PNCounter.decode(c.encode()).value()).toBe(1);
  });

  it("merge is all-or-nothing when the N half would exceed replicasMax", () => {
    const a = new PNCounter({ replicasMax: 1 });
    a.decrement("a");
    const b = new PNCounter();
    b.increment("a", 7);
    b.decrement("b");
    expect(codeOf(() => a.merge(b))).toBe(CrdtErrorCode.ReplicasMax);
    expect(a.toJSON()).toEqual({ p: {}, n: { a: 1 } });
  });

  it("rejects bad input with typed errors", () => {
    const c = new PNCounter();
    expect(codeOf(() => c.add("a", 0.5))).toBe(CrdtErrorCode.InvalidArgument);
    expect(codeOf(() => c.decrement("a", -1))).toBe(CrdtErrorCode.InvalidArgument);
    expect(codeOf(() => c.increment("a b"))).toBe(CrdtErrorCode.BadReplicaId);
    expect(codeOf(() => PNCounter.decode(new Uint8Array([0x00])))).toBe(CrdtErrorCode.Truncated);
    expect(codeOf(() => PNCounter.decode(new Uint8Array([0x00, 0x00, 0x00])))).toBe(CrdtErrorCode.TrailingBytes);
    const three = new PNCounter();
    for (const id of ["a", "b", "c"]) three.decrement(id);
    expect(codeOf(() => PNCounter.decode(three.encode(), { replicasMax: 2 }))).toBe(CrdtErrorCode.ReplicasMax);
    // value stays within ±(2^53-1)
    const low = new PNCounter();
    low.decrement("a", Number.MAX_SAFE_INTEGER);
    expect(low.value()).toBe(-Number.MAX_SAFE_INTEGER);
    expect(codeOf(() => low.decrement("b"))).toBe(CrdtErrorCode.Overflow);
  });
});

describe("PNCounter properties", () => {
  it("merge is commutative, associative, idempotent and an upper bound", () => {
    fc.assert(
      fc.property(pncounter, pncounter, pncounter, (a, b, c) => {
        const ab = mergePNCounters(a, b);
        expect(ab.equals(mergePNCounters(b, a))).toBe(true);
        expect(mergePNCounters(ab, c).equals(mergePNCounters(a, mergePNCounters(b, c)))).toBe(true);
        expect(mergePNCounters(a, a).equals(a)).toBe(true);
        expect(a.lessOrEqual(ab) && b.lessOrEqual(ab)).toBe(true);
        expect(a.lessOrEqual(b)).toBe(ab.equals(b));
        expect(ab.digest()).toEqual(mergePNCounters(b, a).digest());
      }),
    );
  });

  it("value equals the sum of all adds when replicas see everything", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), fc.integer({ min: 1, max: 4 }), (ops, replicas) => {
        // Split ops across replicas by index, then gossip everything. A
        // replica id belongs to one replica only, hence the prefix.
        const nodes = Array.from({ length: replicas }, () => new PNCounter());
        ops.forEach(([id, d], i) => nodes[i % replicas]!.add(`r${i % replicas}-${id}`.slice(0, 64), d));
        const all = new PNCounter();
        for (const n of nodes) all.merge(n);
        expect(all.value()).toBe(ops.reduce((s, [, d]) => s + d, 0));
      }),
    );
  });

  it("delta merge equals full merge", () => {
    fc.assert(
      fc.property(pncounter, pncounter, (a, known) => {
        const viaDelta = known.clone();
        viaDelta.merge(a.deltaSince(known));
        expect(viaDelta.equals(mergePNCounters(known, a))).toBe(true);
      }),
    );
  });

  it("encode/decode round-trips canonically", () => {
    fc.assert(
      fc.property(pncounter, (c) => {
        const bytes = c.encode();
        const back = PNCounter.decode(bytes);
        expect(back.equals(c)).toBe(true);
        expect(back.value()).toBe(c.value());
        expect(toHex(back.encode())).toBe(toHex(bytes));
      }),
    );
  });

  it("decoder on random bytes yields a counter or a CrdtError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const c = PNCounter.decode(bytes, { replicasMax: 8 });
          expect(toHex(c.encode())).toBe(toHex(bytes));
        } catch (e) {
          expect(e).toBeInstanceOf(CrdtError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
