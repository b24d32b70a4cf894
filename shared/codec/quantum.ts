// Quantum decomposition shared by the timestamp and value streams:
//   x = q·m + o + r,   m = round((x − o) / q)
// candidates ranked by the static cost of m and r under patched frame of
// reference ("PFOR": x − base in a fixed width w, outliers as an escape plus
// a wider width). That cost is quick to compute without touching the
// adaptive models; the chosen transform is then coded adaptively (range.ts). Real devices produce integers on a
// coarser grid than their unit: a radio sends on a timer tick (Δt ≈ k·125 ms
// + phase), a non-linear ADC maps one step to 40 or 41 × 0.001 %RH. The
// quantum is searched among divisors of the block's own large differences,
// so no particular device's grid is built in; q = 1 is plain PFOR.
import { bitLength, uvarBits, zigzag } from "./bits";

/** |seed| at or below this is treated as jitter, not as a grid step. */
const jitterMax = 4;
const seedsMax = 8;
const divisorsMax = 4;
export const quantumMax = 0xffffffff;

function newChoice(): PforChoice {
  return { base: 0, width: 0, wideWidth: 0, bits: 0 };
}

function copyChoice(from: PforChoice, to: PforChoice): void {
  to.base = from.base;
  to.width = from.width;
  to.wideWidth = from.wideWidth;
  to.bits = from.bits;
}

/** A chosen decomposition and its static cost (q/o header + both PFOR parts). */
export class QuantumPlan {
  q = 1;
  o = 0;
  bits = Infinity;
  readonly m = newChoice();
  readonly r = newChoice();
}

/** Fully costed candidates per search, after the cheap pre-score. */
const finalistsMax = 2;

export class QuantumSearch {
  private readonly ms: Float64Array;
  private readonly rs: Float64Array;
  private readonly sorted: Float64Array;
  private readonly tried = new Float64Array(seedsMax * divisorsMax);
  private triedCount = 0;
  private readonly seeds = new Float64Array(seedsMax);
  private readonly mc = newChoice();
  private readonly rc = newChoice();
  // Finalists of the pre-score: q, o, score.
  private readonly finalQ = new Float64Array(finalistsMax);
  private readonly finalO = new Float64Array(finalistsMax);
  private readonly finalScore = new Float64Array(finalistsMax);

  constructor(blockMax: number) {
    this.ms = new Float64Array(blockMax);
    this.rs = new Float64Array(blockMax);
    this.sorted = new Float64Array(blockMax);
  }

  /**
   * Best plan for x[0..n) into `best` (whose bits must be preset, e.g. to a
   * reusable plan's cost). Grid seeds are |seedSource[i]|; with `withPhase`
   * the phase o is tried from residues of x, else o = 0. Candidates are
   * pre-scored cheaply (bits saved by the points that sit on the grid) and
   * only the best few are costed exactly, so a block costs O(n · candidates).
   */
  search(x: Float64Array, seedSource: Float64Array, n: number, withPhase: boolean, best: QuantumPlan): void {
    this.evaluate(x, n, 1, 0, uvarBits(1), best);
    this.triedCount = 0;
    this.finalScore.fill(0);
    let seedCount = 0;
    for (let i = 0; i < n && seedCount < seedsMax; i++) {
      const a = Math.abs(seedSource[i]!);
      if (a <= jitterMax || a > quantumMax) continue;
      let seen = false;
      for (let s = 0; s < seedCount; s++) if (this.seeds[s] === a) seen = true;
      if (seen) continue;
      this.seeds[seedCount++] = a;
      for (let div = 1; div <= divisorsMax; div++) {
        const q = Math.round(a / div);
        if (q > 2 * jitterMax) this.preScore(x, n, q, withPhase);
      }
    }
    for (let f = 0; f < finalistsMax; f++) {
      if (this.finalScore[f]! <= 0) continue;
      const q = this.finalQ[f]!;
      const o = this.finalO[f]!;
      this.evaluate(x, n, q, o, uvarBits(q) + (withPhase ? uvarBits(o) : 0), best);
    }
  }

