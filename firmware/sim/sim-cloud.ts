// A small cloud stand-in for simulations (no platform APIs: runs on XS too).
// It plays ingest's delivery rules (docs/delivery.md, "Exactly-once rules")
// for every device on a MemoryBroker and answers with Receipts on the
// device's rcpt topic, batched per device as ranges a few ms later:
//
// - per device: the current epoch, the last `retiredEpochsMax` retired ones
//   (their messages are ignored, no receipt), and for the current epoch a
//   floor (every seq <= floor is settled, raised from settled_below - 1) and
//   the exact seqs recorded or rejected above it;
// - a new epoch resets that record, except 0 -> e (firmware without epochs
//   upgraded: the seqs continue);
// - a fresh seq is applied (recorded) or, with `rejectRate`, dead-lettered
//   and receipted as rejected, deterministically from `random`; a repeat gets
//   the same answer again; a seq at or below the floor is confirmed (the
//   device no longer holds it).
//
// Faults on the path (loss, duplication, lost receipts) are the broker's
// (MemoryBroker.setFaults); `hold(true)` withholds every receipt.
// With `keepRecords`, every applied and dead-lettered (device, epoch, seq) is
// kept with a hash of its bytes, so a simulation can check "confirmed ⇒
// recorded once, with these bytes". Without, memory stays bounded: at most
// `rangesMax` ranges above each device's floor (the lowest merged into it).
import { fnv1a32 } from "../../shared/crdt/wire";
import { receiptRangesMax } from "../../shared/proto/limits";
import { createEnvelope, createReceipt, createSeqRange, decodeEnvelope, encodeEnvelope, schemaVersion, type SeqRange } from "../../shared/proto/xsfleet.gen";
import { Downlink, Uplink, deviceTopic, parseDeviceAddress } from "../../shared/topics";
import type { Random, TimerId } from "../platform";
import type { BrokerMessage, MemoryBroker } from "./memory-broker";

export interface SimCloudOptions {
  /** Draws the rejections (required when rejectRate > 0). */
  random?: Random;
  /** Fraction of fresh messages dead-lettered (receipted as rejected). */
  rejectRate?: number;
  /** Delay before a device's pending receipt goes out (batches several seqs). */
  receiptDelayMs?: number;
  keepRecords?: boolean;
  /** Ranges kept above a device's floor before the lowest merge into it. */
  rangesMax?: number;
}

export interface SimCloudStats {
  applied: number;
  deadLettered: number;
  duplicates: number;
  settled: number;
  retiredEpoch: number;
  epochChanges: number;
  dedupOverflow: number;
  bad: number;
  receiptsSent: number;
  receiptsHeld: number;
}

/** What the stand-in recorded for one (device, epoch, seq). */
export interface SimRecord {
  /** Times applied; dead-lettered ones count in `rejected` instead. */
  applied: number;
  rejected: number;
  /** Repeats of this (epoch, seq) with other bytes: a reused seq, whose later message dedup would lose. */
  conflicts: number;
  /** FNV-1a 32 of the envelope bytes first seen. */
  hash: number;
}

export const retiredEpochsMax = 4;
const rangesMaxDefault = 256;

export class SimCloud {
  readonly #broker: MemoryBroker;
  readonly #random: Random | undefined;
  readonly #rejectRate: number;
  readonly #delayMs: number;
  readonly #rangesMax: number;
  readonly #devices = new Map<string, Ledger>();
  readonly #records: Map<string, SimRecord> | undefined;
  #held = false;
  #downlinkSeq = 0;
  readonly stats: SimCloudStats = {
    applied: 0, deadLettered: 0, duplicates: 0, settled: 0, retiredEpoch: 0, epochChanges: 0, dedupOverflow: 0, bad: 0, receiptsSent: 0, receiptsHeld: 0,
  };

