// DeviceStateStore: the device state bucket (NATS KV, history 3). Readers
// (management APIs) use getDeviceState/listDeviceStates (on demand; readers
// that want every device continuously use DeviceStateMirror); ingest uses
// load/compareAndSet, whose revision check is what makes concurrent ingest
// nodes safe: a write based on a stale read fails and is retried.
import type { NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { isDeviceId } from "../../shared/topics";
import { isCasConflict, type JsPublisher } from "../nats";
import { upgradeStoredState } from "./migrate";
import { emptyDeviceState, publicState, stateFormatVersion, type DeviceState, type StoredDeviceState } from "./types";

export const deviceStateBucket = "XSF_DEVICE_STATE";
/** Reads in flight while listing device states. */
const listConcurrencyMax = 32;
/** Ids one listDeviceIds call returns at most. */
export const listIdsMax = 100_000;
/** Keys fetched per pull while listing. */
const listFetchMax = 1_000;
/** The listing consumer is deleted after use; should the client die first, the server drops it after this. */
const listConsumerIdleMs = 30_000;

export interface StateBucketOptions {
  replicas: number;
  /** Bucket size limit. */
  maxBytes: number;
  /** Largest state value (a device's readings, counters and dedup windows). */
  valueBytesMax: number;
}

export const defaultStateBucketOptions: StateBucketOptions = {
  replicas: 1,
  maxBytes: 256 * 1024 * 1024,
  valueBytesMax: 256 * 1024,
};

/** Creates the bucket if missing (idempotent; an existing bucket is opened). */
export async function ensureDeviceStateBucket(js: JetStreamClient | NatsConnection, opts: Partial<StateBucketOptions> = {}): Promise<KV> {
  const o = { ...defaultStateBucketOptions, ...opts };
  return new Kvm(js).create(deviceStateBucket, {
    replicas: o.replicas,
    // A few revisions per device, for inspection after an incident (one
    // writer per device: nothing reads them in normal operation).
    history: 3,
    max_bytes: o.maxBytes,
    maxValueSize: o.valueBytesMax,
    storage: StorageType.File,
    ttl: 0,
    // Reads go to the stream leader: a CAS right after a read then rarely
    // fails because a replica lagged.
    allow_direct: false,
  });
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeState(s: StoredDeviceState): Uint8Array {
  return enc.encode(JSON.stringify(s));
}

export function decodeState(bytes: Uint8Array, deviceId: string): StoredDeviceState {
  const raw = JSON.parse(dec.decode(bytes)) as Record<string, unknown>;
  if (raw === null || typeof raw !== "object" || raw.deviceId !== deviceId) {
    throw new Error(`device state for ${deviceId}: unexpected value (device ${String((raw as { deviceId?: unknown } | null)?.deviceId)})`);
  }
  // Older formats are upgraded once here; the next write stores the current one.
  const s = upgradeStoredState(raw, deviceId);
  if (s.v !== stateFormatVersion) throw new Error(`device state for ${deviceId}: unexpected format v=${String(s.v)}`);
  return s;
}

export interface LoadedState {
  state: StoredDeviceState;
  /** KV revision of the value read; 0 when the device has no state yet. */
  revision: number;
}

export class DeviceStateStore {
  readonly #kv: KV;
  readonly #cas: JsPublisher | null;

  /** `cas`: compare-and-sets go through it (one reply subscription per
   *  connection) instead of nats.js's per-request path; ingest writes a
   *  device's state once per message batch, so this is its hot path. */
  constructor(kv: KV, cas: JsPublisher | null = null) {
    this.#kv = kv;
    this.#cas = cas;
  }

  /** Opens the existing bucket (created by the ingest role or ensureIngestStreams). */
  static async open(nc: NatsConnection | JetStreamClient, cas: JsPublisher | null = null): Promise<DeviceStateStore> {
    return new DeviceStateStore(await new Kvm(nc).open(deviceStateBucket, { bindOnly: true }), cas);
  }

  static async ensure(nc: NatsConnection | JetStreamClient, opts: Partial<StateBucketOptions> = {}): Promise<DeviceStateStore> {
    return new DeviceStateStore(await ensureDeviceStateBucket(nc, opts));
  }

  get kv(): KV {
    return this.#kv;
  }

  async getDeviceState(deviceId: string): Promise<DeviceState | null> {
    if (!isDeviceId(deviceId)) throw new Error(`invalid device id ${JSON.stringify(deviceId)}`);
    const loaded = await this.load(deviceId);
    return loaded.revision === 0 ? null : publicState(loaded.state);
  }

  /** Every device with state, sorted by id; at most `limit` (default 10,000). */
  async listDeviceStates(opts: { limit?: number } = {}): Promise<DeviceState[]> {
    const limit = opts.limit ?? 10_000;
    const ids = (await this.listDeviceIds()).sort().slice(0, limit);
    const states = new Array<DeviceState | null>(ids.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const i = next++;
        states[i] = await this.getDeviceState(ids[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(listConcurrencyMax, ids.length) }, worker));
    return states.filter((s): s is DeviceState => s !== null);
  }

  /**
   * Every device id with state, each once, unordered; at most `idsMax`.
   *
   * Not kv.keys(): its consumer keeps delivering updates made while the
   * listing runs (a device written twice is listed twice), and it is left on
   * the server for the consumer's inactivity threshold (5 minutes in nats.js),
   * so callers that list often pile up consumers on the bucket. Here one
   * headers-only last-per-subject consumer reads exactly the keys that exist
   * when it is created (num_pending then), and is deleted right after.
   */
  async listDeviceIds(idsMax = listIdsMax): Promise<string[]> {
    const jsm = await this.#jsm();
    const ci = await jsm.consumers.add(kvStream, {
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.LastPerSubject,
      filter_subject: `${kvSubjectPrefix}>`,
      headers_only: true,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(listConsumerIdleMs),
    });
    const ids = new Set<string>();
    try {
      const consumer = await this.#js().consumers.get(kvStream, ci.name);
      const keys = ci.num_pending;
      let read = 0;
      while (read < keys) {
        const batch = await consumer.fetch({ max_messages: Math.min(listFetchMax, keys - read), expires: 5_000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          const id = m.subject.slice(kvSubjectPrefix.length);
          const op = m.headers?.get("KV-Operation");
          if (op === "DEL" || op === "PURGE") ids.delete(id);
          else if (isDeviceId(id) && ids.size < idsMax) ids.add(id);
        }
        if (got === 0) break;
        read += got;
      }
    } finally {
      await jsm.consumers.delete(kvStream, ci.name).catch(() => false);
    }
    return [...ids];
  }

  /** Ingest: the stored state (with bookkeeping) and its revision. */
  async load(deviceId: string): Promise<LoadedState> {
    const e = await this.#kv.get(deviceId);
    if (!e || e.operation !== "PUT" || e.value.length === 0) return { state: emptyDeviceState(deviceId), revision: e ? -e.revision : 0 };
    return { state: decodeState(e.value, deviceId), revision: e.revision };
  }

  #jsmP: Promise<JetStreamManager> | null = null;
  #jsm(): Promise<JetStreamManager> {
    this.#jsmP ??= this.#js().jetstreamManager(false);
    return this.#jsmP;
  }

  /** The bucket's JetStream client (nats.js keeps it on the KV, not in its types). */
  #js(): JetStreamClient {
    return (this.#kv as unknown as { js: JetStreamClient }).js;
  }

  /** Ingest: writes `state` if the stored revision is still `revision`
   *  (0: no value yet; negative: deleted at that revision). Returns the new
   *  revision, or null on a conflict (someone wrote first: reload, retry). */
  async compareAndSet(deviceId: string, state: StoredDeviceState, revision: number): Promise<number | null> {
    const bytes = encodeState(state);
    try {
      // A KV write is a publish to the key's subject, conditional on the key's last sequence (0: none; a deletion's too).
      const subject = kvSubject(deviceId);
      const after = Math.abs(revision);
      const ack = this.#cas
        ? await this.#cas.publish(subject, bytes, { expectedLastSubjectSequence: after })
        : await this.#js().publish(subject, bytes, { expect: { lastSubjectSequence: after } });
      return ack.seq;
    } catch (err) {
      if (isCasConflict(err)) return null;
      throw err;
    }
  }
}

const kvStream = `KV_${deviceStateBucket}`;
const kvSubjectPrefix = `$KV.${deviceStateBucket}.`;
const kvSubject = (deviceId: string): string => `${kvSubjectPrefix}${deviceId}`;

