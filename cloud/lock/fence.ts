// A fenced resource in Kleppmann's sense ("How to do distributed locking",
// 2016): the storage remembers the largest fencing token it has accepted
// and rejects any write carrying a smaller one. This is what makes a lock
// safe against a holder that was paused past its TTL: the lock service
// cannot stop the zombie from writing, the resource can.
//
// The in-memory version here is the reference semantics (and what the
// conformance suite writes to); a real resource keeps `highestToken` next to
// the data it guards, updated atomically with each write (a column, a
// JetStream KV revision check, a Redis script).

export type FencedWriteResult = { ok: true } | { ok: false; error: "stale-token"; highestToken: number };

/** The fencing rule every fenced resource applies: a token below the highest
 *  accepted one is stale (the same holder may write many times). */
export function isStaleToken(token: number, highestToken: number): boolean {
  return token < highestToken;
}

export class FencedResource<V> {
  #highestToken = 0;
  #value: V | undefined;
  /** Accepted writes, for tests and audits; bounded. */
  readonly #history: { token: number; value: V }[] = [];
  readonly #historyMax: number;

  constructor(historyMax = 1024) {
    if (!Number.isSafeInteger(historyMax) || historyMax < 0) throw new RangeError(`historyMax must be a non-negative integer, got ${historyMax}`);
    this.#historyMax = historyMax;
  }

  get highestToken(): number {
    return this.#highestToken;
  }

  get value(): V | undefined {
    return this.#value;
  }

  get history(): readonly { token: number; value: V }[] {
    return this.#history;
  }

  /** Accepts tokens >= the highest seen (the same holder may write many times). */
  write(token: number, value: V): FencedWriteResult {
    if (!Number.isSafeInteger(token) || token < 1) throw new RangeError(`fencing token must be a positive integer, got ${token}`);
    if (isStaleToken(token, this.#highestToken)) return { ok: false, error: "stale-token", highestToken: this.#highestToken };
    this.#highestToken = token;
    this.#value = value;
    if (this.#history.length === this.#historyMax) this.#history.shift();
    if (this.#historyMax > 0) this.#history.push({ token, value });
    return { ok: true };
  }
}
