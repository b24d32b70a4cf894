// G-Counter (grow-only counter), state- and delta-based.
//
// Mutable on purpose: devices merge peer state every few seconds and want no
// garbage per merge. `merge` returns whether anything changed so callers know
// when to persist or re-gossip. Pure helpers (`mergeGCounters`) allocate.
//
// Wire format (canonical, see countmap.ts):
//   varint n, n × (u8 idLength, ASCII id, varint count), ids ascending, counts ≥ 1.
// Counts and the total stay ≤ 2^53-1; anything that would pass it is rejected.

import {
  type CountMap,
  type Order,
  checkMerge,
  checkReplicasMax,
  compareMaps,
  deltaMap,
  encodeMap,
  encodedMapSize,
  incrementMap,
  lessOrEqual,
  mapsEqual,
  mergeInto,
  readMap,
  replicasMaxDefault,
  sortedKeys,
  sumMap,
  writeMap,
} from "./countmap";
import { CrdtError, CrdtErrorCode, Reader, type Writer, fnv1a32 } from "./wire";

export { Order, replicasMaxDefault } from "./countmap";
export { CrdtError, CrdtErrorCode } from "./wire";

export interface CounterLimits {
  /** Most distinct replica ids one counter may hold (bounds RAM and decode). */
  replicasMax: number;
}

/** Short summary for heartbeats: equal digests ⇒ almost surely equal state. */
export interface CounterDigest {
  /** FNV-1a 32 of the canonical encoding. */
  hash: number;
  /** The counter's value. */
  value: number;
}

export class GCounter {
  /** @internal exposed for PNCounter and the encoders; do not mutate. */
  readonly counts: CountMap;
  private sum: number;
  readonly replicasMax: number;

  constructor(limits: Partial<CounterLimits> = {}) {
    this.replicasMax = checkReplicasMax(limits.replicasMax ?? replicasMaxDefault);
    this.counts = new Map();
    this.sum = 0;
  }

  /** Builds a counter from entries (validated like increments). */
  static from(entries: Iterable<readonly [string, number]> | Record<string, number>, limits: Partial<CounterLimits> = {}): GCounter {
    const c = new GCounter(limits);
    const it: Iterable<readonly [string, number]> =
      Symbol.iterator in entries ? (entries as Iterable<readonly [string, number]>) : Object.entries(entries);
    for (const [id, n] of it) {
      if (!Number.isSafeInteger(n) || n < 0) throw new CrdtError(CrdtErrorCode.InvalidArgument, `count for ${id} must be a non-negative safe integer, got ${n}`);
      const have = c.get(id);
      // Max, not sum: repeated ids behave like a merge. increment(id, 0) still validates the id.
      c.increment(id, n > have ? n - have : 0);
    }
    return c;
  }

  /** Adds `by` (default 1) to this replica's count; returns its new count. */
  increment(replica: string, by = 1): number {
    const next = incrementMap(this.counts, replica, by, this.replicasMax, this.sum);
    this.sum += by;
    return next;
  }

  get(replica: string): number {
    return this.counts.get(replica) ?? 0;
  }

  value(): number {
    return this.sum;
  }

  get size(): number {
    return this.counts.size;
  }

  /** Pointwise max; returns true if this counter changed. Throws CrdtError
   *  (ReplicasMax / Overflow) before changing anything if limits would break. */
  merge(other: GCounter): boolean {
    const inc = mergeInto(this.counts, other.counts, this.replicasMax, this.sum);
    this.sum += inc;
    return inc > 0;
  }

  /** @internal throws like `merge` would, without changing anything. */
  checkMerge(other: GCounter): void {
    checkMerge(this.counts, other.counts, this.replicasMax, this.sum);
  }

  /** Position in the partial order of states (pointwise ≤). */
  compare(other: GCounter): Order {
    return compareMaps(this.counts, other.counts);
  }

  lessOrEqual(other: GCounter): boolean {
    return lessOrEqual(this.counts, other.counts);
  }

  equals(other: GCounter): boolean {
    return mapsEqual(this.counts, other.counts);
  }

  /** Delta-state: the entries larger here than in `known` (a peer's last
   *  acknowledged state). `known.merge(delta)` ≡ `known.merge(this)`. */
  deltaSince(known: GCounter): GCounter {
    const d = new GCounter({ replicasMax: this.replicasMax });
    const m = deltaMap(this.counts, known.counts);
    for (const [k, v] of m) d.counts.set(k, v);
    d.sum = sumMap(m);
    return d;
  }

  clone(): GCounter {
    const c = new GCounter({ replicasMax: this.replicasMax });
    for (const [k, v] of this.counts) c.counts.set(k, v);
    c.sum = this.sum;
    return c;
  }

  /** Sorted [replica, count] pairs. */
  entries(): Array<[string, number]> {
    return sortedKeys(this.counts).map((k) => [k, this.counts.get(k)!]);
  }

  toJSON(): Record<string, number> {
    const o: Record<string, number> = {};
    for (const [k, v] of this.entries()) o[k] = v;
    return o;
  }

  encode(): Uint8Array {
    return encodeMap(this.counts);
  }

  encodedSize(): number {
    return encodedMapSize(this.counts);
  }

  /** @internal writes into a larger message (PNCounter). */
  writeTo(w: Writer): void {
    writeMap(w, this.counts);
  }

  digest(): CounterDigest {
    return { hash: fnv1a32(this.encode()), value: this.sum };
  }

  /** Decodes canonical bytes; throws CrdtError (Truncated, BadVarint,
   *  NonCanonical, BadReplicaId, ReplicasMax, Overflow, TrailingBytes). */
  static decode(bytes: Uint8Array, limits: Partial<CounterLimits> = {}): GCounter {
    const r = new Reader(bytes);
    const c = GCounter.readFrom(r, limits);
    r.end();
    return c;
  }

  /** @internal reads one counter from a larger message. */
  static readFrom(r: Reader, limits: Partial<CounterLimits> = {}, what = "G-Counter"): GCounter {
    const c = new GCounter(limits);
    c.readInto(r, what);
    return c;
  }

  /** @internal fills an empty counter from a reader. */
  readInto(r: Reader, what: string): void {
    if (this.counts.size !== 0) throw new Error("readInto needs an empty counter");
    this.sum = readMap(r, this.replicasMax, what, this.counts).total;
  }
}

/** Pure merge: a new counter, inputs untouched. */
export function mergeGCounters(a: GCounter, b: GCounter): GCounter {
  const c = a.clone();
  c.merge(b);
  return c;
}
