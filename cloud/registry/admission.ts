// The registry as ingest's gate (issue 17: "the registry is the gate"): is a
// device registered, decommissioned, or unknown? Answered from a local cache
// kept current by a watch on the registry (KV backend: a KV watch of the
// registry bucket), with a direct read on a miss, so a device registered a
// moment ago is admitted even before its watch update arrives.
//
// Bounds: at most `devicesMax` devices cached from the watch and lookups
// (beyond, a device is looked up on each check); at most `unknownMax`
// "not registered" answers cached (least recently used dropped), each for
// `unknownTtlMs` (without a watch, every answer expires after it: the
// control-plane registry has no watch, so a decommission takes up to the
// TTL to close the gate). Watch data always wins over a lookup answer that
// raced with it. The lookup throwing (registry unavailable) propagates: the
// caller leaves the messages for redelivery rather than guess.
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm, KvWatchInclude, type KV } from "@nats-io/kv";
import type { Logger } from "../base";
import { registryBucket } from "./kv-registry";
import { DeviceLifecycle, type DeviceRegistry } from "./types";

export interface AdmissionOptions {
  devicesMax: number;
  unknownMax: number;
  unknownTtlMs: number;
}

export const defaultAdmissionOptions: AdmissionOptions = Object.freeze({ devicesMax: 1_000_000, unknownMax: 10_000, unknownTtlMs: 30_000 });

/** A running watch; `ended` once it stopped by itself (connection lost, consumer gone). */
export interface FeedHandle {
  stop(): void;
  readonly ended: boolean;
}

/** Streams registry changes: `onChange(id, lifecycle)` for every record now
 *  and every later write (null: deleted). Resolves once watching. */
export interface RegistryFeed {
  start(onChange: (deviceId: string, lifecycle: DeviceLifecycle | null) => void): Promise<FeedHandle>;
}

/** Reads one device's lifecycle (null: not registered). */
export type RegistryLookup = (deviceId: string) => Promise<DeviceLifecycle | null>;

export function registryLookup(r: Pick<DeviceRegistry, "get">): RegistryLookup {
  return async (id) => (await r.get(id))?.lifecycle ?? null;
}

function lifecycleOf(record: { lifecycle?: unknown }): DeviceLifecycle {
  return record.lifecycle === DeviceLifecycle.Decommissioned ? DeviceLifecycle.Decommissioned : DeviceLifecycle.Registered;
}

/** The KV registry's bucket as a feed (keys are device ids, values DeviceRecord JSON). */
export function kvRegistryFeed(bucket: () => Promise<KV>, log: Logger): RegistryFeed {
  return {
    async start(onChange) {
      const it = await (await bucket()).watch({ include: KvWatchInclude.LastValue });
      const handle = { ended: false, stop: () => it.stop() };
      void (async () => {
        try {
          for await (const e of it) {
            if (e.operation !== "PUT") { onChange(e.key, null); continue; }
            try {
              onChange(e.key, lifecycleOf(e.json<{ lifecycle?: unknown }>()));
            } catch (err) {
              log.warn("admission: unreadable registry record", { deviceId: e.key, error: String(err) });
            }
          }
        } catch (err) {
          log.warn("admission: registry watch ended; restarted on the next check", { error: String(err) });
        } finally {
          handle.ended = true;
        }
      })();
      return handle;
    },
  };
}

/** The gate over the KV registry (`--registry kv`): read access to its bucket
 *  only; the bucket is opened on first use (the API role creates it), and
 *  while it is missing every check throws (messages wait for redelivery). */
export function kvAdmissionCache(nc: NatsConnection, log: Logger, opts: Partial<AdmissionOptions> = {}): AdmissionCache {
  let kv: Promise<KV> | null = null;
  const bucket = (): Promise<KV> => (kv ??= new Kvm(jetstream(nc)).open(registryBucket).catch((err: unknown) => {
    kv = null;
    throw err;
  }));
  const lookup: RegistryLookup = async (id) => {
    const e = await (await bucket()).get(id);
    return e && e.operation === "PUT" ? lifecycleOf(e.json<{ lifecycle?: unknown }>()) : null;
  };
  return new AdmissionCache(lookup, kvRegistryFeed(bucket, log), opts);
}

interface Entry {
  lifecycle: DeviceLifecycle | null;
  /** From the watch (never expires) or from a lookup at this time. */
  fromWatch: boolean;
  atMs: number;
}

export class AdmissionCache {
  readonly #lookup: RegistryLookup;
  readonly #feed: RegistryFeed | null;
  readonly #o: AdmissionOptions;
  readonly #now: () => number;
  readonly #known = new Map<string, Entry>();
  /** Not-registered answers, insertion order = recency. */
  readonly #unknown = new Map<string, number>();
  #watch: FeedHandle | null = null;
  #starting: Promise<FeedHandle> | null = null;
  readonly stats = { lookups: 0, watchUpdates: 0 };

  constructor(lookup: RegistryLookup, feed: RegistryFeed | null, opts: Partial<AdmissionOptions> = {}, nowMs: () => number = Date.now) {
    this.#lookup = lookup;
    this.#feed = feed;
    this.#o = { ...defaultAdmissionOptions, ...opts };
    this.#now = nowMs;
  }

  /** Starts the watch (check() does it on first use; throws while the registry is unreachable). */
  async start(): Promise<void> {
    if (!this.#feed || (this.#watch && !this.#watch.ended)) return;
    if (this.#watch?.ended) {
      // Changes (deletions too) may have been missed: forget, the new watch replays every record.
      this.#watch = null;
      this.#known.clear();
    }
    this.#starting ??= this.#feed.start((id, lc) => this.#onChange(id, lc)).finally(() => { this.#starting = null; });
    this.#watch = await this.#starting;
  }

  stop(): void {
    this.#watch?.stop();
    this.#watch = null;
  }

  #onChange(deviceId: string, lifecycle: DeviceLifecycle | null): void {
    this.stats.watchUpdates++;
    this.#unknown.delete(deviceId);
    if (lifecycle === null) this.#known.delete(deviceId);
    else if (this.#known.has(deviceId) || this.#known.size < this.#o.devicesMax) this.#known.set(deviceId, { lifecycle, fromWatch: true, atMs: 0 });
  }

  /** The device's lifecycle, or null when it is not registered. */
  async check(deviceId: string): Promise<DeviceLifecycle | null> {
    if (this.#feed && (!this.#watch || this.#watch.ended)) await this.start();
    const now = this.#now();
    const k = this.#known.get(deviceId);
    if (k && (k.fromWatch || now - k.atMs < this.#o.unknownTtlMs)) return k.lifecycle;
    const u = this.#unknown.get(deviceId);
    if (u !== undefined && now - u < this.#o.unknownTtlMs) return null;
    this.stats.lookups++;
    const lc = await this.#lookup(deviceId);
    // A watch update that arrived meanwhile is newer than this answer.
    const raced = this.#known.get(deviceId);
    if (raced?.fromWatch) return raced.lifecycle;
    if (lc === null) {
      this.#known.delete(deviceId);
      this.#unknown.delete(deviceId);
      if (this.#unknown.size >= this.#o.unknownMax) this.#unknown.delete(this.#unknown.keys().next().value!);
      this.#unknown.set(deviceId, now);
    } else if (this.#known.size < this.#o.devicesMax || this.#known.has(deviceId)) {
      // With a watch, later changes arrive through it; without, the answer expires.
      this.#known.set(deviceId, { lifecycle: lc, fromWatch: this.#feed !== null, atMs: now });
    }
    return lc;
  }
}
