// A fenced resource (see fence.ts) on NATS: one KV key whose value carries
// the token of the writer. A write is accepted only if
//   1. the lock service says the token is the live holder's (checkFence), and
//   2. the token is >= the token stored with the current value, written with
//      a compare-and-set on the key's revision (JetStream's expected last
//      subject sequence), so the check and the write are one atomic step.
// (1) stops a zombie whose lease expired before anyone else wrote; (2) stops
// one that passed (1) and then paused while a new holder wrote. A zombie that
// passes (1), pauses, and writes before the new holder's first write is
// ordered before it: the new holder's write still wins, nothing is lost.

import type { KV } from "@nats-io/kv";
import { isCasConflict } from "../nats";
import { isStaleToken } from "./fence";
import type { DistributedLock } from "./types";

/** The lock service side of a fenced write: is this token the live one? */
export type FenceCheck = Pick<DistributedLock, "checkFence">;

export interface FencedValue<V> {
  readonly token: number;
  readonly writer: string;
  readonly value: V;
}

export type FencedKvWriteResult =
  | { readonly ok: true; readonly revision: number }
  | { readonly ok: false; readonly error: "stale-token"; readonly by: "control-plane" | "resource"; readonly highestToken?: number };

export const FENCED_CAS_ATTEMPTS_MAX = 8;

const enc = new TextEncoder();
const dec = new TextDecoder();

export class FencedKv<V> {
  readonly #kv: KV;
  readonly #fence: FenceCheck;
  readonly #leaseName: string;
  rejected = 0;

  constructor(kv: KV, fence: FenceCheck, leaseName: string) {
    this.#kv = kv;
    this.#fence = fence;
    this.#leaseName = leaseName;
  }

  async read(key: string): Promise<{ value: FencedValue<V>; revision: number } | undefined> {
    const e = await this.#kv.get(key);
    if (!e || e.operation !== "PUT" || e.value.byteLength === 0) return undefined;
    return { value: JSON.parse(dec.decode(e.value)) as FencedValue<V>, revision: e.revision };
  }

  async write(key: string, token: number, writer: string, value: V): Promise<FencedKvWriteResult> {
    if (!Number.isSafeInteger(token) || token < 1) throw new RangeError(`fencing token must be a positive integer, got ${token}`);
    if (!(await this.#fence.checkFence(this.#leaseName, token))) {
      this.rejected++;
      return { ok: false, error: "stale-token", by: "control-plane" };
    }
    const body = enc.encode(JSON.stringify({ token, writer, value } satisfies FencedValue<V>));
    for (let attempt = 0; attempt < FENCED_CAS_ATTEMPTS_MAX; attempt++) {
      const current = await this.read(key);
      if (current && isStaleToken(token, current.value.token)) {
        this.rejected++;
        return { ok: false, error: "stale-token", by: "resource", highestToken: current.value.token };
      }
      try {
        const revision = current ? await this.#kv.update(key, body, current.revision) : await this.#kv.create(key, body);
        return { ok: true, revision };
      } catch (e) {
        // Someone wrote between our read and our CAS: read again and re-judge.
        if (!isCasConflict(e)) throw e;
      }
    }
    throw new Error(`fenced write of ${key}: ${FENCED_CAS_ATTEMPTS_MAX} compare-and-set conflicts in a row`);
  }
}
