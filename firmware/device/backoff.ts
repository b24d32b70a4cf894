// Reconnect delays: exponential backoff with full jitter and a cap
// (delay = random in [0, min(cap, base * 2^attempt)]), as in "Exponential
// Backoff And Jitter" (AWS Architecture Blog). Full jitter spreads a fleet
// that lost the broker at the same instant, so it does not reconnect in
// lock-step. Pure: the caller supplies the random number.
import type { Random } from "../platform";

export interface BackoffPolicy {
  /** Ceiling of the first retry's window. */
  baseMs: number;
  /** No window is wider than this. */
  capMs: number;
}

export const backoffDefaults: BackoffPolicy = Object.freeze({ baseMs: 500, capMs: 30_000 });

/** The exponent stops growing here; 2^20 * base is far beyond any cap. */
const attemptExponentMax = 20;

export function checkBackoffPolicy(p: BackoffPolicy): BackoffPolicy {
  if (!(p.baseMs >= 1 && Number.isSafeInteger(p.baseMs))) throw new Error(`backoff baseMs must be a positive integer, got ${p.baseMs}`);
  if (!(p.capMs >= p.baseMs && Number.isSafeInteger(p.capMs))) throw new Error(`backoff capMs must be an integer >= baseMs, got ${p.capMs}`);
  return p;
}

/** Upper bound of the jitter window for a 0-based attempt number. */
export function backoffWindowMs(p: BackoffPolicy, attempt: number): number {
  const e = attempt < attemptExponentMax ? attempt : attemptExponentMax;
  const w = p.baseMs * 2 ** e;
  return w < p.capMs ? w : p.capMs;
}

/** Full-jitter delay for `attempt` (0 = first retry): uniform in [0, window]. */
export function backoffDelayMs(p: BackoffPolicy, attempt: number, random: Random): number {
  const w = backoffWindowMs(p, attempt);
  // u32 / 2^32 is in [0, 1); scale to [0, w] inclusive.
  return Math.floor((random.u32() / 4294967296) * (w + 1));
}

/** Tracks the attempt count: grows on each failure, resets on success. */
export class Backoff {
  readonly #policy: BackoffPolicy;
  readonly #random: Random;
  #attempt = 0;

  constructor(policy: BackoffPolicy, random: Random) {
    this.#policy = checkBackoffPolicy(policy);
    this.#random = random;
  }

  get attempt(): number {
    return this.#attempt;
  }

  /** Delay before the next attempt; counts the attempt. */
  next(): number {
    const d = backoffDelayMs(this.#policy, this.#attempt, this.#random);
    this.#attempt++;
    return d;
  }

  reset(): void {
    this.#attempt = 0;
  }
}
