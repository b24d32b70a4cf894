// Store-and-forward queue of encoded envelopes, kept until the cloud
// confirms them (docs/delivery.md).
//
// - States: Pending -> Inflight (published, waiting for the PUBACK) -> Sent
//   (PUBACK seen, waiting for a Receipt) -> removed when a Receipt names the
//   seq, as confirmed or as rejected (`settle`). The PUBACK only frees the
//   inflight slot: nats-server 2.9 PUBACKs messages its streams can still
//   lose. A receipt removes an entry in any state.
// - Resends: a Sent entry without a receipt by its due time is Pending again
//   (`expire`) and goes out again in seq order; the cloud deduplicates on
//   (epoch, seq). The wait is uniform in [w/2, w] ("equal jitter" from the
//   platform Random, so a fleet that lost its cloud together does not resend
//   in lock-step), w = min(receiptTimeoutCapMs, receiptTimeoutMs * 2^n), n =
//   expiries since a receipt last removed an entry — per outbox: a silent or
//   rate-limiting cloud slows every resend, one lost receipt does not.
//   After a disconnect every Inflight and Sent entry is Pending (`requeue`).
// - Persisted: one storage record per message (key "o" + base-36 seq),
//   written before `push` returns, deleted on removal. States are not
//   persisted: after a restart every entry is Pending and is resent in order.
// - Bounded: `messagesMax` and `bytesMax`. A message above `messageBytesMax`
//   (the cloud's ingest limit; the broker would PUBACK and drop it) is
//   refused, counted as oversized. When a push would exceed the limits the
//   oldest telemetry is dropped first, then the oldest other non-ack
//   message; command acks are never dropped. If nothing droppable is left
//   the new message is rejected. Every drop and refusal is counted.
// - In order, with at most `inflightMax` entries Inflight.
//
// settled_below (`settledBelow`): the lowest id held, else the caller's next
// seq. Ids only grow and leave, so it never decreases; every seq below it
// was confirmed, rejected or dropped and is never sent again.
//
// Invariants (`assertInvariants`): ids strictly increase; inflight === number
// of Inflight entries <= inflightMax; bytes === sum of payload lengths;
// depth <= messagesMax and bytes <= bytesMax after every push; dueMs >= 0
// exactly for Sent entries.
import type { Random, Storage } from "../platform";
import { uplinkBytesMax } from "../../shared/proto/limits";
import { backoffWindowMs, type BackoffPolicy } from "./backoff";
import { keyNumber } from "./bytes";

export const MessageClass = Object.freeze({ Telemetry: 0, Ack: 1, Other: 2 } as const);
export type MessageClass = (typeof MessageClass)[keyof typeof MessageClass];

export interface OutboxLimits {
  messagesMax: number;
  bytesMax: number;
  inflightMax: number;
  /** Largest message accepted (the cloud's ingest limit). */
  messageBytesMax: number;
  /** First wait for a receipt after the PUBACK, before resending. */
  receiptTimeoutMs: number;
  /** The wait doubles per silent expiry up to this. */
  receiptTimeoutCapMs: number;
}

export const outboxDefaults: OutboxLimits = Object.freeze({
  messagesMax: 256, bytesMax: 64 * 1024, inflightMax: 8, messageBytesMax: uplinkBytesMax, receiptTimeoutMs: 10_000, receiptTimeoutCapMs: 120_000,
});

const EntryState = Object.freeze({ Pending: 0, Inflight: 1, Sent: 2 } as const);
type EntryState = (typeof EntryState)[keyof typeof EntryState];

export interface OutboxEntry {
  /** The envelope seq: unique and increasing. */
  readonly id: number;
  /** Index into the caller's table of topics. */
  readonly kind: number;
  readonly cls: MessageClass;
  payload: Uint8Array;
  state: EntryState;
  /** Sent: uptime ms when it is resent without a receipt; -1 otherwise. */
  dueMs: number;
  /** Publications in this boot (more than one: retransmits). */
  sends: number;
}

export const PushResult = Object.freeze({ Accepted: 0, Rejected: 1, Oversized: 2 } as const);
export type PushResult = (typeof PushResult)[keyof typeof PushResult];

export interface OutboxStats {
  depth: number;
  bytes: number;
  inflight: number;
  /** PUBACKed, waiting for a receipt. */
  sent: number;
  /** Messages dropped to make room (telemetry first). */
  dropped: number;
  droppedTelemetry: number;
  /** New messages refused: only acks were left to drop, or larger than messageBytesMax. */
  rejected: number;
  /** Of those, refused for being larger than messageBytesMax. */
  oversized: number;
  /** PUBACKs for Inflight entries. */
  acked: number;
  /** Entries removed by a receipt that confirmed them. */
  receiptConfirmed: number;
  /** Entries removed by a receipt that rejected them (dead-lettered by the cloud). */
  receiptRejected: number;
  /** Seqs a receipt named that the outbox does not hold (live messages, repeats). */
  receiptUnknown: number;
  /** Publications of an entry already published in this boot. */
  retransmits: number;
}

