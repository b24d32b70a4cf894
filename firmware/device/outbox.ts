// Store-and-forward queue of encoded envelopes waiting for a PUBACK.
//
// - Persisted: one storage record per message (key "o" + base-36 seq), so a
//   push or an ack costs one small write, and a restart reloads the queue in
//   seq order. A message leaves only on its PUBACK (`ack`).
// - Bounded: `messagesMax` and `bytesMax`. When a push would exceed them the
//   oldest telemetry is dropped first, then the oldest other non-ack message;
//   command acks are never dropped. If nothing droppable is left the new
//   message is rejected. Every drop and rejection is counted.
// - In order, with at most `inflightMax` messages published and unacked.
//   After a disconnect every inflight message is pending again and is resent
//   in seq order (the cloud deduplicates on (device id, seq)).
//
// Invariants: entries are sorted by id; inflight === number of entries with
// state Inflight; bytes === sum of payload lengths; entries.length <=
// messagesMax and bytes <= bytesMax after every push.
import type { Storage } from "../platform";
import { keyNumber } from "./bytes";

export const MessageClass = Object.freeze({ Telemetry: 0, Ack: 1, Other: 2 } as const);
export type MessageClass = (typeof MessageClass)[keyof typeof MessageClass];

export interface OutboxLimits {
  messagesMax: number;
  bytesMax: number;
  inflightMax: number;
}

export const outboxDefaults: OutboxLimits = Object.freeze({ messagesMax: 256, bytesMax: 64 * 1024, inflightMax: 8 });

const EntryState = Object.freeze({ Pending: 0, Inflight: 1 } as const);
type EntryState = (typeof EntryState)[keyof typeof EntryState];

export interface OutboxEntry {
  /** The envelope seq: unique and increasing. */
  readonly id: number;
  /** Index into the caller's table of topics. */
  readonly kind: number;
  readonly cls: MessageClass;
  readonly payload: Uint8Array;
  state: EntryState;
}

export const PushResult = Object.freeze({ Accepted: 0, Rejected: 1 } as const);
export type PushResult = (typeof PushResult)[keyof typeof PushResult];

export interface OutboxStats {
  depth: number;
  bytes: number;
  inflight: number;
  /** Messages dropped to make room (telemetry first). */
  dropped: number;
  droppedTelemetry: number;
  /** New messages refused because only acks were left to drop. */
  rejected: number;
  acked: number;
}

const keyPrefix = "o";
const keyDigits = 11; // 36^11 > 2^53
const recordVersion = 1;
const recordHeaderBytes = 3; // version, kind, class

export class Outbox {
  readonly #storage: Storage;
  readonly #limits: OutboxLimits;
  readonly #entries: OutboxEntry[] = [];
  #bytes = 0;
  #inflight = 0;
  #dropped = 0;
  #droppedTelemetry = 0;
  #rejected = 0;
  #acked = 0;

  constructor(storage: Storage, limits: OutboxLimits) {
    checkOutboxLimits(limits);
    this.#storage = storage;
    this.#limits = limits;
    this.#load();
  }

  get depth(): number {
    return this.#entries.length;
  }

  get inflight(): number {
    return this.#inflight;
  }

  stats(): OutboxStats {
    return {
      depth: this.#entries.length, bytes: this.#bytes, inflight: this.#inflight, dropped: this.#dropped,
      droppedTelemetry: this.#droppedTelemetry, rejected: this.#rejected, acked: this.#acked,
    };
  }

  /** Adds a message (persisted before this returns) or rejects it. */
  push(id: number, kind: number, cls: MessageClass, payload: Uint8Array): PushResult {
    const last = this.#entries[this.#entries.length - 1];
    if (last !== undefined && id <= last.id) throw new Error(`outbox ids must increase: ${id} after ${last.id}`);
    if (!(kind >= 0 && kind <= 255)) throw new Error(`outbox kind ${kind} out of range`);
    const size = payload.length;
    if (size > this.#limits.bytesMax) {
      this.#rejected++;
      return PushResult.Rejected;
    }
    while (this.#entries.length + 1 > this.#limits.messagesMax || this.#bytes + size > this.#limits.bytesMax) {
      if (!this.#dropOne()) {
        this.#rejected++;
        return PushResult.Rejected;
      }
    }
    const entry: OutboxEntry = { id, kind, cls, payload, state: EntryState.Pending };
    this.#storage.write(keyOf(id), encodeRecord(entry));
    this.#entries.push(entry);
    this.#bytes += size;
    return PushResult.Accepted;
  }

