// The hot reads served through the cache: device state (cloud/state) and
// registry records (cloud/registry), read-through with the source's
// revision as the version. When no cache node answers, the source serves
// (readThroughWith), so the cache can only make a read faster, never fail it.
//
// The registry has two backends and only the KV one can be watched, so the
// registry decorator also invalidates on its own writes (at the written
// revision, acknowledged by the owners before the write returns): every
// registry write of a node goes through it, whichever backend.
import type { DeviceRecord, DevicePage, DeviceRegistry, ListOptions, WriteOptions } from "../registry";
import { cacheKey, CacheNamespace } from "./keys";
import type { CacheClient, Loaded } from "./types";

const enc = new TextEncoder();
const dec = new TextDecoder();

function json(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v));
}

export interface CachedReadOptions {
  cache: CacheClient;
  ttlMs: number;
}

/** A device-state source read through the cache; `load` gives the state with its KV revision (null: none). */
export function cachedDeviceState<T>(o: CachedReadOptions & { load: (deviceId: string) => Promise<{ state: T; revision: number } | null> }): { getDeviceState(deviceId: string): Promise<T | null> } {
  return {
    getDeviceState: async (deviceId) => {
      const bytes = await o.cache.readThrough(cacheKey(CacheNamespace.DeviceState, deviceId), async (): Promise<Loaded | null> => {
        const l = await o.load(deviceId);
        return l === null ? null : { value: json(l.state), version: l.revision };
      }, o.ttlMs);
      return bytes === null ? null : (JSON.parse(dec.decode(bytes)) as T);
    },
  };
}

/** The registry with `get` read through the cache and every write invalidating the record. */
export class CachedRegistry implements DeviceRegistry {
  readonly #inner: DeviceRegistry;
  readonly #o: CachedReadOptions;
  /** Writes whose invalidation not every owner acknowledged. */
  unacknowledged = 0;

  constructor(inner: DeviceRegistry, o: CachedReadOptions) {
    this.#inner = inner;
    this.#o = o;
  }

  async get(deviceId: string): Promise<DeviceRecord | null> {
    const bytes = await this.#o.cache.readThrough(cacheKey(CacheNamespace.Registry, deviceId), async (): Promise<Loaded | null> => {
      const r = await this.#inner.get(deviceId);
      return r === null ? null : { value: json(r), version: r.revision };
    }, this.#o.ttlMs);
    return bytes === null ? null : (JSON.parse(dec.decode(bytes)) as DeviceRecord);
  }

  list(opts: ListOptions): Promise<DevicePage> {
    // Pages are not cached: no single key to invalidate when any record changes.
    return this.#inner.list(opts);
  }

  register(deviceId: string, init?: { metadata?: Record<string, string> }): Promise<DeviceRecord> {
    return this.#written(this.#inner.register(deviceId, init));
  }

  decommission(deviceId: string, opts?: WriteOptions): Promise<DeviceRecord> {
    return this.#written(this.#inner.decommission(deviceId, opts));
  }

  setMetadata(deviceId: string, patch: Record<string, string | null>, opts?: WriteOptions): Promise<DeviceRecord> {
    return this.#written(this.#inner.setMetadata(deviceId, patch, opts));
  }

  async #written(p: Promise<DeviceRecord>): Promise<DeviceRecord> {
    const r = await p;
    let acked = false;
    try {
      acked = await this.#o.cache.delete(cacheKey(CacheNamespace.Registry, r.deviceId), r.revision);
    } catch {
      // No owner answered: nothing cached is reachable either; counted below.
    }
    if (!acked) this.unacknowledged++;
    return r;
  }
}
