// The one structure under G-Counter and vector clock: replica id → positive
// safe integer (absent means 0; zero entries are never stored, so the map is
// canonical). Merge is pointwise max, the order is pointwise ≤.
//
// Encoding (canonical: ids strictly ascending, counts ≥ 1, minimal varints):
//   varint entryCount, then per entry: u8 idLength, id ASCII bytes, varint count

import { CrdtError, CrdtErrorCode, Reader, Writer, checkReplicaId, varintSize } from "./wire";

export type CountMap = Map<string, number>;

/** Result of comparing two states in a partial order. */
export const Order = Object.freeze({
  Before: "before",
  After: "after",
  Equal: "equal",
  Concurrent: "concurrent",
} as const);
export type Order = (typeof Order)[keyof typeof Order];

/** Default bound on entries per map; devices may lower it. */
export const replicasMaxDefault = 256;

export function compareMaps(a: CountMap, b: CountMap): Order {
  let aAhead = false;
  let bAhead = false;
  for (const [k, va] of a) {
    const vb = b.get(k) ?? 0;
    if (va > vb) aAhead = true;
    else if (va < vb) bAhead = true;
  }
  if (!bAhead) {
    for (const k of b.keys()) {
      if (!a.has(k)) {
        bAhead = true; // stored counts are ≥ 1
        break;
      }
    }
  }
  if (aAhead) return bAhead ? Order.Concurrent : Order.After;
  return bAhead ? Order.Before : Order.Equal;
}

/** a ≤ b pointwise. */
export function lessOrEqual(a: CountMap, b: CountMap): boolean {
  for (const [k, va] of a) if (va > (b.get(k) ?? 0)) return false;
  return true;
}

/** Order of a pair given the order of each half (PN-Counter = P × N). */
export function combineOrder(x: Order, y: Order): Order {
  if (x === Order.Equal) return y;
  if (y === Order.Equal || x === y) return x;
  return Order.Concurrent;
}

/**
 * Checks that merging `source` into `target` stays within limits, without
 * touching either; throws CrdtError (ReplicasMax / Overflow) otherwise.
 * Returns the increase of the sum of counts the merge would cause (0 ⇔ no-op).
 */
export function checkMerge(target: CountMap, source: CountMap, replicasMax: number, targetTotal: number): number {
  let added = 0;
  let increase = 0;
  for (const [k, vs] of source) {
    const vt = target.get(k);
    if (vt === undefined) {
      added++;
      increase += vs;
    } else if (vs > vt) increase += vs - vt;
  }
  if (increase === 0) return 0;
  if (target.size + added > replicasMax) {
    throw new CrdtError(CrdtErrorCode.ReplicasMax, `merge would hold ${target.size + added} replicas, limit replicasMax=${replicasMax}`);
  }
  if (targetTotal + increase > Number.MAX_SAFE_INTEGER) {
    throw new CrdtError(CrdtErrorCode.Overflow, "merge would push the total past 2^53-1");
  }
  return increase;
}

/**
 * Merges `source` into `target` (pointwise max). Checks limits first so a
 * rejected merge leaves `target` untouched. Returns the increase of the sum of
 * counts (0 ⇔ unchanged), which G-Counter uses to keep its total current.
 */
export function mergeInto(target: CountMap, source: CountMap, replicasMax: number, targetTotal: number): number {
  const increase = checkMerge(target, source, replicasMax, targetTotal);
  if (increase === 0) return 0;
  for (const [k, vs] of source) {
    const vt = target.get(k);
    if (vt === undefined || vs > vt) target.set(k, vs);
  }
  return increase;
}

/** Entries of `a` that are larger than in `known`: merging the result into
 *  `known` gives the same state as merging all of `a`. */
export function deltaMap(a: CountMap, known: CountMap): CountMap {
  const d: CountMap = new Map();
  for (const [k, v] of a) if (v > (known.get(k) ?? 0)) d.set(k, v);
  return d;
}

/** Adds `by` to `id`; returns the new count. Validates id, amount and limits. */
export function incrementMap(m: CountMap, id: string, by: number, replicasMax: number, total: number): number {
  if (!Number.isSafeInteger(by) || by < 0) throw new CrdtError(CrdtErrorCode.InvalidArgument, `increment must be a non-negative safe integer, got ${by}`);
  const cur = m.get(id);
  if (cur === undefined) {
    checkReplicaId(id);
    if (by === 0) return 0;
    if (m.size >= replicasMax) throw new CrdtError(CrdtErrorCode.ReplicasMax, `replica ${id} would exceed replicasMax=${replicasMax}`);
  }
  const next = (cur ?? 0) + by;
  if (next > Number.MAX_SAFE_INTEGER || total + by > Number.MAX_SAFE_INTEGER) {
    throw new CrdtError(CrdtErrorCode.Overflow, `incrementing ${id} by ${by} would pass 2^53-1`);
  }
  if (by > 0) m.set(id, next);
  return next;
}

export function sumMap(m: CountMap): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}

export function sortedKeys(m: CountMap): string[] {
  // Ids are ASCII, so UTF-16 code unit order is byte order: canonical bytes.
  return Array.from(m.keys()).sort();
}

export function mapsEqual(a: CountMap, b: CountMap): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

export function encodedMapSize(m: CountMap): number {
  let size = varintSize(m.size);
  for (const [k, v] of m) size += 1 + k.length + varintSize(v);
  return size;
}

export function writeMap(w: Writer, m: CountMap): void {
  w.varint(m.size);
  for (const k of sortedKeys(m)) {
    w.ascii(k);
    w.varint(m.get(k)!);
  }
}

export function encodeMap(m: CountMap): Uint8Array {
  const w = new Writer(encodedMapSize(m));
  writeMap(w, m);
  return w.finish();
}

/** Reads one map; `what` names the value in errors. Checks the entry count
 *  against `replicasMax` before reading entries, so hostile input cannot make
 *  the decoder allocate more than the limit. */
export function readMap(r: Reader, replicasMax: number, what: string, map: CountMap = new Map()): { map: CountMap; total: number } {
  const start = r.offset;
  const n = r.varint();
  if (n > replicasMax) throw new CrdtError(CrdtErrorCode.ReplicasMax, `${what} declares ${n} replicas, limit replicasMax=${replicasMax}`, start);
  // Every entry takes at least 3 bytes (length, one id char, one varint byte).
  if (n * 3 > r.remaining) throw new CrdtError(CrdtErrorCode.Truncated, `${what} declares ${n} replicas but only ${r.remaining} bytes follow`, start);
  let total = 0;
  let prev = "";
  for (let i = 0; i < n; i++) {
    const at = r.offset;
    const id = r.replicaId();
    if (i > 0 && !(id > prev)) throw new CrdtError(CrdtErrorCode.NonCanonical, `${what} replica ids not strictly ascending (${prev}, ${id})`, at);
    const countAt = r.offset;
    const count = r.varint();
    if (count === 0) throw new CrdtError(CrdtErrorCode.NonCanonical, `${what} has a zero count for ${id}`, countAt);
    total += count;
    if (total > Number.MAX_SAFE_INTEGER) throw new CrdtError(CrdtErrorCode.Overflow, `${what} total passes 2^53-1`, countAt);
    map.set(id, count);
    prev = id;
  }
  return { map, total };
}

export function checkReplicasMax(replicasMax: number): number {
  if (!Number.isSafeInteger(replicasMax) || replicasMax < 1) {
    throw new CrdtError(CrdtErrorCode.InvalidArgument, `replicasMax must be a positive integer, got ${replicasMax}`);
  }
  return replicasMax;
}
