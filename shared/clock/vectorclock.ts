// Vector clock for device "shadow" (desired/reported) updates.
//
// Why plain version vectors and not dotted version vectors: DVVs fix the
// false-concurrency / sibling explosion that appears when a *server* stamps
// writes on behalf of many clients with its own id. In xsfleet every writer
// (a device, a cloud control-plane node, an operator tool) has a stable id
// and stamps its own writes, so actor = writer and version vectors are exact;
// siblings are kept in `versioned.ts`. Same structure and canonical encoding
// as the G-Counter (actor id → event count), so one decoder serves both.
//
// Wire format: varint n, n × (u8 idLength, ASCII id, varint counter),
// ids ascending, counters ≥ 1, minimal varints (see shared/crdt/countmap.ts).

import { GCounter } from "../crdt/gcounter";
import { type Order, compareMaps } from "../crdt/countmap";
import { Reader, fnv1a32 } from "../crdt/wire";

export { Order } from "../crdt/countmap";
export { CrdtError, CrdtErrorCode } from "../crdt/wire";

export interface VectorClockLimits {
  /** Most distinct actors one clock may name; writers per shadow are few. */
  replicasMax: number;
}

export const vectorClockReplicasMaxDefault = 64;

export class VectorClock {
  // A vector clock *is* a G-Counter of events per actor; reuse its checks.
  private readonly c: GCounter;

  constructor(limits: Partial<VectorClockLimits> = {}) {
    this.c = new GCounter({ replicasMax: limits.replicasMax ?? vectorClockReplicasMaxDefault });
  }

  static from(entries: Iterable<readonly [string, number]> | Record<string, number>, limits: Partial<VectorClockLimits> = {}): VectorClock {
    const v = new VectorClock(limits);
    v.c.merge(GCounter.from(entries, { replicasMax: v.c.replicasMax }));
    return v;
  }

  get replicasMax(): number {
    return this.c.replicasMax;
  }

  /** Records one local event of `actor`; returns its new counter. */
  increment(actor: string): number {
    return this.c.increment(actor, 1);
  }

  get(actor: string): number {
    return this.c.get(actor);
  }

  get size(): number {
    return this.c.size;
  }

  /** Pointwise max (join); true if this clock changed. */
  merge(other: VectorClock): boolean {
    return this.c.merge(other.c);
  }

  /** Before: this happened before `other`; After: after; Equal; Concurrent. */
  compare(other: VectorClock): Order {
    return compareMaps(this.c.counts, other.c.counts);
  }

  /** this ≤ other (this is Before or Equal to other). */
  lessOrEqual(other: VectorClock): boolean {
    return this.c.lessOrEqual(other.c);
  }

  equals(other: VectorClock): boolean {
    return this.c.equals(other.c);
  }

  clone(): VectorClock {
    const v = new VectorClock({ replicasMax: this.c.replicasMax });
    v.c.merge(this.c);
    return v;
  }

  entries(): Array<[string, number]> {
    return this.c.entries();
  }

  toJSON(): Record<string, number> {
    return this.c.toJSON();
  }

  encode(): Uint8Array {
    return this.c.encode();
  }

  /** 32-bit FNV-1a of the canonical encoding (cheap "same version?" check). */
  hash(): number {
    return fnv1a32(this.c.encode());
  }

  /** Decodes canonical bytes; throws CrdtError (Truncated, BadVarint,
   *  NonCanonical, BadReplicaId, ReplicasMax, Overflow, TrailingBytes). */
  static decode(bytes: Uint8Array, limits: Partial<VectorClockLimits> = {}): VectorClock {
    const v = new VectorClock(limits);
    const r = new Reader(bytes);
    v.c.readInto(r, "vector clock");
    r.end();
    return v;
  }
}

/** Pure merge (join): a new clock, inputs untouched. */
export function mergeClocks(a: VectorClock, b: VectorClock): VectorClock {
  const c = a.clone();
  c.merge(b);
  return c;
}

export function compareClocks(a: VectorClock, b: VectorClock): Order {
  return a.compare(b);
}
