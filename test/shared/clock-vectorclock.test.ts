import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CrdtError, CrdtErrorCode, Order, VectorClock, compareClocks, mergeClocks } from "../../shared/clock/vectorclock";
import { toHex } from "../../shared/crdt/wire";

const actor = fc.constantFrom("dev-1", "dev-2", "cloud-a", "cloud-b", "op");
const clock = fc.array(fc.tuple(actor, fc.integer({ min: 1, max: 50 })), { maxLength: 5 }).map((e) => VectorClock.from(e));

const mirror: Record<Order, Order> = {
  [Order.Before]: Order.After,
  [Order.After]: Order.Before,
  [Order.Equal]: Order.Equal,
  [Order.Concurrent]: Order.Concurrent,
};

describe("VectorClock", () => {
  it("detects before, after, equal and concurrent updates", () => {
    const base = new VectorClock();
    base.increment("cloud-a");
    const device = base.clone();
    device.increment("dev-1");
    const cloud = base.clone();
    cloud.increment("cloud-a");
    expect(base.compare(device)).toBe(Order.Before);
    expect(device.compare(base)).toBe(Order.After);
    expect(device.compare(cloud)).toBe(Order.Concurrent);
    expect(compareClocks(device, device.clone())).toBe(Order.Equal);
    const joined = mergeClocks(device, cloud);
    expect(joined.toJSON()).toEqual({ "cloud-a": 2, "dev-1": 1 });
    expect(device.compare(joined)).toBe(Order.Before);
  });

  it("round-trips through the canonical encoding and rejects bad bytes", () => {
    const c = VectorClock.from({ "dev-1": 3, "cloud-a": 1 });
    expect(toHex(c.encode())).toBe("02" + "07636c6f75642d61" + "01" + "056465762d31" + "03");
    expect(VectorClock.decode(c.encode()).equals(c)).toBe(true);
    expect(() => VectorClock.decode(new Uint8Array([0x01, 0x01]))).toThrow(CrdtError);
    try {
      VectorClock.decode(VectorClock.from({ a: 1, b: 1, c: 1 }).encode(), { replicasMax: 2 });
      expect.unreachable();
    } catch (e) {
      expect((e as CrdtError).code).toBe(CrdtErrorCode.ReplicasMax);
    }
    expect(() => new VectorClock().increment("no/slash")).toThrow(CrdtError);
  });

  it("compare is a partial order: reflexive, antisymmetric, transitive, mirrored", () => {
    fc.assert(
      fc.property(clock, clock, clock, (a, x, y) => {
        expect(a.compare(a)).toBe(Order.Equal);
        // b ≥ a and c ≥ b by construction → c ≥ a (transitivity)
        const b = mergeClocks(a, x);
        const c = mergeClocks(b, y);
        expect(a.lessOrEqual(b) && b.lessOrEqual(c) && a.lessOrEqual(c)).toBe(true);
        expect([Order.Before, Order.Equal]).toContain(a.compare(c));
        // antisymmetry
        if (a.lessOrEqual(x) && x.lessOrEqual(a)) expect(a.equals(x)).toBe(true);
        expect(x.compare(a)).toBe(mirror[a.compare(x)]);
        // consistent with lessOrEqual
        const o = a.compare(x);
        expect(a.lessOrEqual(x)).toBe(o === Order.Before || o === Order.Equal);
      }),
    );
  });

  it("compare is consistent with merge and merge is a join", () => {
    fc.assert(
      fc.property(clock, clock, clock, (a, b, c) => {
        const ab = mergeClocks(a, b);
        expect(ab.equals(mergeClocks(b, a))).toBe(true);
        expect(mergeClocks(ab, c).equals(mergeClocks(a, mergeClocks(b, c)))).toBe(true);
        expect(mergeClocks(a, a).equals(a)).toBe(true);
        expect(a.lessOrEqual(ab) && b.lessOrEqual(ab)).toBe(true);
        // a ≤ b ⇔ a ⊔ b = b
        expect(a.lessOrEqual(b)).toBe(ab.equals(b));
        // least upper bound: any upper bound of a and b is ≥ a ⊔ b
        if (a.lessOrEqual(c) && b.lessOrEqual(c)) expect(ab.lessOrEqual(c)).toBe(true);
      }),
    );
  });

  it("an increment moves the clock strictly after every clock it merged", () => {
    fc.assert(
      fc.property(clock, clock, actor, (a, b, who) => {
        const n = mergeClocks(a, b);
        n.increment(who);
        expect(a.compare(n)).toBe(Order.Before);
        expect(b.compare(n)).toBe(Order.Before);
      }),
    );
  });

  it("encode/decode round-trips canonically; random bytes decode or throw CrdtError", () => {
    fc.assert(
      fc.property(clock, (c) => {
        const bytes = c.encode();
        expect(toHex(VectorClock.decode(bytes).encode())).toBe(toHex(bytes));
        expect(VectorClock.from([...c.entries()].reverse()).hash()).toBe(c.hash());
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        try {
          expect(toHex(VectorClock.decode(bytes).encode())).toBe(toHex(bytes));
        } catch (e) {
          expect(e).toBeInstanceOf(CrdtError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