const keyPrefix = "o";
const keyDigits = 11; // 36^11 > 2^53
const recordVersion = 1;
const recordHeaderBytes = 3; // version, kind, class

export class Outbox {
  readonly #storage: Storage;
  readonly #limits: OutboxLimits;
  readonly #random: Random;
  readonly #receiptPolicy: BackoffPolicy;
  readonly #entries: OutboxEntry[] = [];
  #bytes = 0;
  #inflight = 0;
  /** Expiries since a receipt last removed an entry (the backoff exponent). */
  #silentExpiries = 0;
  #dropped = 0;
  #droppedTelemetry = 0;
  #rejected = 0;
  #oversized = 0;
  #acked = 0;
  #receiptConfirmed = 0;
  #receiptRejected = 0;
  #receiptUnknown = 0;
  #retransmits = 0;

  constructor(storage: Storage, limits: OutboxLimits, random: Random) {
    checkOutboxLimits(limits);
    this.#storage = storage;
    this.#limits = limits;
    this.#random = random;
    this.#receiptPolicy = { baseMs: limits.receiptTimeoutMs, capMs: limits.receiptTimeoutCapMs };
    this.#load();
  }

  get depth(): number {
    return this.#entries.length;
  }

  get inflight(): number {
    return this.#inflight;
  }

  stats(): OutboxStats {
    let sent = 0;
    for (const e of this.#entries) if (e.state === EntryState.Sent) sent++;
    return {
      depth: this.#entries.length, bytes: this.#bytes, inflight: this.#inflight, sent, dropped: this.#dropped,
      droppedTelemetry: this.#droppedTelemetry, rejected: this.#rejected, oversized: this.#oversized, acked: this.#acked,
      receiptConfirmed: this.#receiptConfirmed, receiptRejected: this.#receiptRejected, receiptUnknown: this.#receiptUnknown,
      retransmits: this.#retransmits,
    };
  }

  /** Adds a message (persisted before this returns) or refuses it. */
  push(id: number, kind: number, cls: MessageClass, payload: Uint8Array): PushResult {
    const last = this.#entries[this.#entries.length - 1];
    if (last !== undefined && id <= last.id) throw new Error(`outbox ids must increase: ${id} after ${last.id}`);
    if (!(kind >= 0 && kind <= 255)) throw new Error(`outbox kind ${kind} out of range`);
    const size = payload.length;
    if (size > this.#limits.messageBytesMax) {
      this.#oversized++;
      this.#rejected++;
      return PushResult.Oversized;
    }
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
    const entry: OutboxEntry = { id, kind, cls, payload, state: EntryState.Pending, dueMs: -1, sends: 0 };
    this.#storage.write(keyOf(id), encodeRecord(entry));
    this.#entries.push(entry);
    this.#bytes += size;
    return PushResult.Accepted;
  }

  /** The oldest Pending message if the inflight window has room. */
  nextToSend(): OutboxEntry | undefined {
    if (this.#inflight >= this.#limits.inflightMax) return undefined;
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.state === EntryState.Pending) return e;
    }
    return undefined;
  }

  /** The caller published `e`. */
  markInflight(e: OutboxEntry): void {
    if (e.state !== EntryState.Pending) throw new Error(`outbox entry ${e.id} is not pending`);
    if (e.sends > 0) this.#retransmits++;
    e.sends++;
    e.state = EntryState.Inflight;
    this.#inflight++;
  }

  /**
   * PUBACK for `id` at uptime `nowMs`: frees its inflight slot and starts its
   * receipt timeout. False when it is not Inflight (gone, or requeued).
   */
  puback(id: number, nowMs: number): boolean {
    const i = this.#indexOf(id);
    const e = i < 0 ? undefined : this.#entries[i]!;
    if (e === undefined || e.state !== EntryState.Inflight) return false;
    e.state = EntryState.Sent;
    e.dueMs = nowMs + this.#receiptWaitMs();
    this.#inflight--;
    this.#acked++;
    return true;
  }

  /**
   * A receipt names seqs first..last (inclusive) as confirmed or rejected:
   * the entries among them leave, in any state. Returns how many left.
   */
  settle(first: number, last: number, rejected: boolean, onRemoved?: (id: number) => void): number {
    if (!(first >= 1 && last >= first)) throw new Error(`bad seq range ${first}..${last}`);
    const entries = this.#entries;
    let i = this.#lowerBound(first);
    let n = 0;
    while (i < entries.length && entries[i]!.id <= last) {
      const id = entries[i]!.id;
      this.#removeAt(i);
      n++;
      if (onRemoved !== undefined) onRemoved(id);
    }
    if (rejected) this.#receiptRejected += n;
    else this.#receiptConfirmed += n;
    this.#receiptUnknown += last - first + 1 - n;
    if (n > 0) this.#silentExpiries = 0;
    return n;
  }

