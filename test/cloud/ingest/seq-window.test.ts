import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { checkSeq, emptyWindow, recordSeq, resizeWindow, SeqVerdict } from "../../../cloud/ingest/seq-window";

describe("seq window (high-watermark + ring bitmap)", () => {
  it("agrees with a set model for any arrival order within the window", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 400 }), (seqs) => {
        const size = 64;
        const w = emptyWindow(size);
        const seen = new Set<number>();
        for (const s of seqs) {
          const v = checkSeq(w, s);
          const hwm = Math.max(0, ...seen);
          if (s <= hwm - size) expect(v).toBe(SeqVerdict.Stale);
          else expect(v).toBe(seen.has(s) ? SeqVerdict.Duplicate : SeqVerdict.New);
          if (v === SeqVerdict.New) { recordSeq(w, s); seen.add(s); }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("a big jump forgets everything below the new window", () => {
    const w = emptyWindow(16);
    recordSeq(w, 1); recordSeq(w, 2);
    recordSeq(w, 100);
    expect(checkSeq(w, 2)).toBe(SeqVerdict.Stale);
    expect(checkSeq(w, 90)).toBe(SeqVerdict.New);
    expect(checkSeq(w, 100)).toBe(SeqVerdict.Duplicate);
  });

  it("rejects seq 0 and recording a non-new seq; resize keeps what fits", () => {
    const w = emptyWindow(16);
    expect(() => checkSeq(w, 0)).toThrow(/positive/);
    recordSeq(w, 5);
    expect(() => recordSeq(w, 5)).toThrow(/not new/);
    expect(() => emptyWindow(12)).toThrow(/multiple of 8/);
    const big = resizeWindow(w, 64);
    expect(checkSeq(big, 5)).toBe(SeqVerdict.Duplicate);
    expect(checkSeq(big, 4)).toBe(SeqVerdict.New);
  });
});
