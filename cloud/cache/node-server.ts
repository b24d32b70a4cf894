// A cache node: one CacheStore served over NATS request/reply on the node's
// own subject (xsfleet.v1.cache.node.<node>). Requests are answered inside
// the subscription callback: every operation is a synchronous, bounded
// store call, so there is nothing to await and nothing to queue.
//
// The subscription is made on every connection of the node's pool under
// one queue group: nats-server spreads the node's requests over the pool's
// sockets, so one socket's read/write loop is not the node's bottleneck
// (bench/cache.ts measures 1 connection against the pool).
//
// When the ring changes, the node purges the keys it no longer owns: a key
// it might own again later would otherwise come back with whatever
// invalidations it missed in between.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { cacheNodeSubject } from "../subjects";
import { CacheOp, ReplyStatus, decodeRequest, encodeReply, type CacheReply } from "./protocol";
import type { CacheRingView } from "./ring-view";
import { CacheStore, SetOutcome } from "./store";

export interface CacheNodeOptions {
  /** The connections to serve on (a pool, or one). */
  conns: readonly NatsConnection[];
  nodeId: string;
  store: CacheStore;
  /** The ring this node is part of; null: never purge (a single node, tests). */
  view: CacheRingView | null;
  /** False for keys that must not be stored now (their invalidation watch is not live); default all. */
  accepts?: (key: string) => boolean;
  nowMs?: () => number;
}

export interface CacheNodeStats {
  requests: number;
  badRequests: number;
  purges: number;
}

const empty = new Uint8Array(0);

export class CacheNode {
  readonly nodeId: string;
  readonly store: CacheStore;
  readonly stats: CacheNodeStats = { requests: 0, badRequests: 0, purges: 0 };
  readonly #o: CacheNodeOptions;
  readonly #now: () => number;
  #subs: Subscription[] = [];
  #offChange: (() => void) | null = null;

  constructor(o: CacheNodeOptions) {
    if (o.conns.length === 0) throw new Error("cache node needs at least one NATS connection");
    this.#o = o;
    this.nodeId = o.nodeId;
    this.store = o.store;
    this.#now = o.nowMs ?? Date.now;
  }

  start(): this {
    const subject = cacheNodeSubject(this.nodeId);
    this.#subs = this.#o.conns.map((nc) => nc.subscribe(subject, {
      queue: `cache-${this.nodeId}`,
      callback: (err, msg) => {
        if (err) return;
        const r = this.handle(msg.headers, msg.data);
        const out = encodeReply(r);
        msg.respond(out.body, { headers: out.h });
      },
    }));
    if (this.#o.view) {
      const view = this.#o.view;
      this.#offChange = view.onChange(() => {
        this.stats.purges += this.store.purge((k) => view.ring.owns(this.nodeId, k, view.rf));
      });
    }
    return this;
  }

  /** Flushes the subscriptions to the server (so a test or the node's start knows they are live). */
  async ready(): Promise<void> {
    await Promise.all(this.#o.conns.map((c) => c.flush()));
  }

  /** One request against the store (exposed for the invalidation watch and tests). */
  handle(h: Parameters<typeof decodeRequest>[0], body: Uint8Array): CacheReply {
    this.stats.requests++;
    const req = decodeRequest(h, body);
    if (typeof req === "string") {
      this.stats.badRequests++;
      return { status: ReplyStatus.Error, version: 0, value: empty, error: req };
    }
    const now = this.#now();
    try {
      switch (req.op) {
        case CacheOp.Get: {
          const v = this.store.get(req.key, now);
          return v ? { status: ReplyStatus.Hit, version: v.version, value: v.value } : { status: ReplyStatus.Miss, version: 0, value: empty };
        }
        case CacheOp.Set: {
          if (this.#o.accepts && !this.#o.accepts(req.key)) return { status: ReplyStatus.Stale, version: req.version, value: empty };
          const out = this.store.set(req.key, req.value, req.ttlMs, now, req.version);
          const status = out === SetOutcome.Stored ? ReplyStatus.Stored : out === SetOutcome.Stale ? ReplyStatus.Stale : ReplyStatus.TooLarge;
          return { status, version: req.version, value: empty };
        }
        case CacheOp.Invalidate:
          this.store.invalidate(req.key, req.version, now);
          return { status: ReplyStatus.Done, version: req.version, value: empty };
      }
    } catch (e) {
      this.stats.badRequests++;
      return { status: ReplyStatus.Error, version: 0, value: empty, error: e instanceof Error ? e.message : String(e) };
    }
  }

  stop(): void {
    for (const s of this.#subs) s.unsubscribe();
    this.#subs = [];
    this.#offChange?.();
    this.#offChange = null;
  }
}