  constructor(broker: MemoryBroker, opts: SimCloudOptions = {}) {
    this.#broker = broker;
    this.#random = opts.random;
    this.#rejectRate = opts.rejectRate ?? 0;
    if (!(this.#rejectRate >= 0 && this.#rejectRate <= 1)) throw new Error(`rejectRate must be in 0..1, got ${this.#rejectRate}`);
    if (this.#rejectRate > 0 && this.#random === undefined) throw new Error("rejectRate needs a random source");
    this.#delayMs = opts.receiptDelayMs ?? 2;
    this.#rangesMax = opts.rangesMax ?? rangesMaxDefault;
    this.#records = opts.keepRecords === true ? new Map() : undefined;
    broker.subscribe("xsfleet/v1/dev/+/+", (m) => this.#onMessage(m));
  }

  /** Withholds receipts (true: they are discarded, as if lost) or sends them again. */
  hold(held: boolean): void {
    this.#held = held;
  }

  /** The record of (device, epoch, seq), with keepRecords. */
  record(deviceId: string, epoch: number, seq: number): SimRecord | undefined {
    return this.#records?.get(recordKey(deviceId, epoch, seq));
  }

  /** Every record, keyed "device/epoch/seq" (keepRecords). */
  records(): ReadonlyMap<string, SimRecord> {
    return this.#records ?? new Map();
  }

  /** The current epoch and floor of a device (diagnostics). */
  ledger(deviceId: string): { epoch: number; floor: number } | undefined {
    const l = this.#devices.get(deviceId);
    return l === undefined ? undefined : { epoch: l.epoch, floor: l.floor };
  }

  #onMessage(m: BrokerMessage): void {
    const addr = parseDeviceAddress(m.topic);
    if (addr === null || !isUplink(addr.kind)) return;
    let seq: number;
    let epoch: number;
    let settledBelow: number;
    try {
      const env = decodeEnvelope(m.payload);
      seq = env.seq;
      epoch = env.epoch;
      settledBelow = env.settledBelow;
    } catch {
      this.stats.bad++;
      return;
    }
    if (!(seq >= 1)) {
      this.stats.bad++;
      return;
    }
    const l = this.#ledger(addr.deviceId, epoch);
    if (l === undefined) return; // a retired epoch: ignored, no receipt
    if (settledBelow - 1 > l.floor) this.#raiseFloor(l, settledBelow - 1);
    const key = recordKey(addr.deviceId, epoch, seq);
    if (seq <= l.floor) {
      this.stats.settled++;
      this.#answer(l, seq, false);
    } else if (has(l.recorded, seq)) {
      this.stats.duplicates++;
      const r = this.#records?.get(key);
      if (r !== undefined && r.hash !== fnv1a32(m.payload)) r.conflicts++;
      this.#answer(l, seq, false);
    } else if (has(l.rejected, seq)) {
      this.#answer(l, seq, true);
    } else if (this.#rejectRate > 0 && this.#random!.u32() / 4294967296 < this.#rejectRate) {
      add(l.rejected, seq);
      this.stats.deadLettered++;
      this.#keep(key, m.payload, true);
      this.#answer(l, seq, true);
    } else {
      add(l.recorded, seq);
      this.stats.applied++;
      this.#keep(key, m.payload, false);
      this.#answer(l, seq, false);
    }
    this.#bound(l);
  }

  /** The ledger for a message of `epoch`, or undefined when that epoch is retired. */
  #ledger(deviceId: string, epoch: number): Ledger | undefined {
    let l = this.#devices.get(deviceId);
    if (l === undefined) {
      l = { deviceId, epoch, retired: [], floor: 0, recorded: [], rejected: [], confirmedOut: [], rejectedOut: [], timer: undefined };
      this.#devices.set(deviceId, l);
      return l;
    }
    if (l.epoch === epoch) return l;
    if (l.retired.indexOf(epoch) >= 0) {
      this.stats.retiredEpoch++;
      return undefined;
    }
    this.#flush(l); // receipts of the old epoch go out first
    this.stats.epochChanges++;
    l.retired.push(l.epoch);
    if (l.retired.length > retiredEpochsMax) l.retired.shift();
    const carry = l.epoch === 0;
    l.epoch = epoch;
    if (!carry) {
      l.floor = 0;
      l.recorded = [];
      l.rejected = [];
    }
    return l;
  }

  #raiseFloor(l: Ledger, floor: number): void {
    l.floor = floor;
    dropThrough(l.recorded, floor);
    dropThrough(l.rejected, floor);
  }

  /** Merges the lowest ranges into the floor while there are too many. */
  #bound(l: Ledger): void {
    while (l.recorded.length + l.rejected.length > 2 * this.#rangesMax) {
      const lowest = Math.min(l.recorded.length > 0 ? l.recorded[1]! : Infinity, l.rejected.length > 0 ? l.rejected[1]! : Infinity);
      this.stats.dedupOverflow++;
      this.#raiseFloor(l, lowest);
    }
  }

