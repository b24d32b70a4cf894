// A fenced store (fence.ts) on NATS KV: one key per resource, its value
// `{token, writer, value}` as JSON, its version the key's revision.
// compareAndSet reads the entry, judges the write (token >= stored token,
// expected version == revision) and writes with KV's compare-and-set on that
// same revision (JetStream expected-last-subject-sequence), so the check and
// the write are one atomic step: if anyone wrote in between, the update is
// refused by the server and reported as a version conflict.
//
// With `fence` (the lock service, e.g. a ControlPlaneLock) every write also
// asks `checkFence(lockName, token)` first, which refuses a holder whose
// lease ran out even before a newer holder wrote (one Raft read per write;
// without it such a write is still a correct read-modify-write, only made
// without a live lock).

import type { KV } from "@nats-io/kv";
import { isCasConflict } from "../nats";
import { FencedOutcome, VERSION_ABSENT, checkToken, isStaleToken, judgeFencedWrite, type FencedCasResult, type FencedEntry, type FencedStore } from "./fence";
import type { DistributedLock } from "./types";

/** The lock service side of a fenced write: is this token the live one? */
export type FenceCheck = Pick<DistributedLock, "checkFence">;

export interface FencedKvOptions {
  /** Ask the lock service before each write (see the header). */
  readonly fence?: { readonly check: FenceCheck; readonly lockName: string };
}

/** Bound on CAS retries of a token-only write racing other writers. */
export const FENCED_CAS_ATTEMPTS_MAX = 8;

interface StoredJson<V> { token: number; writer: string; value: V }

const enc = new TextEncoder();
const dec = new TextDecoder();

export class FencedKv<V> implements FencedStore<V> {
  readonly #kv: KV;
  readonly #fence: FencedKvOptions["fence"];
  /** Writes refused (stale token, by the lock service or the resource). */
  rejected = 0;

  constructor(kv: KV, opts: FencedKvOptions = {}) {
    this.#kv = kv;
    this.#fence = opts.fence;
  }

  async read(key: string): Promise<FencedEntry<V> | undefined> {
    const e = await this.#kv.get(key);
    if (!e || e.operation !== "PUT" || e.value.byteLength === 0) return undefined;
    const s = JSON.parse(dec.decode(e.value)) as StoredJson<V>;
    if (!Number.isSafeInteger(s.token) || s.token < 1) throw new Error(`fenced KV key ${key}: stored token ${String(s.token)} is not a fencing token`);
    return { value: s.value, token: s.token, writer: s.writer, version: e.revision };
  }

  async compareAndSet(key: string, token: number, expectedVersion: number, writer: string, value: V): Promise<FencedCasResult> {
    checkToken(token);
    const refused = await this.#lockServiceRefuses(token);
    if (refused) return refused;
    const cur = await this.read(key);
    const verdict = judgeFencedWrite(cur, token, expectedVersion);
    if (verdict === FencedOutcome.StaleToken) return this.#stale(cur!.token);
    if (verdict === FencedOutcome.VersionConflict) return { ok: false, error: verdict, version: cur ? cur.version : VERSION_ABSENT };
    try {
      return { ok: true, version: await this.#put(key, token, writer, value, expectedVersion) };
    } catch (e) {
      if (!isCasConflict(e)) throw e;
      // Written between our read and our CAS: report what is there now.
      const now = await this.read(key);
      if (now && isStaleToken(token, now.token)) return this.#stale(now.token);
      return { ok: false, error: FencedOutcome.VersionConflict, version: now ? now.version : VERSION_ABSENT };
    }
  }

  /** The token check alone (see fence.ts): lands on whatever version is there unless a newer token wrote. */
  async writeTokenOnly(key: string, token: number, writer: string, value: V): Promise<FencedCasResult> {
    checkToken(token);
    const refused = await this.#lockServiceRefuses(token);
    if (refused) return refused;
    for (let attempt = 0; attempt < FENCED_CAS_ATTEMPTS_MAX; attempt++) {
      const cur = await this.read(key);
      if (cur && isStaleToken(token, cur.token)) return this.#stale(cur.token);
      try {
        return { ok: true, version: await this.#put(key, token, writer, value, cur ? cur.version : VERSION_ABSENT) };
      } catch (e) {
        if (!isCasConflict(e)) throw e;
      }
    }
    throw new Error(`fenced write of ${key}: ${FENCED_CAS_ATTEMPTS_MAX} compare-and-set conflicts in a row`);
  }

  async #put(key: string, token: number, writer: string, value: V, expectedVersion: number): Promise<number> {
    const body = enc.encode(JSON.stringify({ token, writer, value } satisfies StoredJson<V>));
    return expectedVersion === VERSION_ABSENT ? this.#kv.create(key, body) : this.#kv.update(key, body, expectedVersion);
  }

  async #lockServiceRefuses(token: number): Promise<FencedCasResult | undefined> {
    if (!this.#fence || (await this.#fence.check.checkFence(this.#fence.lockName, token))) return undefined;
    this.rejected++;
    return { ok: false, error: FencedOutcome.StaleToken, highestToken: 0, by: "lock-service" };
  }

  #stale(highestToken: number): FencedCasResult {
    this.rejected++;
    return { ok: false, error: FencedOutcome.StaleToken, highestToken, by: "resource" };
  }
}