  /** Sent entries due by `nowMs` become Pending again; returns how many. */
  expire(nowMs: number): number {
    let n = 0;
    for (const e of this.#entries) {
      if (e.state === EntryState.Sent && e.dueMs <= nowMs) {
        e.state = EntryState.Pending;
        e.dueMs = -1;
        n++;
      }
    }
    if (n > 0) this.#silentExpiries++;
    return n;
  }

  /** Earliest due time of a Sent entry, or -1 when none waits. */
  nextDueMs(): number {
    let due = -1;
    for (const e of this.#entries) if (e.state === EntryState.Sent && (due < 0 || e.dueMs < due)) due = e.dueMs;
    return due;
  }

  /** After a disconnect: every Inflight and Sent entry becomes Pending again. */
  requeue(): void {
    for (const e of this.#entries) {
      e.state = EntryState.Pending;
      e.dueMs = -1;
    }
    this.#inflight = 0;
  }

  /** The envelope field settled_below: the lowest id held, else `nextSeq`. */
  settledBelow(nextSeq: number): number {
    const first = this.#entries[0];
    return first !== undefined ? first.id : nextSeq;
  }

  /**
   * Replaces stored payloads once (firmware upgrade: old envelopes get the
   * new epoch). `fn` returns the new bytes, or undefined to keep an entry.
   */
  rewrite(fn: (e: OutboxEntry) => Uint8Array | undefined): void {
    for (const e of this.#entries) {
      const p = fn(e);
      if (p === undefined) continue;
      this.#bytes += p.length - e.payload.length;
      e.payload = p;
      this.#storage.write(keyOf(e.id), encodeRecord(e));
    }
    this.#trim();
  }

  /** Ids in queue order (tests and diagnostics). */
  ids(): number[] {
    return this.#entries.map((e) => e.id);
  }

  /** Throws when an invariant of the header does not hold (tests call it after every step). */
  assertInvariants(): void {
    const entries = this.#entries;
    let bytes = 0;
    let inflight = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (i > 0 && e.id <= entries[i - 1]!.id) throw new Error(`outbox ids out of order at ${i}`);
      if (e.state === EntryState.Inflight) inflight++;
      if ((e.state === EntryState.Sent) !== (e.dueMs >= 0)) throw new Error(`outbox entry ${e.id}: dueMs ${e.dueMs} in state ${e.state}`);
      bytes += e.payload.length;
    }
    if (inflight !== this.#inflight || inflight > this.#limits.inflightMax) throw new Error(`outbox inflight ${this.#inflight}, counted ${inflight}`);
    if (bytes !== this.#bytes) throw new Error(`outbox bytes ${this.#bytes}, counted ${bytes}`);
    if (entries.length > this.#limits.messagesMax || bytes > this.#limits.bytesMax) throw new Error("outbox over its limits");
  }

  #receiptWaitMs(): number {
    const w = backoffWindowMs(this.#receiptPolicy, this.#silentExpiries);
    const half = Math.floor(w / 2);
    return w - half + Math.floor((this.#random.u32() / 4294967296) * (half + 1));
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
    const i = this.#lowerBound(id);
    return i < this.#entries.length && this.#entries[i]!.id === id ? i : -1;
  }

  /** Index of the first entry with id >= `id` (entries are sorted). */
  #lowerBound(id: number): number {
    const entries = this.#entries;
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entries[mid]!.id < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #removeAt(i: number): void {
    const e = this.#entries[i]!;
    this.#storage.remove(keyOf(e.id));
    this.#entries.splice(i, 1);
    this.#bytes -= e.payload.length;
    if (e.state === EntryState.Inflight) this.#inflight--;
  }

  /** Drops like a push would until within the limits (smaller limits after an update). */
  #trim(): void {
    while (this.#entries.length > this.#limits.messagesMax || this.#bytes > this.#limits.bytesMax) {
      if (!this.#dropOne()) break;
    }
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
    this.#trim();
  }
}

export function checkOutboxLimits(l: OutboxLimits): void {
  const names = ["messagesMax", "bytesMax", "inflightMax", "messageBytesMax", "receiptTimeoutMs", "receiptTimeoutCapMs"] as const;
  for (const name of names) {
    const v = l[name];
    if (!(Number.isSafeInteger(v) && v >= 1)) throw new Error(`outbox ${name} must be a positive integer, got ${v}`);
  }
  if (l.receiptTimeoutCapMs < l.receiptTimeoutMs) throw new Error(`outbox receiptTimeoutCapMs must be >= receiptTimeoutMs, got ${l.receiptTimeoutCapMs}`);
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
  return { id, kind: rec[1]!, cls, payload: rec.slice(recordHeaderBytes), state: EntryState.Pending, dueMs: -1, sends: 0 };
}
