import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CheckResult, checkOperations, kvModel, type KvOperation, type Model, type Operation } from "../../cloud/check/lincheck";

const INF = Number.POSITIVE_INFINITY;
const put = (c: number, key: string, value: string, call: number, ret: number): KvOperation => ({
  clientId: c,
  input: { op: "put", key, value },
  output: ret === INF ? undefined : {},
  callTime: call,
  returnTime: ret,
});
const get = (c: number, key: string, value: string | null | undefined, call: number, ret: number): KvOperation => ({
  clientId: c,
  input: { op: "get", key },
  output: value === undefined ? undefined : { value },
  callTime: call,
  returnTime: ret,
});
const cas = (c: number, key: string, from: string | null, to: string, ok: boolean | undefined, call: number, ret: number): KvOperation => ({
  clientId: c,
  input: { op: "cas", key, from, to },
  output: ok === undefined ? undefined : { ok },
  callTime: call,
  returnTime: ret,
});
const check = (h: KvOperation[]): CheckResult => checkOperations(kvModel, h).result;

describe("linearizability checker (kv model)", () => {
  it("accepts an empty history and a sequential one", () => {
    expect(check([])).toBe(CheckResult.Ok);
    expect(check([put(1, "x", "a", 0, 1), get(1, "x", "a", 2, 3), cas(1, "x", "a", "b", true, 4, 5), get(2, "x", "b", 6, 7)])).toBe(
      CheckResult.Ok,
    );
  });

  it("rejects a stale read after a completed write (the classic non-linearizable history)", () => {
    expect(check([put(1, "x", "a", 0, 10), get(2, "x", null, 20, 30)])).toBe(CheckResult.Illegal);
  });

  it("accepts either value for a read concurrent with a write", () => {
    expect(check([put(1, "x", "a", 0, 10), get(2, "x", null, 5, 15)])).toBe(CheckResult.Ok);
    expect(check([put(1, "x", "a", 0, 10), get(2, "x", "a", 5, 15)])).toBe(CheckResult.Ok);
  });

  it("rejects reads that observe values going back in time", () => {
    // Two concurrent writes; one reader sees b then a, another reader (after both) sees a then b — impossible.
    const h = [
      put(1, "x", "a", 0, 100),
      put(2, "x", "b", 0, 100),
      get(3, "x", "b", 10, 20),
      get(3, "x", "a", 30, 40),
      get(4, "x", "a", 110, 120),
      get(4, "x", "b", 130, 140),
    ];
    expect(check(h)).toBe(CheckResult.Illegal);
  });

  it("rejects two successful CAS from the same value", () => {
    const h = [put(1, "x", "a", 0, 1), cas(2, "x", "a", "b", true, 2, 10), cas(3, "x", "a", "c", true, 2, 10)];
    expect(check(h)).toBe(CheckResult.Illegal);
  });

  it("treats a timed-out write as possibly applied, at any time after its call", () => {
    // Applied: a later read sees it.
    expect(check([put(1, "x", "a", 0, INF), get(2, "x", "a", 50, 60)])).toBe(CheckResult.Ok);
    // Not applied (yet): a read sees the old value.
    expect(check([put(1, "x", "a", 0, INF), get(2, "x", null, 50, 60)])).toBe(CheckResult.Ok);
    // But once observed it cannot be un-applied.
    expect(check([put(1, "x", "a", 0, INF), get(2, "x", "a", 50, 60), get(2, "x", null, 70, 80)])).toBe(CheckResult.Illegal);
    // And it cannot take effect before it was called.
    expect(check([get(2, "x", "a", 0, 10), put(1, "x", "a", 20, INF)])).toBe(CheckResult.Illegal);
  });

  it("partitions by key: operations on other keys do not interfere", () => {
    const report = checkOperations(kvModel, [put(1, "x", "a", 0, 1), put(1, "y", "b", 2, 3), get(2, "x", "a", 4, 5), get(2, "y", null, 6, 7)]);
    expect(report.result).toBe(CheckResult.Illegal);
    expect(report.partitions).toBe(2);
    expect(report.failingPartition!.every((o) => o.input.key === "y")).toBe(true);
  });

  it("reports Unknown when the search budget is exhausted", () => {
    const h: KvOperation[] = [];
    for (let i = 0; i < 12; i++) h.push(put(i, "x", `v${i}`, 0, 100));
    h.push(get(99, "x", "nope", 200, 300));
    expect(checkOperations(kvModel, h, 50).result).toBe(CheckResult.Unknown);
    expect(checkOperations(kvModel, h).result).toBe(CheckResult.Illegal);
  });

  it("rejects malformed histories", () => {
    expect(() => check([put(1, "x", "a", 10, 5)])).toThrow(/returns/);
  });

  it("property: any history produced by a sequential register with random real-time overlap is linearizable", () => {
    // Generate ops executed atomically at distinct instants, then widen each into an interval containing its instant.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("put", "get", "cas"), fc.nat(3), fc.nat(20), fc.nat(20), fc.boolean()), {
          minLength: 1,
          maxLength: 25,
        }),
        (spec) => {
          let state: string | null = null;
          const h: KvOperation[] = spec.map(([kind, v, before, after, timeout], i) => {
            const at = i * 10 + 5;
            const call = at - (before % 5);
            const ret = timeout && kind !== "get" ? INF : at + (after % 5);
            if (kind === "put") {
              state = `v${v}`;
              return put(i % 4, "k", `v${v}`, call, ret);
            }
            if (kind === "get") return get(i % 4, "k", state, call, ret);
            const from = v % 2 === 0 ? state : `v${v}`;
            const swapped = state === from;
            if (swapped) state = `w${i}`;
            return cas(i % 4, "k", from, `w${i}`, ret === INF ? undefined : swapped, call, ret);
          });
          expect(check(h)).toBe(CheckResult.Ok);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("property: corrupting one read of a sequential history with a never-written value is rejected", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5), { minLength: 2, maxLength: 20 }), fc.nat(), (vals, pick) => {
        const h: KvOperation[] = [];
        vals.forEach((v, i) => {
          h.push(put(1, "k", `v${v}`, i * 10, i * 10 + 1));
          h.push(get(2, "k", `v${v}`, i * 10 + 2, i * 10 + 3));
        });
        const idx = (pick % vals.length) * 2 + 1;
        h[idx] = get(2, "k", "never", h[idx]!.callTime, h[idx]!.returnTime);
        expect(check(h)).toBe(CheckResult.Illegal);
      }),
      { numRuns: 200 },
    );
  });
});

describe("linearizability checker (generic model)", () => {
  it("works with a counter model without partitions", () => {
    const counter: Model<number, "inc" | "read", number> = {
      init: () => 0,
      step: (s, i, o) => (i === "inc" ? { ok: true, state: s + 1 } : { ok: o === undefined || o === s, state: s }),
      key: (s) => String(s),
    };
    const op = (input: "inc" | "read", output: number | undefined, call: number, ret: number): Operation<"inc" | "read", number> => ({
      clientId: 0,
      input,
      output,
      callTime: call,
      returnTime: ret,
    });
    expect(checkOperations(counter, [op("inc", 1, 0, 5), op("inc", 2, 0, 5), op("read", 2, 6, 7)]).result).toBe(CheckResult.Ok);
    expect(checkOperations(counter, [op("inc", 1, 0, 5), op("read", 2, 6, 7)]).result).toBe(CheckResult.Illegal);
  });
});

