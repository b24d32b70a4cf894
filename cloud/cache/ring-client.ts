// The ring backend of CacheClient: a key's rf owners come from the ring
// view; reads ask the primary and fail over to the next owner on the ring
// when one does not answer within timeoutMs (or has no subscriber: it just
// died); writes and invalidations go to all owners at once.
//
// Guarantee: once delete(key) resolves true, every owner in this client's
// view has dropped the key and refuses sets read before the invalidation
// (store.ts tombstones), so no read served by any of them returns the old
// value. An owner that did not acknowledge makes delete resolve false. A
// node that dies loses its memory (it restarts empty), and a node purges
// what it stops owning when the ring changes, so a node cannot come back
// holding a value that missed invalidations.
import type { NatsConnection } from "@nats-io/transport-node";
import { cacheNodeSubject } from "../subjects";
import { CacheOp, ReplyStatus, decodeReply, encodeRequest, type CacheReply, type CacheRequest } from "./protocol";
import type { CacheRingView } from "./ring-view";
import { checkKey } from "./store";
import {
  CacheUnavailable, LOAD_MS_MAX_DEFAULT, emptyClientStats, readThroughWith,
  type CacheClient, type CacheClientStats, type CachedValue, type Loaded, type SetOptions,
} from "./types";

export interface RingCacheClientOptions {
  /** Runs one request on a connection: a pool's `use` (bounded, least loaded), or `(f) => f(nc)`. */
  send: <T>(f: (nc: NatsConnection) => Promise<T>) => Promise<T>;
  view: CacheRingView;
  /** How long one owner gets to answer before the next is asked. */
  timeoutMs?: number;
  loadMsMax?: number;
  nowMs?: () => number;
  /** Called per request with the operation, outcome and seconds taken (metrics). */
  onRequest?: (op: string, outcome: "ok" | "timeout" | "error", seconds: number) => void;
}

export const CACHE_TIMEOUT_MS_DEFAULT = 250;

export class RingCacheClient implements CacheClient {
  readonly stats: CacheClientStats = emptyClientStats();
  readonly #o: RingCacheClientOptions;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(o: RingCacheClientOptions) {
    this.#o = o;
    this.#timeoutMs = o.timeoutMs ?? CACHE_TIMEOUT_MS_DEFAULT;
    this.#now = o.nowMs ?? Date.now;
  }

  get view(): CacheRingView {
    return this.#o.view;
  }

  async get(key: string): Promise<CachedValue | null> {
    checkKey(key);
    const owners = this.#o.view.ownersOf(key);
    for (let i = 0; i < owners.length; i++) {
      if (i > 0) this.stats.failovers++;
      const r = await this.#ask(owners[i]!, { op: CacheOp.Get, key });
      if (r === null) continue;
      if (r.status === ReplyStatus.Hit) {
        this.stats.hits++;
        return { value: r.value, version: r.version };
      }
      if (r.status === ReplyStatus.Miss) {
        this.stats.misses++;
        return null;
      }
      throw new Error(`cache node ${owners[i]} refused get ${key}: ${r.error ?? r.status}`);
    }
    this.stats.unavailable++;
    throw new CacheUnavailable(owners.length === 0 ? "no cache nodes in the ring" : `no owner of ${key} answered (${owners.join(", ")})`);
  }

  async set(key: string, value: Uint8Array, opts: SetOptions): Promise<boolean> {
    checkKey(key);
    const replies = await this.#toAll(key, { op: CacheOp.Set, key, ttlMs: opts.ttlMs, version: opts.version ?? 0, value });
    if (replies.some((r) => r?.status === ReplyStatus.Error)) throw new Error(`cache set ${key} refused: ${replies.find((r) => r?.status === ReplyStatus.Error)!.error}`);
    if (replies.some((r) => r?.status === ReplyStatus.Stale)) {
      this.stats.staleRefused++;
      return false;
    }
    return replies.some((r) => r?.status === ReplyStatus.Stored);
  }

  async delete(key: string, version = 0): Promise<boolean> {
    checkKey(key);
    const replies = await this.#toAll(key, { op: CacheOp.Invalidate, key, version });
    return replies.every((r) => r?.status === ReplyStatus.Done);
  }

  readThrough(key: string, loader: () => Promise<Loaded | null>, ttlMs: number): Promise<Uint8Array | null> {
    return readThroughWith(this, key, loader, ttlMs, { loadMsMax: this.#o.loadMsMax ?? LOAD_MS_MAX_DEFAULT, nowMs: this.#now });
  }

  async close(): Promise<void> {
    // The connections belong to the caller.
  }

  /** Every owner's reply (null for one that did not answer); throws CacheUnavailable when none did. */
  async #toAll(key: string, req: CacheRequest): Promise<(CacheReply | null)[]> {
    const owners = this.#o.view.ownersOf(key);
    const replies = await Promise.all(owners.map((n) => this.#ask(n, req)));
    if (replies.every((r) => r === null)) {
      this.stats.unavailable++;
      throw new CacheUnavailable(owners.length === 0 ? "no cache nodes in the ring" : `no owner of ${key} answered (${owners.join(", ")})`);
    }
    return replies;
  }

  /** The node's reply, or null when it did not answer in time (or nobody listens on its subject). */
  async #ask(node: string, req: CacheRequest): Promise<CacheReply | null> {
    const t0 = performance.now();
    const { h, body } = encodeRequest(req);
    try {
      const m = await this.#o.send((nc) => nc.request(cacheNodeSubject(node), body, { timeout: this.#timeoutMs, headers: h }));
      const r = decodeReply(m.headers, m.data);
      this.#o.onRequest?.(req.op, "ok", (performance.now() - t0) / 1000);
      return r;
    } catch (e) {
      const timeout = /timeout|no responders|503/i.test(e instanceof Error ? `${e.name} ${e.message}` : String(e));
      this.#o.onRequest?.(req.op, timeout ? "timeout" : "error", (performance.now() - t0) / 1000);
      // Timed out, nobody subscribed (it died), our connection closed or the pool full: this owner did not answer.
      return null;
    }
  }
}
