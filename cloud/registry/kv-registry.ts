// DeviceRegistry on a NATS KV bucket: one key per device (the device id),
// JSON value, and every write a compare-and-set on the key's revision
// (kv.create for new keys, kv.update(key, value, revision) otherwise). A
// write that loses the race re-reads and re-applies its change on top of the
// winner, up to casAttemptsMax times; with expectedRevision it fails with a
// conflict instead. Either way no acknowledged update is lost.
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { isCasConflict } from "../nats";
import { assertDeviceId, isDeviceId } from "../../shared/topics";
import {
  DeviceLifecycle, RegistryError, registryLimits,
  type DevicePage, type DeviceRecord, type DeviceRegistry, type ListOptions, type WriteOptions,
} from "./types";
import { checkMetadataPatch } from "./validate";

export const registryBucket = "xsfleet_registry";

export interface KvRegistryOptions {
  replicas: number;
  /** Injected clock, for tests. */
  nowMs?: () => number;
  /** Called on every lost compare-and-set race (a metric hook). */
  onConflict?: () => void;
}

type StoredRecord = Omit<DeviceRecord, "revision">;

export async function openRegistryBucket(nc: NatsConnection, replicas: number): Promise<KV> {
  const kvm = new Kvm(jetstream(nc));
  // history 5: a short audit trail per device; file storage: the registry is the source of truth.
  return kvm.create(registryBucket, { replicas, history: 5, storage: StorageType.File, description: "xsfleet device registry" });
}

export class KvDeviceRegistry implements DeviceRegistry {
  readonly #kv: KV;
  readonly #now: () => number;
  readonly #onConflict: () => void;

  constructor(kv: KV, opts: Partial<KvRegistryOptions> = {}) {
    this.#kv = kv;
    this.#now = opts.nowMs ?? Date.now;
    this.#onConflict = opts.onConflict ?? (() => {});
  }

  static async open(nc: NatsConnection, opts: KvRegistryOptions): Promise<KvDeviceRegistry> {
    return new KvDeviceRegistry(await openRegistryBucket(nc, opts.replicas), opts);
  }

  async get(deviceId: string): Promise<DeviceRecord | null> {
    assertDeviceId(deviceId);
    const e = await this.#kv.get(deviceId);
    if (!e || e.operation !== "PUT") return null;
    // Records written before the configuration moved to the device shadow may carry `desiredConfig`: dropped.
    const { desiredConfig: _moved, ...rec } = e.json<StoredRecord & { desiredConfig?: unknown }>();
    return { ...rec, revision: e.revision };
  }

  async register(deviceId: string, init: { metadata?: Record<string, string> } = {}): Promise<DeviceRecord> {
    assertDeviceId(deviceId);
    const metadata = checkMetadataPatch(init.metadata ?? {}, {}) as Record<string, string>;
    return this.#mutate(deviceId, undefined, (cur) => {
      const now = this.#now();
      if (cur && cur.lifecycle === DeviceLifecycle.Registered) {
        throw new RegistryError("already_exists", `device ${deviceId} is already registered`);
      }
      return { deviceId, lifecycle: DeviceLifecycle.Registered, registeredMs: now, updatedMs: now, metadata };
    }, true);
  }

  async list(opts: ListOptions): Promise<DevicePage> {
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new RegistryError("invalid", `limit must be a positive integer, got ${opts.limit}`);
    if (opts.after !== undefined && !isDeviceId(opts.after)) throw new RegistryError("invalid", `after must be a device id, got ${JSON.stringify(opts.after)}`);
    const keys: string[] = [];
    for await (const k of await this.#kv.keys()) keys.push(k);
    keys.sort();
    const devices: DeviceRecord[] = [];
    let next: string | undefined;
    for (const k of keys) {
      if (opts.after !== undefined && k <= opts.after) continue;
      const rec = await this.get(k);
      if (!rec || (opts.lifecycle && rec.lifecycle !== opts.lifecycle)) continue;
      if (devices.length === opts.limit) { next = devices[devices.length - 1]!.deviceId; break; }
      devices.push(rec);
    }
    return next === undefined ? { devices } : { devices, next };
  }

  async decommission(deviceId: string, opts: WriteOptions = {}): Promise<DeviceRecord> {
    assertDeviceId(deviceId);
    return this.#mutate(deviceId, opts.expectedRevision, (cur) => {
      const rec = this.#requireRegistered(deviceId, cur);
      const now = this.#now();
      return { ...rec, lifecycle: DeviceLifecycle.Decommissioned, decommissionedMs: now, updatedMs: now };
    });
  }

  async setMetadata(deviceId: string, patch: Record<string, string | null>, opts: WriteOptions = {}): Promise<DeviceRecord> {
    assertDeviceId(deviceId);
    return this.#mutate(deviceId, opts.expectedRevision, (cur) => {
      const rec = this.#requireRegistered(deviceId, cur);
      return { ...rec, metadata: checkMetadataPatch(patch, rec.metadata), updatedMs: this.#now() };
    });
  }

  #requireRegistered(deviceId: string, cur: StoredRecord | null): StoredRecord {
    if (!cur) throw new RegistryError("not_found", `device ${deviceId} is not registered`);
    if (cur.lifecycle === DeviceLifecycle.Decommissioned) throw new RegistryError("decommissioned", `device ${deviceId} is decommissioned; register it again first`);
    return cur;
  }

  /**
   * Read-modify-write with compare-and-set. `change` must be a pure function
   * of the current record: it runs again after every lost race.
   */
  async #mutate(deviceId: string, expectedRevision: number | undefined, change: (cur: StoredRecord | null) => StoredRecord, allowCreate = false): Promise<DeviceRecord> {
    for (let attempt = 0; attempt < registryLimits.casAttemptsMax; attempt++) {
      const e = await this.#kv.get(deviceId);
      const exists = !!e && e.operation === "PUT";
      const cur = exists ? e!.json<StoredRecord>() : null;
      if (expectedRevision !== undefined && (!e || e.revision !== expectedRevision)) {
        if (!exists) throw new RegistryError("not_found", `device ${deviceId} is not registered`);
        throw new RegistryError("conflict", `device ${deviceId} is at revision ${e!.revision}, not ${expectedRevision}; re-read and retry`);
      }
      if (!exists && !allowCreate) throw new RegistryError("not_found", `device ${deviceId} is not registered`);
      const next = change(cur);
      const body = JSON.stringify(next);
      try {
        // A deleted/purged key (or none) is created; an existing one is updated at its revision.
        const revision = e ? await this.#kv.update(deviceId, body, e.revision) : await this.#kv.create(deviceId, body);
        return { ...next, revision };
      } catch (err) {
        if (!isCasConflict(err)) throw err;
        this.#onConflict();
        if (expectedRevision !== undefined) {
          throw new RegistryError("conflict", `device ${deviceId} changed concurrently (expected revision ${expectedRevision}); re-read and retry`);
        }
        // Jittered pause so racing writers do not collide in lockstep.
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * Math.min(50, 2 + attempt * 5))));
      }
    }
    throw new RegistryError("conflict", `device ${deviceId}: gave up after ${registryLimits.casAttemptsMax} concurrent-update conflicts; retry later`);
  }
}
