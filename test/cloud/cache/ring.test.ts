import { describe, expect, it } from "vitest";
import { HashRing, hash32 } from "../../../cloud/cache";

const keys = Array.from({ length: 20_000 }, (_, i) => `state:dev-${i}`);

describe("consistent-hash ring", () => {
  it("hashes deterministically and spreads nearby labels", () => {
    expect(hash32("a")).toBe(hash32("a"));
    expect(hash32("node-1#0")).not.toBe(hash32("node-1#1"));
    // Known value pins the function across releases (every process must agree).
    expect(hash32("xsfleet")).toBe(800642768);
    expect(new Set(Array.from({ length: 1000 }, (_, i) => hash32(`n#${i}`))).size).toBe(1000);
  });

  it("gives rf distinct owners, primary first, the same in every process whatever the insertion order", () => {
    const a = new HashRing({ vnodes: 64, nodes: ["c", "a", "b", "d"] });
    const b = new HashRing({ vnodes: 64 });
    for (const n of ["d", "b", "a", "c"]) b.add(n);
    for (const k of keys.slice(0, 500)) {
      const o = a.ownersOf(k, 3);
      expect(o).toEqual(b.ownersOf(k, 3));
      expect(new Set(o).size).toBe(3);
      expect(a.ownersOf(k, 1)).toEqual([o[0]]);
    }
    expect(a.ownersOf("k", 9)).toHaveLength(4);
    expect(new HashRing().ownersOf("k", 2)).toEqual([]);
  });

  it("moves about 1/n of the keys on a join and only the leaver's keys on a leave", () => {
    const ring = new HashRing({ vnodes: 128, nodes: ["n1", "n2", "n3", "n4"] });
    const before = keys.map((k) => ring.ownersOf(k, 1)[0]);
    ring.add("n5");
    const after = keys.map((k) => ring.ownersOf(k, 1)[0]);
    const moved = before.filter((o, i) => o !== after[i]).length / keys.length;
    expect(moved).toBeGreaterThan(0.1);
    expect(moved).toBeLessThan(0.3); // ideal 1/5
    // Every moved key moved to the new node.
    expect(before.every((o, i) => o === after[i] || after[i] === "n5")).toBe(true);
    ring.remove("n5");
    expect(keys.map((k) => ring.ownersOf(k, 1)[0])).toEqual(before);
  });

  it("balances better with more vnodes", () => {
    const spread = (vnodes: number): number => {
      const ring = new HashRing({ vnodes, nodes: Array.from({ length: 8 }, (_, i) => `node-${i}`) });
      const load = new Map<string, number>();
      for (const k of keys) load.set(ring.ownersOf(k, 1)[0]!, (load.get(ring.ownersOf(k, 1)[0]!) ?? 0) + 1);
      const mean = keys.length / 8;
      return Math.sqrt([...load.values()].reduce((s, v) => s + (v - mean) ** 2, 0) / 8) / mean;
    };
    expect(spread(256)).toBeLessThan(spread(1));
  });

  it("refuses bad input with a clear error", () => {
    expect(() => new HashRing({ vnodes: 0 })).toThrow(/vnodes/);
    expect(() => new HashRing().add("")).toThrow(/node id/);
    expect(() => new HashRing({ nodes: ["a"] }).ownersOf("k", 0)).toThrow(/replication factor/);
    const r = new HashRing({ nodes: ["a"] });
    expect(r.add("a")).toBe(false);
    expect(r.remove("b")).toBe(false);
    expect(r.setNodes(["a"])).toBe(false);
    expect(r.setNodes(["a", "b"])).toBe(true);
  });
});
