// ShadowStore: device shadows in the NATS KV bucket XSF_SHADOW, one key per
// (device, document, writer): `<deviceId>.<doc>.<writer>`. Each key holds
// that writer's replica of the whole document (what it read, joined, plus
// its own writes). A read lists the document's writer keys and joins them;
// a write reads, applies a pure change (document.ts) to the join, and writes
// the result to the writer's own key with compare-and-set on that key.
//
// Why one key per writer (docs/shadow.md): on nats-server 2.9.10 a KV CAS on
// an R3 bucket can let several concurrent writers win (research C3), so CAS
// cannot arbitrate between writers. Here no two writers share a key, and
// the join of DVV sets is commutative, associative and idempotent, so
// concurrent writers never need arbitration: each read joins all replicas.
// CAS on the own key only protects a writer against its own stale read.
// Requirements: writer ids are unique per writing process (API nodes use
// `api-<nodeId>`; the device's reports go to `dev`; a gateway to `gw-<id>`),
// and one process serializes its writes per key (done here).
//
// Bounds: writers per document ≤ limits.writersMax (a write by a new writer
// past it is refused; reads join up to twice that, racing new writers
// included, and fail rather than ignore a key beyond); history per key ≤ historyPerWriterMax;
// CAS retries ≤ casRetriesMax (then ShadowError contended).
import type { NatsConnection } from "@nats-io/transport-node";
import { StorageType, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import { dvvWriterIdPattern, type DvvContext } from "../../shared/clock/dvv";
import { isDeviceId } from "../../shared/topics";
import { isCasConflict } from "../nats";
import { DeviceEvent, deviceEventSubject } from "../subjects";
import { checkField, deleteField, docView, encodeValue, joinFields, putField, shadowDelta, validateContext, validateFields } from "./document";
import {
  type FieldView, type ShadowChange, type ShadowDocView, type ShadowEvent, type ShadowFields, type ShadowHistoryEntry, type ShadowLimits, type ShadowOp,
  type ShadowOpChange, type ShadowView, type StoredShadow, ShadowDoc, ShadowError, ShadowErrorCode, ShadowOpKind, defaultShadowLimits, shadowDocs,
} from "./types";
import type { DvvSet } from "../../shared/clock/dvv";

export const shadowBucket = "XSF_SHADOW";

export interface ShadowBucketOptions {
  replicas: number;
  maxBytes: number;
}

export const defaultShadowBucketOptions: ShadowBucketOptions = { replicas: 1, maxBytes: 256 * 1024 * 1024 };

export async function ensureShadowBucket(js: JetStreamClient | NatsConnection, limits: ShadowLimits, opts: Partial<ShadowBucketOptions> = {}): Promise<KV> {
  const o = { ...defaultShadowBucketOptions, ...opts };
  const kvm = new Kvm(js);
  return kvm.create(shadowBucket, {
    replicas: o.replicas,
    history: limits.historyPerWriterMax,
    max_bytes: o.maxBytes,
    // One writer's replica: fieldsMax × writers × siblings × value, with JSON overhead.
    maxValueSize: storedBytesMax(limits),
    storage: StorageType.File,
    ttl: 0,
    // Reads go to the stream leader: a read after an acknowledged write sees it.
    allow_direct: false,
  }).catch((e: unknown) => {
    // Created by a node with other limits (value size, history): use it as it is.
    if (/already in use|different configuration/i.test((e as Error).message)) return kvm.open(shadowBucket);
    throw e;
  });
}

function storedBytesMax(l: ShadowLimits): number {
  return Math.min(1024 * 1024, l.fieldsMax * (l.writersMax * 96 + l.siblingsMax * (l.valueBytesMax + 96)) + 4096);
}

export function shadowKey(deviceId: string, doc: ShadowDoc, writer: string): string {
  return `${deviceId}.${doc}.${writer}`;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface ShadowWriteResult {
  doc: ShadowDoc;
  writer: string;
  revision: number;
  op: ShadowOp;
  /** The field after the write (put/delete), as the writer saw it. */
  field?: FieldView;
  /** write: every written field after the write. */
  fields?: Record<string, FieldView>;
  /** Fields a merge changed. */
  changed: string[];
  dotConflicts: number;
}

export interface ShadowStoreOptions {
  limits?: Partial<ShadowLimits>;
  now?: () => number;
  /** Publish a ShadowEvent after each stored change (default true). */
  events?: boolean;
}

export interface ShadowWriteOptions {
  /** Who asked (informational, kept in the history). */
  actor?: string;
  /** The caller's W3C traceparent: carried by the change's event, so the delta push joins the caller's trace. */
  traceparent?: string;
  /** Sees the joined document before the write, on every compare-and-set
   *  attempt (a retry re-reads); throws to refuse the write (the edge
   *  scheduler's fence: docs/shadow.md, "Configuration"). */
  guard?: (fields: ShadowFields) => void;
}

interface Replica {
  fields: Record<string, DvvSet>;
  /** Writer keys read, with their revisions. */
  writers: Map<string, number>;
}

export class ShadowStore {
  readonly limits: ShadowLimits;
  readonly #kv: KV;
  readonly #nc: NatsConnection;
  readonly #now: () => number;
  readonly #events: boolean;
  /** Per writer key, the tail of its write chain: one process writes a key in order. */
  readonly #chains = new Map<string, Promise<unknown>>();
  #dotConflicts = 0;
  #jsm: JetStreamManager | undefined;

  constructor(nc: NatsConnection, kv: KV, opts: ShadowStoreOptions = {}) {
    this.limits = { ...defaultShadowLimits, ...opts.limits };
    if (this.limits.historyPerWriterMax < 1 || this.limits.historyPerWriterMax > 64) throw new Error("historyPerWriterMax must be 1..64 (NATS KV history)");
    this.#nc = nc;
    this.#kv = kv;
    this.#now = opts.now ?? Date.now;
    this.#events = opts.events ?? true;
  }

  static async open(nc: NatsConnection, opts: ShadowStoreOptions & { bucket?: Partial<ShadowBucketOptions> } = {}): Promise<ShadowStore> {
    const limits = { ...defaultShadowLimits, ...opts.limits };
    const kv = await ensureShadowBucket(nc, limits, opts.bucket);
    return new ShadowStore(nc, kv, { ...opts, limits });
  }

  /** Dots seen with two different values since start (a writer reused counters). */
  get dotConflicts(): number {
    return this.#dotConflicts;
  }

  async get(deviceId: string): Promise<ShadowView> {
    checkDevice(deviceId);
    const [d, r] = await Promise.all([this.#read(deviceId, ShadowDoc.Desired), this.#read(deviceId, ShadowDoc.Reported)]);
    return {
      deviceId,
      desired: docView(d.fields, [...d.writers.keys()]),
      reported: docView(r.fields, [...r.writers.keys()]),
      delta: shadowDelta(d.fields, r.fields),
    };
  }

  async getDoc(deviceId: string, doc: ShadowDoc): Promise<ShadowDocView> {
    checkDevice(deviceId);
    checkDoc(doc);
    const r = await this.#read(deviceId, doc);
    return docView(r.fields, [...r.writers.keys()]);
  }

  /** The raw joined document (DVV sets): what a replica (the device) merges. */
  async fields(deviceId: string, doc: ShadowDoc): Promise<ShadowFields> {
    checkDevice(deviceId);
    checkDoc(doc);
    return (await this.#read(deviceId, doc)).fields;
  }

  /** Writes one field after a read that returned `context` ({} = a blind write: kept beside everything). */
  async put(deviceId: string, doc: ShadowDoc, writer: string, field: string, value: unknown, context: DvvContext, opts: Omit<ShadowWriteOptions, "guard"> = {}): Promise<ShadowWriteResult> {
    return this.write(deviceId, doc, writer, [{ field, value, context }], opts);
  }

  /** Removes the values of a field covered by `context`; values written concurrently stay. */
  async delete(deviceId: string, doc: ShadowDoc, writer: string, field: string, context: DvvContext, opts: Omit<ShadowWriteOptions, "guard"> = {}): Promise<ShadowWriteResult> {
    return this.write(deviceId, doc, writer, [{ field, deleted: true, context }], opts);
  }

  /**
   * Writes several fields in one compare-and-set of the writer's key (one
   * stored revision, one event): each a put or a delete with the caller's
   * context, or, without one, the context this write read (it replaces
   * what is stored; re-read on a retry). `opts.guard` may refuse the write
   * after seeing the joined document, inside the CAS loop.
   */
  async write(deviceId: string, doc: ShadowDoc, writer: string, changes: readonly ShadowChange[], opts: ShadowWriteOptions = {}): Promise<ShadowWriteResult> {
    if (changes.length === 0) throw new ShadowError(ShadowErrorCode.Invalid, "a write needs at least one field");
    if (changes.length > this.limits.fieldsMax) throw new ShadowError(ShadowErrorCode.TooLarge, `${changes.length} fields in one write (limit ${this.limits.fieldsMax})`);
    const seen = new Set<string>();
    const prepared = changes.map((c) => {
      checkField(c.field);
      if (seen.has(c.field)) throw new ShadowError(ShadowErrorCode.Invalid, `field ${c.field} twice in one write`);
      seen.add(c.field);
      const context = c.context === undefined ? undefined : validateContext(c.context, this.limits);
      return "deleted" in c ? { field: c.field, valueText: undefined, context } : { field: c.field, valueText: encodeValue(c.value, this.limits), context };
    });
    const actor = opts.actor;
    return this.#write(deviceId, doc, writer, opts.traceparent, (read) => {
      opts.guard?.(read);
      let fields: Record<string, DvvSet> = read;
      const done: ShadowOpChange[] = [];
      for (const c of prepared) {
        const ctx = c.context ?? fields[c.field]?.context ?? {};
        if (c.valueText === undefined) {
          fields = deleteField(fields, c.field, ctx, this.limits);
          done.push({ field: c.field, context: ctx });
        } else {
          const r = putField(fields, c.field, c.valueText, ctx, writer, this.limits);
          fields = r.fields;
          done.push({ field: c.field, value: JSON.parse(c.valueText) as unknown, context: ctx, dot: r.dot });
        }
      }
      const names = done.map((d) => d.field);
      const base = { fields: names, atMs: this.#now(), ...(actor ? { actor } : {}) };
      const one = done.length === 1 ? done[0]! : undefined;
      const op: ShadowOp = one === undefined
        ? { kind: ShadowOpKind.Write, ...base, changes: done }
        : one.dot !== undefined
          ? { kind: ShadowOpKind.Put, ...base, dot: one.dot, context: one.context, value: one.value }
          : { kind: ShadowOpKind.Delete, ...base, context: one.context };
      return { fields, op, ...(one !== undefined ? { field: one.field } : {}), written: names, changed: names };
    });
  }

  /** Joins a replica's document (a device report: its own DVV sets, edited
   *  offline or not) into the writer's key. Idempotent; order-insensitive. */
  async merge(deviceId: string, doc: ShadowDoc, writer: string, incoming: unknown, actor?: string): Promise<ShadowWriteResult> {
    const fields = validateFields(incoming, this.limits);
    return this.#write(deviceId, doc, writer, undefined, (cur) => {
      const j = joinFields(cur, fields, this.limits);
      this.#dotConflicts += j.dotConflicts;
      const op: ShadowOp = { kind: ShadowOpKind.Merge, fields: j.changed, atMs: this.#now(), ...(actor ? { actor } : {}) };
      return { fields: j.fields, op, changed: j.changed, dotConflicts: j.dotConflicts };
    });
  }

  /** Stored operations of one device, oldest first (each writer key keeps historyPerWriterMax). */
  async history(deviceId: string, doc?: ShadowDoc, limit = this.limits.historyReplyMax): Promise<ShadowHistoryEntry[]> {
    checkDevice(deviceId);
    if (doc !== undefined) checkDoc(doc);
    const out: ShadowHistoryEntry[] = [];
    for (const d of doc ? [doc] : shadowDocs) {
      for (const key of await this.#writerKeys(deviceId, d)) {
        const it = await this.#kv.history({ key });
        for await (const e of it) {
          if (e.operation !== "PUT") continue;
          const s = this.#decode(e, deviceId, d);
          out.push({ doc: d, writer: s.writer, revision: e.revision, op: s.op });
        }
      }
    }
    out.sort((a, b) => a.op.atMs - b.op.atMs || a.revision - b.revision);
    return out.slice(Math.max(0, out.length - Math.min(limit, this.limits.historyReplyMax)));
  }

  // The document's writer keys, from the stream leader: stream info with a
  // subjects filter. Not kv.keys(): its ordered consumer may read a lagging
  // replica of an R3 stream, and a read that misses a writer's key breaks
  // causality (the multi-writer checker test caught exactly that).
  async #writerKeys(deviceId: string, doc: ShadowDoc): Promise<string[]> {
    const prefix = `$KV.${shadowBucket}.`;
    this.#jsm ??= await jetstreamManager(this.#nc);
    const info = await this.#jsm.streams.info(`KV_${shadowBucket}`, { subjects_filter: `${prefix}${deviceId}.${doc}.*` });
    const keys = Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
    // Writes refuse a new writer at writersMax; new writers racing past it
    // are still read (up to twice the limit), never silently ignored.
    if (keys.length > 2 * this.limits.writersMax) throw new ShadowError(ShadowErrorCode.TooLarge, `device ${deviceId} ${doc}: ${keys.length} writers (limit ${this.limits.writersMax})`);
    return keys.sort();
  }

  #decode(e: KvEntry, deviceId: string, doc: ShadowDoc): StoredShadow {
    let s: StoredShadow;
    try {
      s = JSON.parse(dec.decode(e.value)) as StoredShadow;
    } catch {
      throw new Error(`shadow key ${e.key}: not JSON`);
    }
    if (s.v !== 1 || s.deviceId !== deviceId || s.doc !== doc) throw new Error(`shadow key ${e.key}: unexpected format v=${String(s.v)} device=${String(s.deviceId)} doc=${String(s.doc)}`);
    s.fields = validateFields(s.fields, this.limits, Number.MAX_SAFE_INTEGER);
    return s;
  }

  async #read(deviceId: string, doc: ShadowDoc): Promise<Replica> {
    const keys = await this.#writerKeys(deviceId, doc);
    const entries = await Promise.all(keys.map((k) => this.#kv.get(k)));
    let fields: Record<string, DvvSet> = {};
    const writers = new Map<string, number>();
    for (const e of entries) {
      if (!e || e.operation !== "PUT") continue;
      const s = this.#decode(e, deviceId, doc);
      const j = joinFields(fields, s.fields, this.limits);
      this.#dotConflicts += j.dotConflicts;
      fields = j.fields;
      writers.set(s.writer, e.revision);
    }
    return { fields, writers };
  }

  #write(
    deviceId: string, doc: ShadowDoc, writer: string, traceparent: string | undefined,
    change: ChangeFn,
  ): Promise<ShadowWriteResult> {
    checkDevice(deviceId);
    checkDoc(doc);
    if (!dvvWriterIdPattern.test(writer)) throw new ShadowError(ShadowErrorCode.Invalid, `bad writer id ${JSON.stringify(writer)}`);
    const key = shadowKey(deviceId, doc, writer);
    const prev = this.#chains.get(key) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(() => this.#writeOnce(deviceId, doc, writer, key, traceparent, change));
    this.#chains.set(key, run);
    // Forget the chain when it is idle, so the map holds only keys being written.
    void run.catch(() => undefined).then(() => { if (this.#chains.get(key) === run) this.#chains.delete(key); });
    return run;
  }

  async #writeOnce(
    deviceId: string, doc: ShadowDoc, writer: string, key: string, traceparent: string | undefined,
    change: ChangeFn,
  ): Promise<ShadowWriteResult> {
    for (let attempt = 0; attempt < this.limits.casRetriesMax; attempt++) {
      const cur = await this.#read(deviceId, doc);
      if (!cur.writers.has(writer) && cur.writers.size >= this.limits.writersMax) {
        throw new ShadowError(ShadowErrorCode.TooLarge, `device ${deviceId} ${doc} already has ${cur.writers.size} writers (limit ${this.limits.writersMax})`);
      }
      const c = change(cur.fields);
      const stored: StoredShadow = { v: 1, deviceId, doc, writer, fields: c.fields, op: c.op };
      const bytes = enc.encode(JSON.stringify(stored));
      const own = cur.writers.get(writer) ?? 0;
      let revision: number;
      try {
        revision = own === 0 ? await this.#kv.create(key, bytes) : await this.#kv.update(key, bytes, own);
      } catch (e) {
        if (isCasConflict(e)) continue; // our own key moved: a stale read; read again
        throw e;
      }
      const result: ShadowWriteResult = {
        doc, writer, revision, op: c.op, changed: c.changed, dotConflicts: c.dotConflicts ?? 0,
        ...(c.field !== undefined ? { field: fieldViewOf(c.fields, c.field) } : {}),
        ...(c.written !== undefined ? { fields: Object.fromEntries(c.written.map((f) => [f, fieldViewOf(c.fields, f)])) } : {}),
      };
      if (this.#events && (c.op.kind !== ShadowOpKind.Merge || c.changed.length > 0)) {
        const ev: ShadowEvent = { deviceId, event: DeviceEvent.Shadow, doc, writer, revision, op: c.op, ...(traceparent ? { traceparent } : {}) };
        this.#nc.publish(deviceEventSubject(deviceId, DeviceEvent.Shadow), JSON.stringify(ev));
      }
      return result;
    }
    throw new ShadowError(ShadowErrorCode.Contended, `shadow key ${key} changed under ${this.limits.casRetriesMax} attempts: is writer id ${writer} used by two processes?`);
  }
}

/** A pure change of the joined document, computed again on every CAS attempt. */
type ChangeFn = (fields: Record<string, DvvSet>) => {
  fields: Record<string, DvvSet>; op: ShadowOp; field?: string; written?: string[]; changed: string[]; dotConflicts?: number;
};

function fieldViewOf(fields: ShadowFields, field: string): FieldView {
  const v = docView(fields[field] ? { [field]: fields[field] } : {}, []).fields[field];
  return v ?? { values: [], siblings: [], context: {} };
}

function checkDevice(deviceId: string): void {
  if (!isDeviceId(deviceId)) throw new ShadowError(ShadowErrorCode.Invalid, `invalid device id ${JSON.stringify(deviceId)}`);
}

function checkDoc(doc: string): asserts doc is ShadowDoc {
  if (!(shadowDocs as readonly string[]).includes(doc)) throw new ShadowError(ShadowErrorCode.Invalid, `doc must be one of ${shadowDocs.join(", ")}`);
}
