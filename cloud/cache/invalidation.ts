// Invalidation on change: a cache node watches the KV buckets whose values
// it caches (the device state, XSF_DEVICE_STATE; the registry in kv mode)
// and invalidates each changed key in its own store at the change's
// revision, so a later read-through of the old revision is refused
// (store.ts tombstones). Every cache node watches for itself: no message
// between nodes, and an owner's invalidation does not depend on another
// node being alive.
//
// The watch starts at "updates only": the node's store is empty when it
// starts, so nothing earlier can be stale in it. When the watch breaks
// (bucket missing, connection lost) the changes in between are unknown, so
// the namespace is purged before the watch is re-opened.
import type { NatsConnection } from "@nats-io/transport-node";
import { KvWatchInclude, Kvm } from "@nats-io/kv";
import type { Logger } from "../base";
import { cacheKey, type CacheNamespace } from "./keys";

export interface KvInvalidationOptions {
  nc: NatsConnection;
  bucket: string;
  namespace: CacheNamespace;
  /** Invalidate the namespaced key at this revision. */
  invalidate(key: string, revision: number): void;
  /** Drop every key of the namespace (the watch missed changes). */
  purgeNamespace(namespace: CacheNamespace): void;
  log: Logger;
  retryMs?: number;
}

export class KvInvalidationWatch {
  readonly #o: KvInvalidationOptions;
  #watch: { stop(): void } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #live = false;
  /** Changes applied since start (a test or the status can wait on it). */
  applied = 0;
  /** The highest revision applied. */
  revision = 0;
  restarts = 0;

  constructor(o: KvInvalidationOptions) {
    this.#o = o;
  }

  get live(): boolean {
    return this.#live;
  }

  start(): this {
    void this.#open();
    return this;
  }

  stop(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#watch?.stop();
  }

  async #open(): Promise<void> {
    if (this.#closed) return;
    try {
      const kv = await new Kvm(this.#o.nc).open(this.#o.bucket, { bindOnly: true });
      const it = await kv.watch({ key: ">", include: KvWatchInclude.UpdatesOnly });
      this.#watch = it;
      if (this.#closed) {
        it.stop();
        return;
      }
      this.#live = true;
      for await (const e of it) {
        this.#o.invalidate(cacheKey(this.#o.namespace, e.key), e.revision);
        this.applied++;
        this.revision = Math.max(this.revision, e.revision);
      }
      if (!this.#closed) throw new Error("watch ended");
    } catch (e) {
      if (this.#closed) return;
      if (this.#live) this.#o.log.warn("cache: invalidation watch broke; purging and re-opening", { bucket: this.#o.bucket, err: e });
      this.#live = false;
      this.restarts++;
      this.#o.purgeNamespace(this.#o.namespace);
      this.#timer = setTimeout(() => void this.#open(), this.#o.retryMs ?? 1_000);
      this.#timer.unref();
    }
  }
}
