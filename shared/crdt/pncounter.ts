// PN-Counter: two G-Counters, P (increments) and N (decrements); value = P - N.
// Both halves only grow, so merge/compare/delta are the G-Counter ones applied
// per half. Each half is limited to `replicasMax` replicas and a total of
// 2^53-1, so the value always lies in ±(2^53-1).
//
// Wire format: the P encoding followed by the N encoding (each canonical).

import { type CounterDigest, type CounterLimits, GCounter } from "./gcounter";
import { type Order, combineOrder } from "./countmap";
import { CrdtError, CrdtErrorCode, Reader, Writer, fnv1a32 } from "./wire";

export { Order, replicasMaxDefault } from "./countmap";
export { CrdtError, CrdtErrorCode } from "./wire";
export type { CounterDigest, CounterLimits } from "./gcounter";

export class PNCounter {
  readonly p: GCounter;
  readonly n: GCounter;

  constructor(limits: Partial<CounterLimits> = {}) {
    this.p = new GCounter(limits);
    this.n = new GCounter(limits);
  }

  get replicasMax(): number {
    return this.p.replicasMax;
  }

  /** Adds `by` (≥ 0) for this replica; returns the new counter value. */
  increment(replica: string, by = 1): number {
    this.p.increment(replica, by);
    return this.value();
  }

  /** Subtracts `by` (≥ 0) for this replica; returns the new counter value. */
  decrement(replica: string, by = 1): number {
    this.n.increment(replica, by);
    return this.value();
  }

  /** Signed convenience: positive adds, negative subtracts. */
  add(replica: string, delta: number): number {
    if (!Number.isSafeInteger(delta)) throw new CrdtError(CrdtErrorCode.InvalidArgument, `delta must be a safe integer, got ${delta}`);
    return delta >= 0 ? this.increment(replica, delta) : this.decrement(replica, -delta);
  }

  value(): number {
    return this.p.value() - this.n.value();
  }

  /** This replica's own contribution (its increments minus its decrements). */
  get(replica: string): number {
    return this.p.get(replica) - this.n.get(replica);
  }

  /** Merges both halves; true if anything changed. All-or-nothing: limits are
   *  checked on both halves before either is touched. */
  merge(other: PNCounter): boolean {
    this.n.checkMerge(other.n); // P's merge checks itself before mutating
    const pChanged = this.p.merge(other.p);
    const nChanged = this.n.merge(other.n);
    return pChanged || nChanged;
  }

  compare(other: PNCounter): Order {
    return combineOrder(this.p.compare(other.p), this.n.compare(other.n));
  }

  lessOrEqual(other: PNCounter): boolean {
    return this.p.lessOrEqual(other.p) && this.n.lessOrEqual(other.n);
  }

  equals(other: PNCounter): boolean {
    return this.p.equals(other.p) && this.n.equals(other.n);
  }

  /** Delta-state per half; `known.merge(delta)` ≡ `known.merge(this)`. */
  deltaSince(known: PNCounter): PNCounter {
    const d = new PNCounter({ replicasMax: this.replicasMax });
    d.p.merge(this.p.deltaSince(known.p));
    d.n.merge(this.n.deltaSince(known.n));
    return d;
  }

  clone(): PNCounter {
    const c = new PNCounter({ replicasMax: this.replicasMax });
    c.p.merge(this.p);
    c.n.merge(this.n);
    return c;
  }

  toJSON(): { p: Record<string, number>; n: Record<string, number> } {
    return { p: this.p.toJSON(), n: this.n.toJSON() };
  }

  encode(): Uint8Array {
    const w = new Writer(this.p.encodedSize() + this.n.encodedSize());
    this.p.writeTo(w);
    this.n.writeTo(w);
    return w.finish();
  }

  digest(): CounterDigest {
    return { hash: fnv1a32(this.encode()), value: this.value() };
  }

  /** Decodes canonical bytes; throws CrdtError like GCounter.decode. */
  static decode(bytes: Uint8Array, limits: Partial<CounterLimits> = {}): PNCounter {
    const r = new Reader(bytes);
    const c = new PNCounter(limits);
    c.p.readInto(r, "PN-Counter P");
    c.n.readInto(r, "PN-Counter N");
    r.end();
    return c;
  }
}

/** Pure merge: a new counter, inputs untouched. */
export function mergePNCounters(a: PNCounter, b: PNCounter): PNCounter {
  const c = a.clone();
  c.merge(b);
  return c;
}