  /** The oldest pending message if the inflight window has room. */
  nextToSend(): OutboxEntry | undefined {
    if (this.#inflight >= this.#limits.inflightMax) return undefined;
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.state === EntryState.Pending) return e;
    }
    return undefined;
  }

  markInflight(e: OutboxEntry): void {
    if (e.state !== EntryState.Pending) throw new Error(`outbox entry ${e.id} is not pending`);
    e.state = EntryState.Inflight;
    this.#inflight++;
  }

  /** PUBACK for `id`: removes it. False when it was already gone (dropped or acked). */
  ack(id: number): boolean {
    const i = this.#indexOf(id);
    if (i < 0) return false;
    this.#removeAt(i);
    this.#acked++;
    return true;
  }

  /** After a disconnect: everything inflight becomes pending again. */
  resetInflight(): void {
    for (const e of this.#entries) e.state = EntryState.Pending;
    this.#inflight = 0;
  }

  /** Ids in queue order (tests and diagnostics). */
  ids(): number[] {
    return this.#entries.map((e) => e.id);
  }

  #dropOne(): boolean {
    let victim = this.#firstOf(MessageClass.Telemetry);
    if (victim < 0) victim = this.#firstOf(MessageClass.Other);
    if (victim < 0) return false;
    if (this.#entries[victim]!.cls === MessageClass.Telemetry) this.#droppedTelemetry++;
    this.#removeAt(victim);
    this.#dropped++;
    return true;
  }

  #firstOf(cls: MessageClass): number {
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) if (entries[i]!.cls === cls) return i;
    return -1;
  }

  #indexOf(id: number): number {
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) if (entries[i]!.id === id) return i;
    return -1;
  }

  #removeAt(i: number): void {
    const e = this.#entries[i]!;
    this.#storage.remove(keyOf(e.id));
    this.#entries.splice(i, 1);
    this.#bytes -= e.payload.length;
    if (e.state === EntryState.Inflight) this.#inflight--;
  }

  #load(): void {
    const keys = this.#storage.keys(keyPrefix).sort();
    for (const key of keys) {
      const id = parseInt(key.slice(keyPrefix.length), 36);
      const rec = this.#storage.read(key);
      const e = rec === undefined || !(id > 0) ? undefined : decodeRecord(id, rec);
      if (e === undefined) {
        // A torn or foreign record: drop it, counted, rather than refuse to boot.
        this.#storage.remove(key);
        this.#dropped++;
        continue;
      }
      this.#entries.push(e);
      this.#bytes += e.payload.length;
    }
    // A smaller limit after a firmware update: trim like a push would.
    while (this.#entries.length > this.#limits.messagesMax || this.#bytes > this.#limits.bytesMax) {
      if (!this.#dropOne()) break;
    }
  }
}

export function checkOutboxLimits(l: OutboxLimits): void {
  for (const [name, v] of [["messagesMax", l.messagesMax], ["bytesMax", l.bytesMax], ["inflightMax", l.inflightMax]] as const) {
    if (!(Number.isSafeInteger(v) && v >= 1)) throw new Error(`outbox ${name} must be a positive integer, got ${v}`);
  }
}

function keyOf(id: number): string {
  return keyPrefix + keyNumber(id, keyDigits);
}

function encodeRecord(e: OutboxEntry): Uint8Array {
  const rec = new Uint8Array(recordHeaderBytes + e.payload.length);
  rec[0] = recordVersion;
  rec[1] = e.kind;
  rec[2] = e.cls;
  rec.set(e.payload, recordHeaderBytes);
  return rec;
}

function decodeRecord(id: number, rec: Uint8Array): OutboxEntry | undefined {
  if (rec.length < recordHeaderBytes || rec[0] !== recordVersion) return undefined;
  const cls = rec[2]!;
  if (cls !== MessageClass.Telemetry && cls !== MessageClass.Ack && cls !== MessageClass.Other) return undefined;
  // slice, not subarray: an exact-size buffer that owns its bytes.
  return { id, kind: rec[1]!, cls, payload: rec.slice(recordHeaderBytes), state: EntryState.Pending };
}
