// Exactly-once bookkeeping of one device's seqs (docs/delivery.md,
// "Exactly-once rules"): the current epoch, the last `retiredEpochsMax`
// retired ones, and for the current epoch a record {floor, ranges} — every
// seq <= floor is settled (the device will never send it again), `ranges`
// are the exact seqs recorded above it. Pure; the record is stored inside the
// device state (cloud/state StoredDedup), so one compare-and-set covers
// "effect applied" and "seq recorded" together.
//
// For a message (epoch e, seq s, settled_below b), `admitSeq` decides:
//   1. e retired                       -> RetiredEpoch (ignored, no receipt);
//   2. e != current, not retired       -> new epoch (current retired, record
//      reset; 0 -> e carries the record over: seqs continue), unless the
//      message was stored no later than the current epoch's first message
//      (JetStream time): then e is older, retired and ignored;
//   3. floor = max(floor, b - 1);
//   4. s <= floor -> Settled; s recorded -> Duplicate;
//      s > hwm + seqJumpMax -> SeqJump (quarantined; hwm = highest recorded
//      seq, or the floor);
//   5. otherwise New: the caller applies it and calls `recordSeq`.
// The jump check runs first, against the record the message would meet
// (after a reset for a new epoch), and a quarantined message changes
// nothing: neither the epoch, nor the floor, nor the hwm. So one message
// with seq 2^31 (or settled_below 2^31) cannot poison the device.
//
// Bounds: retiredEpochs <= retiredEpochsMax; ranges <= dedupRangesMax (the
// lowest ranges are merged into the floor, counted as overflow: only a
// legacy device without settled_below gets there). Invariants of the record:
// see StoredDedup (cloud/state/types.ts); `checkDedup` asserts them.
import type { StoredDedup } from "../state";

/** Retired epochs remembered per device; a message of one of them is ignored. */
export const retiredEpochsMax = 4;

export const DedupVerdict = Object.freeze({
  /** First time: apply, then recordSeq. */
  New: 0,
  /** Recorded above the floor: no effect, confirm. */
  Duplicate: 1,
  /** At or below the floor: no effect, confirm. */
  Settled: 2,
  /** A seq far beyond the hwm: dead-letter `seq-jump`, reject; nothing changes. */
  SeqJump: 3,
  /** An epoch the device left: ignored, no receipt. */
  RetiredEpoch: 4,
} as const);
export type DedupVerdict = (typeof DedupVerdict)[keyof typeof DedupVerdict];

export interface DedupLimits {
  /** Ranges kept above the floor. */
  dedupRangesMax: number;
  /** Largest accepted distance of a seq above the hwm. */
  seqJumpMax: number;
}

export interface Admission {
  verdict: DedupVerdict;
  /** The current epoch changed (to the message's). */
  epochChanged: boolean;
  /** The old epoch was 0 and its record was carried over. */
  carriedOver: boolean;
}

/** Highest recorded seq, or the floor. */
export function hwmOf(d: StoredDedup): number {
  const last = d.ranges[d.ranges.length - 1];
  return last ? last[1] : d.floor;
}

/** Index of the range holding `seq`, or -1. */
function findRange(ranges: ReadonlyArray<readonly [number, number]>, seq: number): number {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const r = ranges[mid]!;
    if (seq < r[0]) hi = mid - 1;
    else if (seq > r[1]) lo = mid + 1;
    else return mid;
  }
  return -1;
}

export function isRecorded(d: StoredDedup, seq: number): boolean {
  return seq <= d.floor || findRange(d.ranges, seq) >= 0;
}

/** Steps 1-4 for one message; mutates `d` (epoch change, floor) unless the
 *  verdict is RetiredEpoch or SeqJump. `settledBelow` must be <= seq (the
 *  decoder checks it); `timeMs` is the message's JetStream time;
 *  `epochHint` is the settled_below the device sent (the caller passes 0 as
 *  `settledBelow` for a refused message, whose floor is not trusted). */
