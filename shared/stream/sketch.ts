// Mergeable quantile sketch with relative accuracy (DDSketch-style).
//
// Contract: quantile(q) is within `relativeAccuracy` (1 %) of the exact
// lower-rank quantile, sorted[floor(q * (count - 1))], as long as no bucket
// was collapsed (then the lowest values of each sign lose accuracy first).
// Negative values go to a mirrored store, |v| < sketchMinIndexable counts as 0.
// Merging is exact on counts: merge is commutative and associative (the
// collapsed state depends only on the multiset added). The bucket index uses
// a linear interpolation of log2 read from the IEEE bits, never Math.log, so
// XS and Node produce the same buckets and the same quantiles bit for bit.

import { streamLimits } from "./limits";

export interface SketchStoreJson {
  /** Bucket index of counts[0]. */
  offset: number;
  counts: number[];
}

export interface SketchJson {
  relativeAccuracy: number;
  bucketsMax: number;
  count: number;
  zero: number;
  /** null when empty. */
  min: number | null;
  max: number | null;
  pos: SketchStoreJson;
  neg: SketchStoreJson;
}

export interface SketchOptions {
  relativeAccuracy?: number;
  bucketsMax?: number;
}

export class SketchError extends Error {}

const bits = new DataView(new ArrayBuffer(8));

/** exponent + (significand - 1) for a positive normal double: exact bits, no libm. */
function log2Linear(v: number): number {
  bits.setFloat64(0, v);
  const hi = bits.getUint32(0);
  const lo = bits.getUint32(4);
  const e = ((hi >>> 20) & 0x7ff) - 1023;
  const frac = ((hi & 0xfffff) * 4294967296 + lo) / 4503599627370496;
  return e + frac;
}

/** Inverse of log2Linear. */
function pow2Linear(y: number): number {
  const e = Math.floor(y);
  bits.setUint32(0, ((e + 1023) & 0x7ff) << 20);
  bits.setUint32(4, 0);
  return bits.getFloat64(0) * (1 + (y - e));
}

/** ln((1+a)/(1-a)) = 2 atanh(a) by its series: basic arithmetic only. */
function lnGamma(a: number): number {
  let term = a;
  let sum = 0;
  const a2 = a * a;
  for (let k = 1; k < 200; k += 2) {
    sum += term / k;
    term *= a2;
    if (term / k < 1e-18 * sum) break;
  }
  return 2 * sum;
}

interface Store {
  offset: number;
  counts: number[];
}

function storeAdd(s: Store, index: number, n: number, bucketsMax: number): void {
  if (s.counts.length === 0) {
    s.offset = index;
    s.counts.push(n);
    return;
  }
  const top = s.offset + s.counts.length - 1;
  if (index > top) {
    const floor = index - bucketsMax + 1;
    if (floor > s.offset) {
      // Collapse everything below the new floor into the floor bucket.
      let carried = 0;
      const drop = Math.min(floor - s.offset, s.counts.length);
      for (let i = 0; i < drop; i++) carried += s.counts[i]!;
      s.counts.splice(0, drop);
      s.offset = floor;
      if (s.counts.length === 0) s.counts.push(0);
      s.counts[0]! += carried;
    }
    const grow = index - (s.offset + s.counts.length - 1);
    for (let i = 0; i < grow; i++) s.counts.push(0);
    s.counts[index - s.offset]! += n;
    return;
  }
  const floor = top - bucketsMax + 1;
  if (index < floor) index = floor;
  if (index < s.offset) {
    const pad: number[] = [];
    for (let i = index; i < s.offset; i++) pad.push(0);
    s.counts.unshift(...pad);
    s.offset = index;
  }
  s.counts[index - s.offset]! += n;
}

function checkStore(j: unknown, at: string): Store {
  const o = j as SketchStoreJson;
  if (typeof o !== "object" || o === null || !Number.isInteger(o.offset) || !Array.isArray(o.counts)) {
    throw new SketchError(`${at}: must be {offset: integer, counts: number[]}`);
  }
  for (const c of o.counts) {
    if (!Number.isInteger(c) || c < 0) throw new SketchError(`${at}.counts: must be non-negative integers`);
  }
  return { offset: o.offset, counts: o.counts.slice() };
}

export class QuantileSketch {
  readonly relativeAccuracy: number;
  readonly bucketsMax: number;
  private readonly multiplier: number;
  private pos: Store = { offset: 0, counts: [] };
  private neg: Store = { offset: 0, counts: [] };
  private zero = 0;
  private n = 0;
  private lo = Infinity;
  private hi = -Infinity;

