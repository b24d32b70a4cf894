// Multi-value register over vector clocks: how a device shadow (desired or
// reported state) stores writes so concurrent updates are detected and kept
// as siblings instead of one silently overwriting the other.
//
// The stored sibling set is an antichain: no sibling's clock dominates
// another's. An incoming write
//   - dominated by (Before) a sibling     → stale, ignored   (Dominated)
//   - with a clock equal to a sibling's   → redelivery        (Duplicate)
//   - otherwise: drops the siblings it dominates and joins the rest (Stored).
// A writer resolves a conflict by writing with `clockForWrite(siblings, me)`,
// which dominates every sibling it has read, collapsing the set to one value.
//
// Sibling order is insertion order and carries no meaning.

import { Order, VectorClock, type VectorClockLimits } from "./vectorclock";

export interface Versioned<T> {
  readonly clock: VectorClock;
  readonly value: T;
}

export const WriteOutcome = Object.freeze({
  /** The write is now a sibling (possibly replacing dominated ones). */
  Stored: "stored",
  /** A stored sibling already happened after this write: nothing to do. */
  Dominated: "dominated",
  /** Same clock as a stored sibling: the same write delivered again. */
  Duplicate: "duplicate",
  /** Same clock, different value (per `valueEquals`): a writer reused a
   *  version (e.g. lost its counter on reboot). Rejected, set unchanged. */
  ClockReused: "clock-reused",
  /** Keeping it would exceed `siblingsMax`: rejected, set unchanged; the
   *  caller must resolve the conflict (or report it), not drop data. */
  SiblingsMax: "siblings-max",
} as const);
export type WriteOutcome = (typeof WriteOutcome)[keyof typeof WriteOutcome];

export interface WriteResult<T> {
  outcome: WriteOutcome;
  /** The new sibling set (the input array itself when unchanged). */
  siblings: readonly Versioned<T>[];
  /** How many stored siblings the write superseded. */
  superseded: number;
}

export interface SiblingOptions<T> {
  /** Most concurrent values kept for one key. */
  siblingsMax?: number;
  /** Used only on equal clocks to tell redelivery from a reused version. */
  valueEquals?: (a: T, b: T) => boolean;
}

export const siblingsMaxDefault = 8;

/** Applies one incoming write to a stored sibling set (input not mutated). */
export function applyWrite<T>(
  siblings: readonly Versioned<T>[],
  incoming: Versioned<T>,
  opts: SiblingOptions<T> = {},
): WriteResult<T> {
  const siblingsMax = opts.siblingsMax ?? siblingsMaxDefault;
  const orders: Order[] = [];
  for (const s of siblings) {
    const o = incoming.clock.compare(s.clock);
    if (o === Order.Before) return { outcome: WriteOutcome.Dominated, siblings, superseded: 0 };
    if (o === Order.Equal) {
      const same = opts.valueEquals ? opts.valueEquals(incoming.value, s.value) : true;
      return { outcome: same ? WriteOutcome.Duplicate : WriteOutcome.ClockReused, siblings, superseded: 0 };
    }
    orders.push(o);
  }
  const next: Versioned<T>[] = [];
  for (let i = 0; i < siblings.length; i++) if (orders[i] === Order.Concurrent) next.push(siblings[i]!);
  if (next.length + 1 > siblingsMax) return { outcome: WriteOutcome.SiblingsMax, siblings, superseded: 0 };
  next.push(incoming);
  return { outcome: WriteOutcome.Stored, siblings: next, superseded: siblings.length - (next.length - 1) };
}

/** Joins two replicas' sibling sets (anti-entropy between shadow copies).
 *  Writes that would exceed `siblingsMax` are returned in `rejected`. */
export function mergeSiblingSets<T>(
  a: readonly Versioned<T>[],
  b: readonly Versioned<T>[],
  opts: SiblingOptions<T> = {},
): { siblings: readonly Versioned<T>[]; changed: boolean; rejected: Versioned<T>[] } {
  let cur = a;
  let changed = false;
  const rejected: Versioned<T>[] = [];
  for (const w of b) {
    const r = applyWrite(cur, w, opts);
    if (r.outcome === WriteOutcome.Stored) {
      cur = r.siblings;
      changed = true;
    } else if (r.outcome === WriteOutcome.SiblingsMax || r.outcome === WriteOutcome.ClockReused) rejected.push(w);
  }
  return { siblings: cur, changed, rejected };
}

/** The join of all sibling clocks: what a reader has "seen". */
export function causalContext<T>(siblings: readonly Versioned<T>[], limits: Partial<VectorClockLimits> = {}): VectorClock {
  const ctx = new VectorClock(limits);
  for (const s of siblings) ctx.merge(s.clock);
  return ctx;
}

/** Clock for a new write by `actor` after reading `siblings`: dominates them
 *  all, so storing it replaces the whole set (conflict resolved). */
export function clockForWrite<T>(siblings: readonly Versioned<T>[], actor: string, limits: Partial<VectorClockLimits> = {}): VectorClock {
  const c = causalContext(siblings, limits);
  c.increment(actor);
  return c;
}
