// Simulated devices for the ingest simulation: the delivery rules of
// firmware/device (docs/delivery.md, Device) reduced to what ingest sees.
// A device stamps each telemetry message with its epoch, seq and
// settled_below (the lowest seq in its outbox, or its next seq), keeps it in
// its outbox until a receipt of its epoch names it (confirmed or rejected),
// and resends it with the same bytes after `receiptTimeoutMs`. It may wipe
// its flash (a new epoch, seqs from 1, the outbox lost). A legacy device
// (epoch 0: firmware before receipts) sends no settled_below, ignores
// receipts and forgets a message once published (it trusted the PUBACK:
// a publish lost after it is lost for good, and never owed); upgraded, it
// gets an epoch e and its seqs continue (0 -> e). Receipts are checked against the wire
// bounds (shared/proto/limits.ts, as firmware/device/receipts.ts does); a
// receipt breaking one is a simulation failure.
import { receiptRangesMax, receiptSpanMax } from "../../../shared/proto/limits";
import type { Receipt, SeqRange } from "../../../shared/proto/xsfleet.gen";
import { randomInt, type RandomSource } from "../../base";
import { telemetryMessage } from "./model";

interface Entry {
  seq: number;
  points: number;
  corrupt: boolean;
  data: Uint8Array;
  dueMs: number;
}

/** What one (epoch) of a device sent and learned, for the checker. */
export interface EpochLedger {
  readonly epoch: number;
  /** The epoch naming these seqs in output msg ids (0 after 0 -> e). */
  readonly space: number;
  /** Points per valid seq sent. */
  readonly valid: Map<number, number>;
  readonly corrupt: Set<number>;
  readonly confirmed: Set<number>;
  readonly rejected: Set<number>;
}

export class SimDevice {
  readonly ledgers: EpochLedger[] = [];
  /** Receipts that broke a wire bound, refused whole (only a receipt rejecting a forged seq may). */
  readonly badReceipts: Array<{ why: string; receipt: Receipt }> = [];
  #epoch: number;
  #space: number;
  #next = 1;
  #outbox: Entry[] = [];
  retransmits = 0;

  constructor(readonly deviceId: string, legacy: boolean, readonly random: RandomSource, readonly receiptTimeoutMs: number) {
    this.#epoch = legacy ? 0 : this.#newEpoch();
    this.#space = this.#epoch;
    this.#ledger();
  }

  get epoch(): number {
    return this.#epoch;
  }

  get outboxDepth(): number {
    return this.#outbox.length;
  }

  #newEpoch(): number {
    return 1 + randomInt(this.random, 0xfffffffe);
  }

  #ledger(): EpochLedger {
    let l = this.ledgers.find((x) => x.epoch === this.#epoch);
    if (!l) this.ledgers.push((l = { epoch: this.#epoch, space: this.#space, valid: new Map(), corrupt: new Set(), confirmed: new Set(), rejected: new Set() }));
    return l;
  }

  #settledBelow(): number {
    return this.#outbox.length > 0 ? this.#outbox[0]!.seq : this.#next;
  }

  #encode(e: Omit<Entry, "data" | "dueMs">, settledBelow: number): Uint8Array {
    return telemetryMessage(this.deviceId, e.seq, e.points, e.corrupt, this.#epoch, settledBelow).data;
  }

  /** The next message (kept until a receipt names it). */
  send(nowMs: number, corrupt: boolean): { subject: string; data: Uint8Array } {
    const seq = this.#next++;
    const points = 1 + randomInt(this.random, 4);
    const l = this.#ledger();
    if (corrupt) l.corrupt.add(seq);
    else l.valid.set(seq, points);
    const base = { seq, points, corrupt };
    const legacy = this.#epoch === 0;
    const data = this.#encode(base, legacy ? 0 : Math.min(this.#settledBelow(), seq));
    if (!legacy) this.#outbox.push({ ...base, data, dueMs: nowMs + this.#timeout() });
    return { subject: telemetryMessage(this.deviceId, seq, 1, false).subject, data };
  }

  #timeout(): number {
    return this.receiptTimeoutMs / 2 + randomInt(this.random, this.receiptTimeoutMs / 2 + 1);
  }

  /** Entries whose receipt is overdue, resent with their first bytes. */
  due(nowMs: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const e of this.#outbox) {
      if (e.dueMs > nowMs) continue;
      e.dueMs = nowMs + this.#timeout();
      out.push(e.data);
      this.retransmits++;
    }
    return out;
  }

  /** Flash wiped: a new epoch, seqs from 1, the outbox gone (never confirmed: not owed). */
  wipe(): void {
    this.#epoch = this.#newEpoch();
    this.#space = this.#epoch;
    this.#next = 1;
    this.#outbox = [];
    this.#ledger();
  }

  /** A legacy device upgraded: epoch 0 -> e, seqs continue, the outbox re-stamped. */
  /** Legacy firmware replaced by one with epochs: 0 -> e, seqs continue (its outbox is empty: it kept nothing). */
  upgrade(): boolean {
    if (this.#epoch !== 0) return false;
    const old = this.#ledger();
    this.#epoch = this.#newEpoch(); // #space stays 0: the seqs continue
    const l = this.#ledger();
    // Unanswered seqs move to the new epoch's ledger (the same seq space).
    for (const e of this.#outbox) {
      if (e.corrupt) { old.corrupt.delete(e.seq); l.corrupt.add(e.seq); }
      else { old.valid.delete(e.seq); l.valid.set(e.seq, e.points); }
    }
    const sb = this.#settledBelow();
    for (const e of this.#outbox) e.data = this.#encode(e, Math.min(sb, e.seq));
    return true;
  }

  onReceipt(r: Receipt): void {
    if (r.epoch !== this.#epoch || this.#epoch === 0) return;
    const why = this.#checkRanges(r.confirmed) ?? this.#checkRanges(r.rejected);
    if (why) {
      this.badReceipts.push({ why, receipt: r });
      return;
    }
    const l = this.#ledger();
    const drop = (ranges: readonly SeqRange[], into: Set<number>): void => {
      for (const g of ranges) {
        this.#outbox = this.#outbox.filter((e) => {
          if (e.seq < g.first || e.seq > g.last) return true;
          into.add(e.seq);
          return false;
        });
      }
    };
    drop(r.confirmed, l.confirmed);
    drop(r.rejected, l.rejected);
  }

  #checkRanges(ranges: readonly SeqRange[]): string | undefined {
    if (ranges.length > receiptRangesMax) return `more than ${receiptRangesMax} ranges`;
    for (const g of ranges) {
      if (!(g.first >= 1 && g.last >= g.first)) return `range ${g.first}..${g.last}`;
      if (g.last >= this.#next) return `range ${g.first}..${g.last} beyond next ${this.#next}`;
      if (g.last - g.first + 1 > receiptSpanMax) return `range ${g.first}..${g.last} too wide`;
    }
    return undefined;
  }
}
