// PersistentSequence (block reservation, no reuse across restarts) and the
// W3C traceparent helpers.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PersistentSequence } from "../../firmware/device/sequence";
import { childTraceparent, isTraceparent, newTraceparent } from "../../firmware/device/trace-context";
import { MemoryStorage } from "../../firmware/sim/memory-storage";
import { SeededRandom } from "../../firmware/sim/sim-clock";

describe("PersistentSequence", () => {
  it("writes once per block and resumes above everything handed out", () => {
    const st = new MemoryStorage();
    const s = new PersistentSequence(st, "seq", 10);
    const got = Array.from({ length: 25 }, () => s.take());
    expect(got).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(st.writes).toBe(3);
    const again = new PersistentSequence(st.clone(), "seq", 10);
    expect(again.take()).toBe(31);
  });

  it("never reuses a value over any pattern of takes and crashes (property)", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.integer({ min: 0, max: 120 }), { maxLength: 12 }), (block, runs) => {
      let st = new MemoryStorage();
      let last = 0;
      for (const n of runs) {
        const s = new PersistentSequence(st, "seq", block);
        for (let i = 0; i < n; i++) {
          const v = s.take();
          if (v <= last) return false;
          last = v;
        }
        st = st.clone();
      }
      return true;
    }));
  });

  it("with a Random, makes a non-zero epoch with the record and keeps it beside the mark", () => {
    const st = new MemoryStorage();
    const zeroFirst = { n: 0, u32() { return this.n++ === 0 ? 0 : 0xdeadbeef; } }; // 0 is not an epoch: drawn again
    const s = new PersistentSequence(st, "seq", 4, zeroFirst);
    expect(s.epoch).toBe(0xdeadbeef);
    expect(s.epochCreated).toBe(true);
    expect(st.read("seq")!.length).toBe(12); // durable before any use
    s.take();
    const again = new PersistentSequence(st.clone(), "seq", 4, new SeededRandom(5));
    expect([again.epoch, again.epochCreated, again.take()]).toEqual([0xdeadbeef, false, 5]);
    // A wiped flash: a new record, a new epoch, seqs from 1 again.
    const wiped = new PersistentSequence(new MemoryStorage(), "seq", 4, new SeededRandom(6));
    expect(wiped.epoch).not.toBe(0xdeadbeef);
    expect(wiped.epoch).toBeGreaterThan(0);
    expect(wiped.take()).toBe(1);
    // Without a Random (batch_seq) there is no epoch and the record stays 8 bytes.
    const plain = new MemoryStorage();
    const b = new PersistentSequence(plain, "bseq", 4);
    b.take();
    expect([b.epoch, b.epochCreated, plain.read("bseq")!.length]).toEqual([0, false, 8]);
  });

  it("adds an epoch to the mark of firmware without epochs and continues its seqs", () => {
    const st = new MemoryStorage();
    const old = new PersistentSequence(st, "seq", 10); // the record older firmware wrote
    for (let i = 0; i < 3; i++) old.take();
    expect(st.read("seq")!.length).toBe(8);
    const s = new PersistentSequence(st, "seq", 10, new SeededRandom(9));
    expect(s.epochCreated).toBe(true);
    expect(s.epoch).toBeGreaterThan(0);
    expect(s.take()).toBe(11);
    expect(new PersistentSequence(st, "seq", 10, new SeededRandom(1)).epoch).toBe(s.epoch);
  });

  it("rejects a corrupt mark and a bad block size", () => {
    const st = new MemoryStorage();
    st.write("seq", Uint8Array.of(1, 2, 3));
    expect(() => new PersistentSequence(st, "seq")).toThrow(/corrupt sequence mark/);
    expect(() => new PersistentSequence(new MemoryStorage(), "seq", 0)).toThrow(/block/);
  });
});

describe("traceparent", () => {
  it("is version 00, random ids, sampled", () => {
    const r = new SeededRandom(1);
    const a = newTraceparent(r);
    const b = newTraceparent(r);
    expect(a).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(isTraceparent(a)).toBe(true);
    expect(a).not.toBe(b);
  });

  it("a child keeps the trace id and flags, with a new span id", () => {
    const r = new SeededRandom(2);
    const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    const c = childTraceparent(parent, r);
    expect(c.slice(0, 36)).toBe(parent.slice(0, 36));
    expect(c.endsWith("-00")).toBe(true);
    expect(c.slice(36, 52)).not.toBe(parent.slice(36, 52));
    expect(isTraceparent(c)).toBe(true);
  });

  it("an invalid parent starts a new trace", () => {
    const r = new SeededRandom(3);
    for (const bad of ["", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"]) {
      expect(isTraceparent(childTraceparent(bad, r))).toBe(true);
    }
  });
});
