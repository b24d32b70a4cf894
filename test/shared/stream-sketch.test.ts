import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { QuantileSketch, SketchError } from "../../shared/stream/index";

const qs = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1];

// Values spanning 12 decades (1e-3..1e9: 2048 buckets hold 40 octaves, so
// nothing collapses here), both signs, exact zeros and values below the
// indexable minimum (they count as zero).
const value = fc.oneof(
  fc.double({ min: -1e9, max: 1e9, noNaN: true }).map((v) => (Math.abs(v) < 1e-3 && Math.abs(v) >= 1e-9 ? 0 : v)),
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(0, -0, 1e-12, -1e-12, 0.001, 5e8),
);

function exact(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

function sketchOf(vs: number[], bucketsMax?: number): QuantileSketch {
  const s = new QuantileSketch({ bucketsMax });
  for (const v of vs) s.add(v);
  return s;
}

describe("QuantileSketch", () => {
  it("is within 1 % of the exact lower-rank quantile (negatives and zero included)", () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 400 }), (vs) => {
        const s = sketchOf(vs);
        const sorted = vs.slice().sort((a, b) => a - b);
        expect(s.count).toBe(vs.length);
        for (const q of qs) {
          const e = exact(sorted, q);
          const got = s.quantile(q);
          // |v| < 1e-9 counts as zero: the absolute error there is below that.
          expect(Math.abs(got - e)).toBeLessThanOrEqual(0.01 * Math.abs(e) * (1 + 1e-9) + 1e-9);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("merges exactly: commutative and associative (identical JSON), equal to adding everything to one sketch", () => {
    fc.assert(
      fc.property(fc.array(value), fc.array(value), fc.array(value), fc.constantFrom(undefined, 16, 64), (a, b, c, bm) => {
        const ab_c = sketchOf(a, bm);
        ab_c.merge(sketchOf(b, bm));
        ab_c.merge(sketchOf(c, bm));
        const bc = sketchOf(b, bm);
        bc.merge(sketchOf(c, bm));
        const a_bc = sketchOf(a, bm);
        a_bc.merge(bc);
        const cba = sketchOf(c, bm);
        cba.merge(sketchOf(b, bm));
        cba.merge(sketchOf(a, bm));
        const all = sketchOf([...a, ...b, ...c], bm);
        const j = JSON.stringify(all.toJSON());
        expect(JSON.stringify(ab_c.toJSON())).toBe(j);
        expect(JSON.stringify(a_bc.toJSON())).toBe(j);
        expect(JSON.stringify(cba.toJSON())).toBe(j);
      }),
      { numRuns: 200 },
    );
  });

  it("bounds its buckets by collapsing the lowest; high quantiles stay accurate", () => {
    const s = new QuantileSketch({ bucketsMax: 64 });
    const vs: number[] = [];
    for (let i = 0; i < 5000; i++) vs.push(1.0037 ** i); // ~8 decades
    for (const v of vs) s.add(v);
    const j = s.toJSON();
    expect(j.pos.counts.length).toBeLessThanOrEqual(64);
    expect(j.neg.counts.length).toBe(0);
    for (const q of [0.99, 0.999, 1]) {
      const e = exact(vs, q);
      expect(Math.abs(s.quantile(q) - e) / e).toBeLessThanOrEqual(0.01 * (1 + 1e-9));
    }
    expect(s.quantile(0)).toBe(1); // exact min kept
    expect(s.quantile(0.01)).toBeGreaterThan(vs[50]!); // collapsed: low quantiles lose accuracy (upwards)
  });

  it("round-trips through JSON and refuses malformed JSON with a clear error", () => {
    const s = sketchOf([-3, 0, 1, 2, 2, 1e6]);
    const back = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(s.toJSON())));
    expect(back.toJSON()).toEqual(s.toJSON());
    for (const q of qs) expect(back.quantile(q)).toBe(s.quantile(q));
    expect(() => QuantileSketch.fromJSON({ ...s.toJSON(), count: 99 })).toThrow(/count/);
    expect(() => QuantileSketch.fromJSON({ ...s.toJSON(), pos: { offset: 0, counts: [-1] } })).toThrow(SketchError);
    expect(() => QuantileSketch.fromJSON(null)).toThrow(/object/);
    expect(() => s.add(NaN)).toThrow(/finite/);
    expect(Number.isNaN(new QuantileSketch().quantile(0.5))).toBe(true);
    expect(() => sketchOf([1]).merge(new QuantileSketch({ bucketsMax: 16 }))).toThrow(/same/);
  });
});
