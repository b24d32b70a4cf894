// Bounds on how fast provisioning requests are served, pure (time is a
// parameter): a token bucket for a node's whole request rate, and a
// per-claim attempt counter over a fixed window whose table is bounded
// (the oldest windows are dropped first when it is full).

export class TokenBucket {
  readonly ratePerSec: number;
  readonly burst: number;
  #tokens: number;
  #lastMs: number;

  constructor(ratePerSec: number, burst: number, nowMs: number) {
    if (!(ratePerSec > 0) || !(burst >= 1)) throw new Error(`token bucket needs rate > 0 and burst >= 1, got ${ratePerSec}/${burst}`);
    this.ratePerSec = ratePerSec;
    this.burst = burst;
    this.#tokens = burst;
    this.#lastMs = nowMs;
  }

  /** Takes one token if there is one. */
  take(nowMs: number): boolean {
    const elapsed = Math.max(0, nowMs - this.#lastMs);
    this.#lastMs = Math.max(this.#lastMs, nowMs);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.ratePerSec) / 1000);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is available. */
  waitMs(): number {
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) * 1000) / this.ratePerSec);
  }
}

/** Attempts per key within a window; at most `keysMax` keys tracked. */
export class AttemptCounter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #keysMax: number;
  readonly #windows = new Map<string, { startMs: number; count: number }>();

  constructor(max: number, windowMs: number, keysMax = 10_000) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#keysMax = keysMax;
  }

  /** Counts an attempt; false when the key already used its attempts in this window. */
  allow(key: string, nowMs: number): boolean {
    let w = this.#windows.get(key);
    if (!w || nowMs - w.startMs >= this.#windowMs) {
      if (w) this.#windows.delete(key);
      if (this.#windows.size >= this.#keysMax) this.#windows.delete(this.#windows.keys().next().value!);
      w = { startMs: nowMs, count: 0 };
      this.#windows.set(key, w); // insertion order = age order
    }
    w.count++;
    return w.count <= this.#max;
  }
}