  #keep(key: string, payload: Uint8Array, rejected: boolean): void {
    if (this.#records === undefined) return;
    this.#records.set(key, { applied: rejected ? 0 : 1, rejected: rejected ? 1 : 0, conflicts: 0, hash: fnv1a32(payload) });
  }

  #answer(l: Ledger, seq: number, rejected: boolean): void {
    (rejected ? l.rejectedOut : l.confirmedOut).push(seq);
    if (l.timer === undefined) l.timer = this.#broker.timers.set(() => this.#flush(l), this.#delayMs);
  }

  #flush(l: Ledger): void {
    if (l.timer !== undefined) this.#broker.timers.clear(l.timer);
    l.timer = undefined;
    if (l.confirmedOut.length === 0 && l.rejectedOut.length === 0) return;
    const confirmed = toRanges(l.confirmedOut);
    const rejected = toRanges(l.rejectedOut);
    l.confirmedOut = [];
    l.rejectedOut = [];
    // At most receiptRangesMax ranges per list and receipt (the device refuses more).
    for (let i = 0; i < confirmed.length || i < rejected.length; i += receiptRangesMax) {
      const receipt = createReceipt({ epoch: l.epoch, confirmed: confirmed.slice(i, i + receiptRangesMax), rejected: rejected.slice(i, i + receiptRangesMax) });
      if (this.#held) {
        this.stats.receiptsHeld++;
        continue;
      }
      this.stats.receiptsSent++;
      const env = createEnvelope({ schemaVersion, deviceId: l.deviceId, seq: ++this.#downlinkSeq, receipt });
      this.#broker.publish(deviceTopic(l.deviceId, Downlink.Receipt), encodeEnvelope(env));
    }
  }
}

interface Ledger {
  readonly deviceId: string;
  epoch: number;
  retired: number[];
  floor: number;
  /** Sorted disjoint inclusive ranges, flattened: [first0, last0, first1, last1, …]. */
  recorded: number[];
  rejected: number[];
  /** Seqs answered since the last receipt went out. */
  confirmedOut: number[];
  rejectedOut: number[];
  timer: TimerId | undefined;
}

const uplinkKinds: readonly string[] = Object.freeze([Uplink.Hello, Uplink.Heartbeat, Uplink.Telemetry, Uplink.Counters, Uplink.CommandAck, Uplink.Status]);

function isUplink(kind: string): boolean {
  return uplinkKinds.indexOf(kind) >= 0;
}

function recordKey(deviceId: string, epoch: number, seq: number): string {
  return `${deviceId}/${epoch}/${seq}`;
}

// ---- flattened range sets ----

function has(r: readonly number[], seq: number): boolean {
  for (let i = 0; i < r.length; i += 2) {
    if (seq < r[i]!) return false;
    if (seq <= r[i + 1]!) return true;
  }
  return false;
}

function add(r: number[], seq: number): void {
  let i = 0;
  while (i < r.length && r[i + 1]! < seq - 1) i += 2;
  if (i < r.length && r[i]! <= seq + 1) {
    // Touches or overlaps range i: widen it, then merge with the next if they meet.
    if (seq < r[i]!) r[i] = seq;
    if (seq > r[i + 1]!) r[i + 1] = seq;
    if (i + 2 < r.length && r[i + 2]! <= r[i + 1]! + 1) {
      r[i + 1] = r[i + 3]! > r[i + 1]! ? r[i + 3]! : r[i + 1]!;
      r.splice(i + 2, 2);
    }
    return;
  }
  r.splice(i, 0, seq, seq);
}

function dropThrough(r: number[], floor: number): void {
  let cut = 0;
  while (cut < r.length && r[cut + 1]! <= floor) cut += 2;
  if (cut > 0) r.splice(0, cut);
  if (r.length > 0 && r[0]! <= floor) r[0] = floor + 1;
}

function toRanges(seqs: number[]): SeqRange[] {
  seqs.sort((a, b) => a - b);
  const out: SeqRange[] = [];
  for (let i = 0; i < seqs.length; i++) {
    const first = seqs[i]!;
    let last = first;
    while (i + 1 < seqs.length && seqs[i + 1]! <= last + 1) last = seqs[++i]!;
    out.push(createSeqRange({ first, last }));
  }
  return out;
}
