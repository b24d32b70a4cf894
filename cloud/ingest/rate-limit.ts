// Per-device rate limit of ingest (docs/delivery.md, "Per-device limits"):
// a token bucket per device, `ratePerSec` refill and `burst` capacity,
// checked before a message is decoded. Time is the message's JetStream
// timestamp, so the decision is a function of the stream (deterministic: a
// node replaying the same messages decides the same, tests need no clock).
// Over the limit the caller acks the message without effect or receipt; the
// device retransmits it later with its backoff.
//
// Bounds: at most `devicesMax` buckets; the least recently used is dropped
// when full (it starts full again when its device returns: a forgotten
// device gets at most one extra burst). Time going backwards (redelivery of
// an older message) refills nothing.
import type { RateLimitPort } from "./pipeline";

export interface RateLimitOptions {
  ratePerSec: number;
  burst: number;
  devicesMax: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

export class DeviceRateLimiter implements RateLimitPort {
  readonly #o: RateLimitOptions;
  /** Insertion order = recency (a hit moves its device to the end). */
  readonly #buckets = new Map<string, Bucket>();
  /** Messages refused so far. */
  limited = 0;

  constructor(o: RateLimitOptions) {
    if (!(o.ratePerSec > 0 && Number.isFinite(o.ratePerSec))) throw new Error(`ratePerSec must be > 0, got ${o.ratePerSec}`);
    if (!(o.burst >= 1 && Number.isFinite(o.burst))) throw new Error(`burst must be >= 1, got ${o.burst}`);
    if (!(Number.isInteger(o.devicesMax) && o.devicesMax >= 1)) throw new Error(`devicesMax must be a positive integer, got ${o.devicesMax}`);
    this.#o = { ...o };
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token for `deviceId` at `timeMs`; false when the bucket is empty. */
  take(deviceId: string, timeMs: number): boolean {
    const { ratePerSec, burst, devicesMax } = this.#o;
    let b = this.#buckets.get(deviceId);
    if (b) {
      this.#buckets.delete(deviceId);
      if (timeMs > b.atMs) {
        b.tokens = Math.min(burst, b.tokens + ((timeMs - b.atMs) * ratePerSec) / 1000);
        b.atMs = timeMs;
      }
    } else {
      if (this.#buckets.size >= devicesMax) this.#buckets.delete(this.#buckets.keys().next().value!);
      b = { tokens: burst, atMs: timeMs };
    }
    this.#buckets.set(deviceId, b);
    if (b.tokens < 1) {
      this.limited++;
      return false;
    }
    b.tokens -= 1;
    return true;
  }
}
