// Exact floating-point sum (Shewchuk's partials, as Python's math.fsum).
//
// Contract: the result is the correctly rounded sum of every value added, so
// it does not depend on the order values arrive in. That is what lets a window
// fed out-of-order give exactly the same `sum`/`mean` as one fed in order (a
// plain `+=` differs in the last bits). Only + - and comparisons: identical on
// XS and Node. Values must be finite and |v| <= valueAbsMax (callers check);
// the partials stay few (at most ~40 for doubles) and are JSON-safe.

/** Largest |value| windows accept: the exact sum of 2^53 of them cannot overflow. */
export const valueAbsMax = 1e290;

/** Adds x to the partials in place (non-overlapping, increasing magnitude). */
export function exactAdd(partials: number[], x: number): void {
  let i = 0;
  for (let j = 0; j < partials.length; j++) {
    let y = partials[j]!;
    if (Math.abs(x) < Math.abs(y)) {
      const t = x;
      x = y;
      y = t;
    }
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) partials[i++] = lo;
    x = hi;
  }
  partials.length = i;
  partials.push(x);
}

/** Merges another partials list into `into` (exact, order-independent result). */
export function exactMerge(into: number[], other: readonly number[]): void {
  for (const x of other) exactAdd(into, x);
}

/** The correctly rounded value of the partials (fsum's final rounding). */
export function exactValue(partials: readonly number[]): number {
  let n = partials.length;
  if (n === 0) return 0;
  n -= 1;
  let hi = partials[n]!;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    n -= 1;
    const y = partials[n]!;
    hi = x + y;
    const yr = hi - x;
    lo = y - yr;
    if (lo !== 0) break;
  }
  if (n > 0 && ((lo < 0 && partials[n - 1]! < 0) || (lo > 0 && partials[n - 1]! > 0))) {
    const y = lo * 2;
    const x = hi + y;
    const yr = x - hi;
    if (y === yr) hi = x;
  }
  return hi === 0 ? 0 : hi; // no -0 in results
}
