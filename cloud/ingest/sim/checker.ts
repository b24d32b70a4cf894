// What must hold once the simulated system is quiet (every message acked,
// every device outbox answered), per device (docs/delivery.md, "Exactly-once
// rules", Invariant):
//  - a (device, epoch, seq) is applied at most once: telemetry.batches and
//    .points in the stored state equal the distinct outputs, and every
//    output is a valid message the device sent;
//  - every seq the device considers confirmed is recorded exactly once: one
//    out message and its history records (after Nats-Msg-Id dedup);
//  - no (device, seq) is both dead-lettered and output; a device never gets
//    a valid message rejected; every corrupt message it sent is dead-lettered
//    when answered, and rejected, never confirmed;
//  - receipts obey the wire bounds; the dedup record keeps its invariants.
// Returns the violations found (empty: the run is correct).
import type { StoredDeviceState } from "../../state";
import { checkDedup } from "../dedup";
import type { Receipt } from "../../../shared/proto/xsfleet.gen";
import type { EpochLedger } from "./devices";
import type { DeadLetterRecord, OutputRecord } from "./model";

export type OutputRecords = ReadonlyMap<string, OutputRecord>;

export interface SentDevice {
  readonly deviceId: string;
  readonly ledgers: readonly EpochLedger[];
  readonly badReceipts: ReadonlyArray<{ why: string; receipt: Receipt }>;
  /** Poison seqs injected on this device's topic, with the epoch they carried. */
  readonly poison: ReadonlyArray<{ epoch: number; seq: number }>;
}

export interface CheckInput {
  readonly devices: readonly SentDevice[];
  /** The device state as stored at the end. */
  readonly stored: (deviceId: string) => StoredDeviceState | null;
  readonly outputs: { readonly out: OutputRecords; readonly history: OutputRecords; readonly deadLetters: ReadonlyMap<string, DeadLetterRecord> };
  /** History records per applied seq: channels, 1 in batch layout, 0 without history. */
  readonly historyRecordsPerSeq: number;
  readonly dedupRangesMax: number;
}

const key = (space: number, seq: number): string => `${space}:${seq}`;

export function checkIngestRun(c: CheckInput): string[] {
  const problems: string[] = [];
  for (const d of c.devices) {
    const id = d.deviceId;
    const p = (msg: string): void => { problems.push(`${id}: ${msg}`); };
    // The device refuses a receipt naming a seq it never sent: fine only for
    // one that rejects nothing but forged (poison) seqs.
    const forged = (r: Receipt): boolean => r.confirmed.length === 0 && r.rejected.every((g) => g.first === g.last && d.poison.some((q) => q.seq === g.first));
    for (const b of d.badReceipts) if (!forged(b.receipt)) p(`receipt out of bounds: ${b.why}`);
    // What the device sent, by seq space (the epoch naming its seqs in outputs).
    const valid = new Map<string, number>();
    const corrupt = new Set<string>();
    const confirmed = new Set<string>();
    const spaceOf = new Map<number, number>();
    for (const l of d.ledgers) {
      spaceOf.set(l.epoch, l.space);
      for (const [s, n] of l.valid) valid.set(key(l.space, s), n);
      for (const s of l.corrupt) corrupt.add(key(l.space, s));
      for (const s of l.confirmed) confirmed.add(key(l.space, s));
      for (const s of l.rejected) if (!l.corrupt.has(s)) p(`valid seq ${s} of epoch ${l.epoch} was rejected`);
      for (const s of l.confirmed) if (l.corrupt.has(s)) p(`corrupt seq ${s} of epoch ${l.epoch} was confirmed`);
    }
    // Outputs by the device's seq space (an upgraded 0 -> e chain is one
    // space): the same seq under two msg ids counts twice.
    const canon = (o: OutputRecord): string => key(spaceOf.get(o.epoch) ?? -1, o.seq);
    const outs = new Map<string, number>();
    for (const o of c.outputs.out.values()) if (o.deviceId === id) outs.set(canon(o), (outs.get(canon(o)) ?? 0) + 1);
    const history = new Map<string, number>();
    for (const h of c.outputs.history.values()) if (h.deviceId === id) history.set(canon(h), (history.get(canon(h)) ?? 0) + 1);
    // An output of a seq the device never had confirmed may be partial: an
    // attempt published it, crashed before its state write, and the seq was
    // never applied again (its epoch ended with a wipe, or the device
    // dropped it). Never twice, never for something not sent.
    for (const [k, n] of outs) {
      if (n !== 1) p(`out message ${k} ${n} times after msg-id dedup`);
      if (!valid.has(k)) p(`output ${k} is not a valid message the device sent`);
    }
    for (const [k, n] of history) if (n > c.historyRecordsPerSeq) p(`seq ${k} has ${n} history records, expected at most ${c.historyRecordsPerSeq}`);
    for (const k of confirmed) {
      if (!outs.has(k)) p(`confirmed ${k} is not recorded (no output)`);
      if ((history.get(k) ?? 0) !== c.historyRecordsPerSeq) p(`confirmed ${k} has ${history.get(k) ?? 0} history records, expected ${c.historyRecordsPerSeq}`);
    }

    const dead = new Set<string>();
    for (const x of c.outputs.deadLetters.values()) {
      if (x.deviceId !== id || x.seq === null || x.epoch === null) continue;
      const isPoison = d.poison.some((q) => q.epoch === x.epoch && q.seq === x.seq);
      const space = spaceOf.get(x.epoch);
      if (space === undefined) { if (!isPoison) p(`dead letter of unknown epoch ${x.epoch} seq ${x.seq}`); continue; }
      dead.add(key(space, x.seq));
      if (outs.has(key(space, x.seq))) p(`seq ${key(space, x.seq)} both dead-lettered and output${isPoison ? " (poison)" : ""}`);
    }
    for (const q of d.poison) {
      const space = spaceOf.get(q.epoch);
      if (space !== undefined && outs.has(key(space, q.seq))) p(`poison seq ${q.seq} was output`);
    }
    for (const l of d.ledgers) for (const s of l.rejected) if (!dead.has(key(l.space, s))) p(`rejected ${key(l.space, s)} is not in the dead letters`);

    const state = c.stored(id);
    const points = [...outs.keys()].reduce((n, k) => n + (valid.get(k) ?? 0), 0);
    if (!state) {
      if (outs.size > 0) p(`no device state, ${outs.size} outputs`);
      continue;
    }
    // Applied at most once: the state counts no more than the distinct outputs, and at least the confirmed ones.
    if (state.telemetry.batches > outs.size || state.telemetry.batches < confirmed.size) {
      p(`telemetry.batches ${state.telemetry.batches}, ${outs.size} distinct outputs, ${confirmed.size} confirmed (applied more than once, or a confirmed one not)`);
    }
    if (state.telemetry.points > points) p(`telemetry.points ${state.telemetry.points} > ${points} of the distinct outputs`);
    const broken = checkDedup(state.dedup, c);
    if (broken) p(`dedup record: ${broken}`);
  }
  return problems;
}
