// An in-memory FencedStore for tests whose subject is the lock, not the
// store: judgeFencedWrite (the rule both product stores apply) over a Map.
// The product stores (NATS KV, Redis) have their own tests against the real
// servers (fenced-stores.test.ts, fenced-rmw.test.ts).
import { FencedOutcome, VERSION_ABSENT, isStaleToken, judgeFencedWrite, type FencedCasResult, type FencedEntry, type FencedStore } from "../../../cloud/lock";

export class MemoryFencedStore<V> implements FencedStore<V> {
  readonly #entries = new Map<string, FencedEntry<V>>();

  async read(key: string): Promise<FencedEntry<V> | undefined> {
    return this.#entries.get(key);
  }

  async compareAndSet(key: string, token: number, expectedVersion: number, writer: string, value: V): Promise<FencedCasResult> {
    const cur = this.#entries.get(key);
    const verdict = judgeFencedWrite(cur, token, expectedVersion);
    if (verdict === FencedOutcome.StaleToken) return { ok: false, error: verdict, highestToken: cur!.token, by: "resource" };
    if (verdict === FencedOutcome.VersionConflict) return { ok: false, error: verdict, version: cur?.version ?? VERSION_ABSENT };
    return this.#put(key, token, writer, value, cur);
  }

  async writeTokenOnly(key: string, token: number, writer: string, value: V): Promise<FencedCasResult> {
    const cur = this.#entries.get(key);
    if (cur && isStaleToken(token, cur.token)) return { ok: false, error: FencedOutcome.StaleToken, highestToken: cur.token, by: "resource" };
    return this.#put(key, token, writer, value, cur);
  }

  #put(key: string, token: number, writer: string, value: V, cur: FencedEntry<V> | undefined): FencedCasResult {
    const version = (cur?.version ?? VERSION_ABSENT) + 1;
    this.#entries.set(key, { value, token, version, writer });
    return { ok: true, version };
  }
}
