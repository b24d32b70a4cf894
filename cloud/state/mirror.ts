// DeviceStateMirror: a live in-memory copy of the device state bucket, kept
// by one KV watch (one ordered consumer for as long as the mirror runs).
// Readers that want "every device" now and again — the dashboard, the
// `xsfleet up` status line — read the mirror instead of listing keys: a key
// listing costs an ephemeral consumer per call, which nats-server keeps for
// its inactivity threshold (5 minutes with nats.js), so polling once a
// second piles up hundreds of consumers on the bucket.
//
// Bounds: at most `devicesMax` devices are kept; ids seen beyond that are
// counted in `droppedIds` (itself capped at devicesMax). Read-only: never
// creates the bucket; while it does not exist, retries every `retryMs`.
import type { NatsConnection } from "@nats-io/transport-node";
import type { KvWatchEntry } from "@nats-io/kv";
import { isDeviceId } from "../../shared/topics";
import { DeviceStateStore, decodeState, deviceStateBucket } from "./store";
import { publicState, type DeviceState } from "./types";

export interface DeviceStateMirrorOptions {
  /** Devices kept; more are counted as dropped. */
  devicesMax?: number;
  /** Delay before re-opening a missing bucket or a failed watch. */
  retryMs?: number;
}

export class DeviceStateMirror {
  readonly #nc: NatsConnection;
  readonly #devicesMax: number;
  readonly #retryMs: number;
  /** Invariant: size <= devicesMax. */
  readonly #devices = new Map<string, DeviceState>();
  /** Invariant: size <= devicesMax; disjoint from #devices. */
  readonly #dropped = new Set<string>();
  #error = "";
  #watch: { stop(): void } | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #closed = false;
  #started = false;
  /** Resolved once the bucket's contents at watch start have all been applied. */
  #loaded: () => void = () => undefined;
  readonly #loadedP = new Promise<void>((r) => (this.#loaded = r));

  constructor(nc: NatsConnection, opts: DeviceStateMirrorOptions = {}) {
    this.#nc = nc;
    this.#devicesMax = opts.devicesMax ?? 10_000;
    this.#retryMs = opts.retryMs ?? 2_000;
    if (!Number.isSafeInteger(this.#devicesMax) || this.#devicesMax < 1) throw new Error(`devicesMax must be a positive integer, got ${this.#devicesMax}`);
  }

  /** Starts the watch (idempotent). */
  start(): this {
    if (!this.#started) {
      this.#started = true;
      void this.#open();
    }
    return this;
  }

  /** True once the mirror holds the whole bucket as it was when the watch began; false after timeoutMs (e.g. no bucket yet). */
  async ready(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), timeoutMs); });
    try {
      return await Promise.race([this.#loadedP.then(() => true), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): void {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#watch?.stop();
  }

  /** Devices with state, in no particular order; each id once. */
  devices(): IterableIterator<DeviceState> {
    return this.#devices.values();
  }

  get size(): number {
    return this.#devices.size;
  }

  /** Ids left out because the mirror was full. */
  get droppedIds(): number {
    return this.#dropped.size;
  }

  /** Why the mirror is empty or stale ("" when it is live). */
  get error(): string {
    return this.#error;
  }

  async #open(): Promise<void> {
    if (this.#closed) return;
    try {
      const store = await DeviceStateStore.open(this.#nc);
      const iter = await store.kv.watch({ key: ">" });
      this.#watch = iter;
      if (this.#closed) { iter.stop(); return; }
      this.#error = "";
      // nats.js flags the last entry of the initial values (and every later one) as an update.
      if ((await store.kv.status()).values === 0) this.#loaded();
      for await (const e of iter) {
        this.#apply(e);
        if (e.isUpdate) this.#loaded();
      }
      if (!this.#closed) throw new Error("watch ended");
    } catch (e) {
      if (this.#closed) return;
      const msg = (e as Error).message;
      this.#error = /not found|does not exist/i.test(msg)
        ? `device state bucket ${deviceStateBucket} does not exist yet (no ingest node has run); retrying`
        : `device state watch failed: ${msg}; retrying`;
      this.#retryTimer = setTimeout(() => void this.#open(), this.#retryMs);
      this.#retryTimer.unref();
    }
  }

  #apply(e: KvWatchEntry): void {
    const id = e.key;
    if (!isDeviceId(id)) return;
    if (e.operation !== "PUT" || e.value.length === 0) {
      this.#devices.delete(id);
      this.#dropped.delete(id);
      return;
    }
    let st: DeviceState;
    try {
      st = publicState(decodeState(e.value, id));
    } catch (err) {
      this.#error = `device ${id}: ${(err as Error).message}`;
      return;
    }
    if (!this.#devices.has(id) && this.#devices.size >= this.#devicesMax) {
      if (this.#dropped.size < this.#devicesMax) this.#dropped.add(id);
      return;
    }
    this.#devices.set(id, st);
  }
}
