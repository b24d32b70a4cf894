import { describe, expect, it } from "vitest";
import { CacheStore, SetOutcome } from "../../../cloud/cache";

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (v: { value: Uint8Array } | null): string | null => (v ? new TextDecoder().decode(v.value) : null);

describe("cache store (pure, explicit time)", () => {
  it("expires values after their TTL", () => {
    const s = new CacheStore();
    s.set("k", b("v"), 100, 0);
    expect(str(s.get("k", 99))).toBe("v");
    expect(s.get("k", 100)).toBeNull();
    expect(s.stats).toMatchObject({ hits: 1, misses: 1, expired: 1 });
    expect(s.entries).toBe(0);
  });

  it("evicts the least recently used entry past entriesMax, and counts it", () => {
    const s = new CacheStore({ entriesMax: 2 });
    s.set("a", b("1"), 1000, 0);
    s.set("b", b("2"), 1000, 0);
    s.get("a", 1); // a is now the most recent
    s.set("c", b("3"), 1000, 2);
    expect(s.get("b", 3)).toBeNull();
    expect(str(s.get("a", 3))).toBe("1");
    expect(s.stats.evictions).toBe(1);
  });

  it("keeps within bytesMax and refuses a value larger than the bound", () => {
    const s = new CacheStore({ bytesMax: 2048, valueBytesMax: 1024 });
    for (let i = 0; i < 10; i++) s.set(`k${i}`, new Uint8Array(500), 1000, i);
    expect(s.bytes).toBeLessThanOrEqual(2048);
    expect(s.stats.evictions).toBeGreaterThan(0);
    expect(s.set("big", new Uint8Array(1025), 1000, 0)).toBe(SetOutcome.TooLarge);
    expect(s.stats.tooLarge).toBe(1);
  });

  it("refuses a set read before an invalidation (the read-through race), accepts the new revision", () => {
    const s = new CacheStore();
    s.set("k", b("r1"), 10_000, 0, 1);
    s.invalidate("k", 2, 10);
    expect(s.get("k", 11)).toBeNull();
    expect(s.set("k", b("r1"), 10_000, 12, 1)).toBe(SetOutcome.Stale);
    expect(s.set("k", b("r2"), 10_000, 13, 2)).toBe(SetOutcome.Stored);
    // A late older value never replaces a newer one.
    expect(s.set("k", b("r1"), 10_000, 14, 1)).toBe(SetOutcome.Stale);
    expect(str(s.get("k", 15))).toBe("r2");
    expect(s.stats.staleRefused).toBe(2);
  });

  it("an unversioned invalidation refuses every versioned set until its tombstone expires", () => {
    const s = new CacheStore({ tombstoneTtlMs: 100 });
    s.invalidate("k", 0, 0);
    expect(s.set("k", b("x"), 1000, 50, 99)).toBe(SetOutcome.Stale);
    expect(s.set("k", b("x"), 1000, 100, 99)).toBe(SetOutcome.Stored);
  });

  it("when a young tombstone is evicted, refuses versioned sets rather than risk a stale one", () => {
    const s = new CacheStore({ tombstonesMax: 1, tombstoneTtlMs: 100 });
    s.invalidate("a", 5, 0);
    s.invalidate("b", 5, 1); // evicts a's tombstone while young
    expect(s.set("a", b("old"), 1000, 2, 4)).toBe(SetOutcome.Stale);
    expect(s.set("a", b("new"), 1000, 101, 4)).toBe(SetOutcome.Stored);
    expect(s.tombstones).toBe(1);
  });

  it("purges the keys a node no longer owns", () => {
    const s = new CacheStore();
    for (const k of ["a", "b", "c"]) s.set(k, b(k), 1000, 0);
    expect(s.purge((k) => k !== "b")).toBe(1);
    expect(s.get("b", 1)).toBeNull();
    expect(s.entries).toBe(2);
  });

  it("refuses bad input with clear errors", () => {
    const s = new CacheStore();
    expect(() => s.set("", b("x"), 1, 0)).toThrow(/cache key/);
    expect(() => s.set("a b", b("x"), 1, 0)).toThrow(/cache key/);
    expect(() => s.set("k", b("x"), 0, 0)).toThrow(/ttlMs/);
    expect(() => s.set("k", b("x"), 10, 0, -1)).toThrow(/version/);
    expect(() => new CacheStore({ entriesMax: 0 })).toThrow(/entriesMax/);
  });
});
