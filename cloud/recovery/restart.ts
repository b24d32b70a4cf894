// Restart policy, the pure core (Erlang/OTP supervisor intensity + AWS-style
// backoff): a unit that exits is restarted after an exponentially growing,
// jittered delay; more than `attemptsMax` failures without a stable run of
// `resetAfterMs` in between escalates (the caller gives up its lease or
// marks the node unhealthy, so failover or replacement takes over).

import type { RandomSource } from "../base";

export interface RestartConfig {
  /** Restarts allowed before escalating; the count resets after a stable run. */
  readonly attemptsMax: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Fraction of each delay that is random: 0 = none, 1 = "full jitter". */
  readonly jitterRatio: number;
  /** A run at least this long counts as stable: the attempt count resets. */
  readonly resetAfterMs: number;
}

export const DEFAULT_RESTART_CONFIG: RestartConfig = Object.freeze({
  attemptsMax: 5,
  backoffBaseMs: 200,
  backoffMaxMs: 30_000,
  jitterRatio: 0.5,
  resetAfterMs: 60_000,
});

export function restartConfig(overrides: Partial<RestartConfig> = {}): RestartConfig {
  const c = { ...DEFAULT_RESTART_CONFIG, ...overrides };
  const fail = (m: string): never => {
    throw new Error(`invalid restart config: ${m}`);
  };
  if (!Number.isSafeInteger(c.attemptsMax) || c.attemptsMax < 0) fail(`attemptsMax must be an integer >= 0, got ${c.attemptsMax}`);
  if (!Number.isSafeInteger(c.backoffBaseMs) || c.backoffBaseMs < 1) fail(`backoffBaseMs must be a positive integer`);
  if (!Number.isSafeInteger(c.backoffMaxMs) || c.backoffMaxMs < c.backoffBaseMs) fail(`backoffMaxMs must be an integer >= backoffBaseMs`);
  if (!(c.jitterRatio >= 0 && c.jitterRatio <= 1)) fail(`jitterRatio must be in [0, 1], got ${c.jitterRatio}`);
  if (!Number.isSafeInteger(c.resetAfterMs) || c.resetAfterMs < 1) fail(`resetAfterMs must be a positive integer`);
  return Object.freeze(c);
}

export type RestartDecision =
  | { readonly type: "restart"; readonly attempt: number; readonly delayMs: number }
  | { readonly type: "escalate"; readonly attempts: number };

/** Un-jittered delay before restart number `attempt` (1-based). */
export function backoffCeilingMs(c: RestartConfig, attempt: number): number {
  // 2^52 overflows nothing, but cap the exponent so huge attempts stay cheap.
  return Math.min(c.backoffMaxMs, c.backoffBaseMs * 2 ** Math.min(attempt - 1, 52));
}

export class RestartPolicy {
  readonly config: RestartConfig;
  readonly #random: RandomSource;
  /** Invariant: 0 <= #attempts <= attemptsMax + 1. */
  #attempts = 0;
  #startedAtMs: number | undefined;
  #escalated = false;

  constructor(config: RestartConfig, random: RandomSource) {
    this.config = config;
    this.#random = random;
  }

  get attempts(): number {
    return this.#attempts;
  }
  get escalated(): boolean {
    return this.#escalated;
  }

  started(nowMs: number): void {
    if (this.#escalated) throw new Error("RestartPolicy: started after escalation");
    this.#startedAtMs = nowMs;
  }

  /** The unit exited (or failed to start) at nowMs: what now? */
  exited(nowMs: number): RestartDecision {
    if (this.#escalated) throw new Error("RestartPolicy: exited after escalation");
    if (this.#startedAtMs !== undefined && nowMs - this.#startedAtMs >= this.config.resetAfterMs) this.#attempts = 0;
    this.#startedAtMs = undefined;
    this.#attempts++;
    if (this.#attempts > this.config.attemptsMax) {
      this.#escalated = true;
      return { type: "escalate", attempts: this.#attempts - 1 };
    }
    const ceiling = backoffCeilingMs(this.config, this.#attempts);
    const fixed = ceiling * (1 - this.config.jitterRatio);
    const delayMs = Math.floor(fixed + this.#random() * (ceiling - fixed));
    return { type: "restart", attempt: this.#attempts, delayMs };
  }

  /** After an operator fixed the cause: start counting afresh. */
  reset(): void {
    this.#attempts = 0;
    this.#escalated = false;
    this.#startedAtMs = undefined;
  }
}
