import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CrdtError, CrdtErrorCode, GCounter, Order, mergeGCounters } from "../../shared/crdt/gcounter";
import { toHex } from "../../shared/crdt/wire";

// Few ids so states overlap, plus random valid ids to exercise the id codec.
const replicaId = fc.oneof(
  fc.constantFrom("a", "b", "c", "dev-1", "gw_0", "Z"),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
);
const count = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 2 ** 45 }));
const gcounter = fc
  .array(fc.tuple(replicaId, count), { maxLength: 12 })
  .map((entries) => GCounter.from(entries));

function expectCrdtError(f: () => unknown, code?: CrdtErrorCode): CrdtError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CrdtError);
    if (code) expect((e as CrdtError).code).toBe(code);
    return e as CrdtError;
  }
  throw new Error("expected a CrdtError");
}

describe("GCounter basics", () => {
  it("increments, sums and merges by pointwise max", () => {
    const a = new GCounter();
    expect(a.increment("dev-1")).toBe(1);
    expect(a.increment("dev-1", 4)).toBe(5);
    a.increment("gw_0", 2);
    expect(a.value()).toBe(7);
    const b = GCounter.from({ "dev-1": 3, cloud: 10 });
    expect(a.merge(b)).toBe(true);
    expect(a.toJSON()).toEqual({ cloud: 10, "dev-1": 5, gw_0: 2 });
    expect(a.value()).toBe(17);
    expect(a.merge(b)).toBe(false);
  });

  it("compares in the partial order", () => {
    const a = GCounter.from({ x: 1 });
    const b = GCounter.from({ x: 2 });
    const c = GCounter.from({ y: 1 });
    expect(a.compare(b)).toBe(Order.Before);
    expect(b.compare(a)).toBe(Order.After);
    expect(a.compare(a.clone())).toBe(Order.Equal);
    expect(a.compare(c)).toBe(Order.Concurrent);
    expect(new GCounter().compare(c)).toBe(Order.Before);
  });

  it("encodes canonically with a known layout", () => {
    const c = GCounter.from([["b", 300], ["a", 1]]);
    // n=2 | len 1 'a' count 1 | len 1 'b' count 300 (0xac 0x02)
    expect(toHex(c.encode())).toBe("02" + "0161" + "01" + "0162" + "ac02");
    expect(toHex(new GCounter().encode())).toBe("00");
    expect(GCounter.decode(c.encode()).toJSON()).toEqual({ a: 1, b: 300 });
  });

  it("encodes the largest safe count in 8 bytes and back", () => {
    const c = GCounter.from({ a: Number.MAX_SAFE_INTEGER });
    const bytes = c.encode();
    expect(bytes.length).toBe(1 + 2 + 8);
    expect(GCounter.decode(bytes).get("a")).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("rejects bad ids, amounts and overflow with typed errors", () => {
    const c = new GCounter();
    expectCrdtError(() => c.increment("has.dot"), CrdtErrorCode.BadReplicaId);
    expectCrdtError(() => c.increment(""), CrdtErrorCode.BadReplicaId);
    expectCrdtError(() => c.increment("x".repeat(65)), CrdtErrorCode.BadReplicaId);
    expectCrdtError(() => c.increment("a", -1), CrdtErrorCode.InvalidArgument);
    expectCrdtError(() => c.increment("a", 1.5), CrdtErrorCode.InvalidArgument);
    c.increment("a", Number.MAX_SAFE_INTEGER - 1);
    expectCrdtError(() => c.increment("b", 2), CrdtErrorCode.Overflow);
    expectCrdtError(() => c.increment("a", 2), CrdtErrorCode.Overflow);
    expect(c.value()).toBe(Number.MAX_SAFE_INTEGER - 1);
    const big = GCounter.from({ z: 10 });
    expectCrdtError(() => c.merge(big), CrdtErrorCode.Overflow);
    expect(c.toJSON()).toEqual({ a: Number.MAX_SAFE_INTEGER - 1 });
    expectCrdtError(() => GCounter.from({ a: -3 }), CrdtErrorCode.InvalidArgument);
  });

  it("enforces replicasMax on increment, merge (atomically) and decode", () => {
    const c = new GCounter({ replicasMax: 2 });
    c.increment("a");
    c.increment("b");
    expectCrdtError(() => c.increment("c"), CrdtErrorCode.ReplicasMax);
    const other = GCounter.from({ a: 5, c: 1 });
    expectCrdtError(() => c.merge(other), CrdtErrorCode.ReplicasMax);
    expect(c.toJSON()).toEqual({ a: 1, b: 1 }); // untouched
    const three = GCounter.from({ a: 1, b: 1, c: 1 }).encode();
    expectCrdtError(() => GCounter.decode(three, { replicasMax: 2 }), CrdtErrorCode.ReplicasMax);
    expectCrdtError(() => new GCounter({ replicasMax: 0 }), CrdtErrorCode.InvalidArgument);
  });

  it("rejects corrupt and non-canonical bytes with typed errors", () => {
    const cases: Array<[number[], CrdtErrorCode]> = [
      [[], CrdtErrorCode.Truncated],
      [[0x01], CrdtErrorCode.Truncated],
      [[0x01, 0x01, 0x61], CrdtErrorCode.Truncated],
      [[0x01, 0x01, 0x61, 0x80], CrdtErrorCode.Truncated],
      [[0x01, 0x00, 0x61, 0x01], CrdtErrorCode.BadReplicaId],
      [[0x01, 0x41, 0x61, 0x01], CrdtErrorCode.BadReplicaId], // length 65
      [[0x01, 0x01, 0x2e, 0x01], CrdtErrorCode.BadReplicaId], // '.'
      [[0x01, 0x01, 0x61, 0x00], CrdtErrorCode.NonCanonical], // zero count
      [[0x01, 0x01, 0x61, 0x81, 0x00], CrdtErrorCode.NonCanonical], // padded varint
      [[0x02, 0x01, 0x62, 0x01, 0x01, 0x61, 0x01], CrdtErrorCode.NonCanonical], // unsorted
      [[0x02, 0x01, 0x61, 0x01, 0x01, 0x61, 0x02], CrdtErrorCode.NonCanonical], // duplicate
      [[0x01, 0x01, 0x61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], CrdtErrorCode.BadVarint],
      [[0x01, 0x01, 0x61, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10], CrdtErrorCode.BadVarint], // 2^53
      [[0x00, 0x00], CrdtErrorCode.TrailingBytes],
      [[0x05, 0x01, 0x61, 0x01], CrdtErrorCode.Truncated], // declares more than fits
    ];
    for (const [bytes, code] of cases) {
      const err = expectCrdtError(() => GCounter.decode(new Uint8Array(bytes)), code);
      expect(err.offset).toBeGreaterThanOrEqual(0);
    }
    // Two counts whose sum passes 2^53-1.
    const max = GCounter.from({ a: Number.MAX_SAFE_INTEGER }).encode();
    const two = new Uint8Array([0x02, ...max.subarray(1), 0x01, 0x62, 0x01]);
    expectCrdtError(() => GCounter.decode(two), CrdtErrorCode.Overflow);
  });

  it("digest changes with state and matches for equal states", () => {
    const a = GCounter.from({ a: 1, b: 2 });
    const b = GCounter.from({ b: 2, a: 1 });
    expect(a.digest()).toEqual(b.digest());
    expect(a.digest().value).toBe(3);
    b.increment("a");
    expect(b.digest().hash).not.toBe(a.digest().hash);
    // FNV-1a 32 of the single byte 0x00 (empty counter).
    expect(new GCounter().digest()).toEqual({ hash: 0x050c5d1f, value: 0 });
  });
});

describe("GCounter properties", () => {
  it("merge is commutative, associative and idempotent", () => {
    fc.assert(
      fc.property(gcounter, gcounter, gcounter, (a, b, c) => {
        expect(mergeGCounters(a, b).equals(mergeGCounters(b, a))).toBe(true);
        expect(mergeGCounters(mergeGCounters(a, b), c).equals(mergeGCounters(a, mergeGCounters(b, c)))).toBe(true);
        expect(mergeGCounters(a, a).equals(a)).toBe(true);
        const x = a.clone();
        x.merge(b);
        expect(x.merge(b)).toBe(false);
      }),
    );
  });

  it("merge result is ≥ both inputs and the least such state", () => {
    fc.assert(
      fc.property(gcounter, gcounter, (a, b) => {
        const m = mergeGCounters(a, b);
        expect(a.lessOrEqual(m) && b.lessOrEqual(m)).toBe(true);
        expect(m.value()).toBeGreaterThanOrEqual(Math.max(a.value(), b.value()));
        // compare agrees with merge: a ≤ b ⇔ merge(a, b) = b
        expect(a.lessOrEqual(b)).toBe(m.equals(b));
        const changed = a.clone().merge(b);
        expect(changed).toBe(!b.lessOrEqual(a));
        expect(m.value()).toBe(m.entries().reduce((s, [, v]) => s + v, 0));
      }),
    );
  });

  it("increments never decrease value and move the state strictly up", () => {
    fc.assert(
      fc.property(gcounter, fc.array(fc.tuple(replicaId, fc.integer({ min: 0, max: 1000 })), { maxLength: 20 }), (c, ops) => {
        for (const [id, by] of ops) {
          const before = c.clone();
          c.increment(id, by);
          expect(c.value()).toBe(before.value() + by);
          expect(c.compare(before)).toBe(by > 0 ? Order.After : Order.Equal);
        }
      }),
    );
  });

  it("delta merge equals full merge, and deltas are minimal", () => {
    fc.assert(
      fc.property(gcounter, gcounter, (a, known) => {
        const d = a.deltaSince(known);
        const viaDelta = known.clone();
        viaDelta.merge(d);
        expect(viaDelta.equals(mergeGCounters(known, a))).toBe(true);
        for (const [id, v] of d.entries()) expect(v).toBeGreaterThan(known.get(id));
        expect(d.size === 0).toBe(a.lessOrEqual(known));
        // Delta survives the wire like a full state.
        expect(GCounter.decode(d.encode()).equals(d)).toBe(true);
      }),
    );
  });

  it("encode/decode round-trips; equal states have equal bytes", () => {
    fc.assert(
      fc.property(gcounter, (c) => {
        const bytes = c.encode();
        const back = GCounter.decode(bytes);
        expect(back.equals(c)).toBe(true);
        expect(back.value()).toBe(c.value());
        expect(toHex(back.encode())).toBe(toHex(bytes));
        // Same state built in another insertion order → same bytes.
        const shuffled = GCounter.from([...c.entries()].reverse());
        expect(toHex(shuffled.encode())).toBe(toHex(bytes));
        expect(c.encodedSize()).toBe(bytes.length);
      }),
    );
  });

  it("decoder on random bytes yields a counter or a CrdtError, never another exception", () => {
    const mutated = fc.tuple(gcounter, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat()).map(([c, flips, cut]) => {
      const b = c.encode().slice();
      for (const [i, v] of flips) b[i % b.length] = v;
      return cut % 3 === 0 ? b.subarray(0, cut % (b.length + 1)) : b;
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), (bytes) => {
        let c: GCounter;
        try {
          c = GCounter.decode(bytes, { replicasMax: 16 });
        } catch (e) {
          expect(e).toBeInstanceOf(CrdtError);
          return;
        }
        // Whatever decodes is canonical: it re-encodes to the same bytes.
        expect(toHex(c.encode())).toBe(toHex(bytes));
        expect(c.size).toBeLessThanOrEqual(16);
      }),
      { numRuns: 2000 },
    );
  });
});