  constructor(opts: SketchOptions = {}) {
    const a = opts.relativeAccuracy ?? streamLimits.sketchRelativeAccuracy;
    const b = opts.bucketsMax ?? streamLimits.sketchBucketsMax;
    if (!(a >= 1e-4 && a < 0.5)) throw new SketchError("relativeAccuracy: must be in [0.0001, 0.5)");
    if (!Number.isInteger(b) || b < 16 || b > streamLimits.sketchBucketsMax) {
      throw new SketchError(`bucketsMax: must be an integer in 16..${streamLimits.sketchBucketsMax}`);
    }
    this.relativeAccuracy = a;
    this.bucketsMax = b;
    // Bucket i spans log2Linear in [i/m, (i+1)/m): a value ratio of at most
    // e^(1/m) inside a bucket, so m >= 1/ln(gamma) gives the accuracy.
    this.multiplier = (1 + 1e-12) / lnGamma(a);
  }

  get count(): number {
    return this.n;
  }

  add(v: number): void {
    if (!Number.isFinite(v)) throw new SketchError("add: value must be finite");
    this.n++;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
    const a = Math.abs(v);
    if (a < streamLimits.sketchMinIndexable) this.zero++;
    else storeAdd(v > 0 ? this.pos : this.neg, this.index(a), 1, this.bucketsMax);
  }

  merge(other: QuantileSketch): void {
    if (other.relativeAccuracy !== this.relativeAccuracy || other.bucketsMax !== this.bucketsMax) {
      throw new SketchError("merge: sketches must have the same relativeAccuracy and bucketsMax");
    }
    if (other.n === 0) return;
    this.n += other.n;
    this.zero += other.zero;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    for (const [from, to] of [[other.pos, this.pos], [other.neg, this.neg]] as const) {
      for (let i = 0; i < from.counts.length; i++) {
        const c = from.counts[i]!;
        if (c > 0) storeAdd(to, from.offset + i, c, this.bucketsMax);
      }
    }
  }

  /** The q-quantile (0 <= q <= 1); NaN when empty. */
  quantile(q: number): number {
    if (this.n === 0 || !(q >= 0 && q <= 1)) return NaN;
    if (q === 0) return this.lo;
    if (q === 1) return this.hi;
    const rank = q * (this.n - 1);
    let seen = 0;
    let v = NaN;
    found: {
      const neg = this.neg.counts;
      for (let i = neg.length - 1; i >= 0; i--) {
        seen += neg[i]!;
        if (seen > rank) {
          v = -this.value(this.neg.offset + i);
          break found;
        }
      }
      seen += this.zero;
      if (seen > rank) {
        v = 0;
        break found;
      }
      const pos = this.pos.counts;
      for (let i = 0; i < pos.length; i++) {
        seen += pos[i]!;
        if (seen > rank) {
          v = this.value(this.pos.offset + i);
          break found;
        }
      }
      v = this.hi;
    }
    return v < this.lo ? this.lo : v > this.hi ? this.hi : v;
  }

  min(): number {
    return this.n === 0 ? NaN : this.lo;
  }

  max(): number {
    return this.n === 0 ? NaN : this.hi;
  }

  toJSON(): SketchJson {
    return {
      relativeAccuracy: this.relativeAccuracy,
      bucketsMax: this.bucketsMax,
      count: this.n,
      zero: this.zero,
      min: this.n === 0 ? null : this.lo,
      max: this.n === 0 ? null : this.hi,
      pos: { offset: this.pos.offset, counts: this.pos.counts.slice() },
      neg: { offset: this.neg.offset, counts: this.neg.counts.slice() },
    };
  }

  /** Rebuilds a sketch from toJSON(); throws SketchError naming the bad field. */
  static fromJSON(j: unknown): QuantileSketch {
    if (typeof j !== "object" || j === null) throw new SketchError("sketch: must be an object");
    const o = j as SketchJson;
    const s = new QuantileSketch({ relativeAccuracy: o.relativeAccuracy, bucketsMax: o.bucketsMax });
    s.pos = checkStore(o.pos, "sketch.pos");
    s.neg = checkStore(o.neg, "sketch.neg");
    if (s.pos.counts.length > s.bucketsMax || s.neg.counts.length > s.bucketsMax) {
      throw new SketchError("sketch: more buckets than bucketsMax");
    }
    if (!Number.isInteger(o.zero) || o.zero < 0) throw new SketchError("sketch.zero: must be a non-negative integer");
    s.zero = o.zero;
    let total = s.zero;
    for (const c of s.pos.counts) total += c;
    for (const c of s.neg.counts) total += c;
    if (o.count !== total) throw new SketchError("sketch.count: does not match the buckets");
    s.n = total;
    if (total > 0) {
      if (typeof o.min !== "number" || typeof o.max !== "number" || !(o.min <= o.max)) {
        throw new SketchError("sketch.min/max: must be numbers with min <= max");
      }
      s.lo = o.min;
      s.hi = o.max;
    }
    return s;
  }

  private index(a: number): number {
    return Math.floor(log2Linear(a) * this.multiplier);
  }

  /** Representative of bucket i: relative error <= relativeAccuracy for any value in it. */
  private value(i: number): number {
    const lo = pow2Linear(i / this.multiplier);
    const hi = pow2Linear((i + 1) / this.multiplier);
    return (2 * lo * hi) / (lo + hi);
  }
}