  private preScore(x: Float64Array, n: number, q: number, withPhase: boolean): void {
    for (let t = 0; t < this.triedCount; t++) if (this.tried[t] === q) return;
    if (this.triedCount < this.tried.length) this.tried[this.triedCount++] = q;
    const gain = Math.log2(q / (2 * jitterMax + 1));
    // Phase candidates: residues of the block's first and middle element.
    const o1 = withPhase ? ((x[0]! % q) + q) % q : 0;
    const o2 = withPhase ? ((x[n >> 1]! % q) + q) % q : 0;
    for (let p = 0; p < (o2 === o1 ? 1 : 2); p++) {
      const o = p === 0 ? o1 : o2;
      const half = Math.floor(q / 2);
      let fit = 0;
      for (let i = 0; i < n; i++) {
        const c = x[i]! - o;
        const r = c - Math.floor((c + half) / q) * q;
        if (r >= -jitterMax && r <= jitterMax) fit++;
      }
      this.offer(q, o, fit * gain);
    }
  }

  /** Keeps the finalistsMax best-scoring candidates. */
  private offer(q: number, o: number, score: number): void {
    let worst = 0;
    for (let f = 1; f < finalistsMax; f++) if (this.finalScore[f]! < this.finalScore[worst]!) worst = f;
    if (score > this.finalScore[worst]!) {
      this.finalQ[worst] = q;
      this.finalO[worst] = o;
      this.finalScore[worst] = score;
    }
  }

  /** Costs (q, o) exactly and keeps it in `best` if cheaper. */
  evaluate(x: Float64Array, n: number, q: number, o: number, headerBits: number, best: QuantumPlan): void {
    const ms = this.ms;
    const rs = this.rs;
    const half = Math.floor(q / 2);
    for (let i = 0; i < n; i++) {
      const c = x[i]! - o;
      const m = Math.floor((c + half) / q);
      ms[i] = m;
      rs[i] = c - m * q;
    }
    const mc = choosePfor(ms, n, this.sorted, this.mc);
    const rc = choosePfor(rs, n, this.sorted, this.rc);
    const bits = headerBits + mc.bits + rc.bits;
    if (bits < best.bits) {
      best.bits = bits;
      best.q = q;
      best.o = o;
      copyChoice(mc, best.m);
      copyChoice(rc, best.r);
    }
  }
}

// ---- PFOR static cost ----

const widthBits = 6;

export interface PforChoice {
  base: number;
  width: number;
  wideWidth: number;
  bits: number;
}

/**
 * Chooses base and widths for x[0..n) by exact cost. `sorted` is scratch of
 * at least n entries; x is not modified.
 */
export function choosePfor(x: Float64Array, n: number, sorted: Float64Array, out: PforChoice): PforChoice {
  const s = sorted.subarray(0, n);
  s.set(x.subarray(0, n));
  s.sort();
  const min = s[0]!;
  const max = s[n - 1]!;
  if (min === max) {
    out.base = min;
    out.width = 0;
    out.wideWidth = 0;
    out.bits = uvarBits(zigzag(min)) + widthBits;
    return out;
  }
  const fullWidth = bitLength(max - min + 1);
  let bestBits = Infinity;
  for (let w = 1; w <= fullWidth; w++) {
    const span = 2 ** w - 2; // window [base, base + span]
    // Largest number of sorted values inside any window starting at a value.
    let bestIn = 0;
    let bestStart = 0;
    let hi = 0;
    for (let lo = 0; lo < n; lo++) {
      if (lo > 0 && s[lo] === s[lo - 1]) continue;
      if (hi < lo) hi = lo;
      while (hi + 1 < n && s[hi + 1]! - s[lo]! <= span) hi++;
      if (hi - lo + 1 > bestIn) {
        bestIn = hi - lo + 1;
        bestStart = lo;
      }
    }
    const base = s[bestStart]!;
    let wide = 0;
    if (bestIn < n) {
      const zLow = zigzag(min - base);
      const zHigh = zigzag(max - base);
      wide = bitLength(zLow > zHigh ? zLow : zHigh);
    }
    const bits = uvarBits(zigzag(base)) + 2 * widthBits + n * w + (n - bestIn) * wide;
    if (bits < bestBits) {
      bestBits = bits;
      out.base = base;
      out.width = w;
      out.wideWidth = wide;
    }
    if (bestIn === n) break; // wider windows only cost more
  }
  out.bits = bestBits;
  return out;
}