export function admitSeq(d: StoredDedup, epoch: number, seq: number, settledBelow: number, timeMs: number, lim: DedupLimits, epochHint = settledBelow): Admission {
  if (epoch !== d.epoch && d.retiredEpochs.includes(epoch)) return { verdict: DedupVerdict.RetiredEpoch, epochChanged: false, carriedOver: false };
  const newEpoch = epoch !== d.epoch;
  // A message of an unknown epoch stored no later than the message that
  // started the current epoch is older than it (a redelivery, a nak): its
  // epoch is retired, not started, or the device would flip back and lose
  // its current epoch. (epochSinceMs 0: no epoch started yet, or a record
  // migrated from v1.)
  if (newEpoch && d.epochSinceMs > 0 && timeMs <= d.epochSinceMs) {
    retire(d, epoch);
    return { verdict: DedupVerdict.RetiredEpoch, epochChanged: false, carriedOver: false };
  }
  // 0 -> e keeps the record of a legacy device (its seqs continue): the
  // upgraded device re-stamps what it still holds, so its settled_below is
  // above 1 (its first seq is long gone). A legacy device wiped and flashed
  // with new firmware starts over at 1 and says settled_below 1 until the
  // cloud confirmed its seq 1 of e: then e is fresh, or its first seqs would
  // count as recorded and be lost. (An upgraded device still holding its
  // seq 1 is taken for a wiped one: its old seqs may be applied again.)
  // An empty record of 0 is a device seen for the first time: e starts fresh.
  const carry = newEpoch && d.epoch === 0 && (d.floor > 0 || d.ranges.length > 0) && epochHint > 1;
  // The hwm the message meets: a new epoch starts over at 0 unless it carries 0's record.
  const hwm = newEpoch && !carry ? 0 : hwmOf(d);
  if (seq > hwm + lim.seqJumpMax) return { verdict: DedupVerdict.SeqJump, epochChanged: false, carriedOver: false };
  if (newEpoch) {
    // 0 is retired too: a legacy message still queued behind the first
    // message of e must not flip the device back (and then retire e).
    retire(d, d.epoch);
    d.epoch = epoch;
    d.epochSinceMs = timeMs;
    if (!carry) {
      d.floor = 0;
      d.ranges = [];
    }
  }
  raiseFloor(d, settledBelow - 1);
  const verdict = seq <= d.floor ? DedupVerdict.Settled : findRange(d.ranges, seq) >= 0 ? DedupVerdict.Duplicate : DedupVerdict.New;
  return { verdict, epochChanged: newEpoch, carriedOver: carry };
}

function retire(d: StoredDedup, epoch: number): void {
  d.retiredEpochs.push(epoch);
  if (d.retiredEpochs.length > retiredEpochsMax) d.retiredEpochs.shift();
}

/** Step 3: every seq <= floor is settled; ranges at or below it go. */
export function raiseFloor(d: StoredDedup, floor: number): void {
  if (floor > d.floor) {
    d.floor = floor;
    let drop = 0;
    while (drop < d.ranges.length && d.ranges[drop]![1] <= floor) drop++;
    if (drop > 0) d.ranges.splice(0, drop);
    const first = d.ranges[0];
    if (first && first[0] <= floor) first[0] = floor + 1;
  }
  absorbIntoFloor(d);
}

/** A range that starts right above the floor becomes floor (the record stays minimal). */
function absorbIntoFloor(d: StoredDedup): void {
  const first = d.ranges[0];
  if (first && first[0] === d.floor + 1) {
    d.floor = first[1];
    d.ranges.shift();
  }
}

/** Step 5: records `seq` (admitted New). Returns the ranges merged into the
 *  floor because the record would exceed dedupRangesMax (0 normally). */
export function recordSeq(d: StoredDedup, seq: number, lim: Pick<DedupLimits, "dedupRangesMax">): number {
  if (!(Number.isSafeInteger(seq) && seq > d.floor)) throw new Error(`recordSeq(${seq}) at or below floor ${d.floor}`);
  const r = d.ranges;
  // First range ending at or after seq - 1.
  let lo = 0;
  let hi = r.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (r[mid]![1] < seq - 1) lo = mid + 1;
    else hi = mid;
  }
  const at = r[lo];
  if (at && at[0] <= seq && seq <= at[1]) throw new Error(`recordSeq(${seq}): already recorded`);
  if (at && at[1] === seq - 1) {
    at[1] = seq;
    const next = r[lo + 1];
    if (next && next[0] === seq + 1) {
      at[1] = next[1];
      r.splice(lo + 1, 1);
    }
  } else if (at && at[0] === seq + 1) {
    at[0] = seq;
  } else {
    r.splice(lo, 0, [seq, seq]);
  }
  absorbIntoFloor(d);
  let overflow = 0;
  while (r.length > lim.dedupRangesMax) {
    d.floor = r.shift()![1];
    overflow++;
  }
  return overflow;
}

/** Asserts the record's invariants (tests, simulation); returns the first broken one. */
export function checkDedup(d: StoredDedup, lim: Pick<DedupLimits, "dedupRangesMax">): string | null {
  if (d.retiredEpochs.length > retiredEpochsMax) return `${d.retiredEpochs.length} retired epochs`;
  if (d.retiredEpochs.includes(d.epoch)) return `current epoch ${d.epoch} is retired`;
  if (d.ranges.length > lim.dedupRangesMax) return `${d.ranges.length} ranges > ${lim.dedupRangesMax}`;
  let prev = d.floor + 1; // the first range must start above floor + 1
  for (const [a, b] of d.ranges) {
    if (!(a > prev && b >= a)) return `range ${a}..${b} after ${prev - 1} (floor ${d.floor})`;
    prev = b + 1;
  }
  return null;
}
