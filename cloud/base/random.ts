// Seeded pseudo-random numbers for pure cores and simulations. sfc32 (Chris
// Doty-Humphrey's small fast counter): 128-bit state, passes PractRand, and
// reproducible from a 32-bit seed, so a failing simulation is replayed from
// the seed it printed.

/** Injected randomness: a function returning a uniform float in [0, 1). */
export type RandomSource = () => number;

/** A seeded generator of floats in [0, 1). */
export function seededRandom(seed: number): RandomSource {
  if (!Number.isInteger(seed)) throw new Error(`seededRandom: seed must be an integer, got ${seed}`);
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return (r >>> 0) / 4294967296;
  };
  // Discard the first outputs: they still carry the structure of the seed.
  for (let i = 0; i < 15; i++) next();
  return next;
}

/** Uniform integer in [0, n). */
export function randomInt(random: RandomSource, n: number): number {
  if (!(n > 0)) throw new Error(`randomInt: n must be > 0, got ${n}`);
  return Math.floor(random() * n);
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace<T>(random: RandomSource, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}

/** Standard normal variate (Box–Muller). */
export function randomNormal(random: RandomSource): number {
  let u = random();
  while (u === 0) u = random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A seeded generator with the draws simulations make; `fork` derives an
 *  independent stream, so adding draws to one part of a simulation does not
 *  shift the choices of another. */
export class Prng {
  readonly #next: RandomSource;

  constructor(seed: number) {
    this.#next = seededRandom(seed >>> 0);
  }

  /** Float in [0, 1). */
  float(): number {
    return this.#next();
  }

  /** Integer in [0, 2^32). */
  u32(): number {
    return Math.floor(this.#next() * 4294967296);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return randomInt(this.#next, n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.#next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error("prng: pick from an empty list");
    return xs[this.int(xs.length)]!;
  }

  /** An independent stream derived from this one. */
  fork(): Prng {
    return new Prng(this.u32());
  }

  /** As a plain RandomSource (for cores that take one). */
  source(): RandomSource {
    return this.#next;
  }
}
