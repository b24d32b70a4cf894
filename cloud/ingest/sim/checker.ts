// What must hold once the simulated system is quiet (every message acked):
//  - every valid (device, seq) is applied exactly once in the device state:
//    recorded in its dedup window, counted once in telemetry.batches and
//    telemetry.points, and nothing else is;
//  - the outputs (after Nats-Msg-Id dedup) hold each applied (device, seq)
//    exactly once — the out message and every history record — and nothing
//    for a seq that was not applied;
//  - no (device, seq) is both dead-lettered and output, and every corrupt
//    message is dead-lettered.
// Returns the violations found (empty: the run is correct).

import type { StoredDeviceState } from "../../state";
import { checkSeq, SeqVerdict, type SeqWindowData } from "../seq-window";
import { IngestSource } from "../types";

/** (device, seq) of a stored output or dead letter, by msg id. */
export type OutputRecords = ReadonlyMap<string, { readonly deviceId: string; readonly seq: number | null }>;

export interface SentDevice {
  readonly deviceId: string;
  /** Points per valid seq. */
  readonly valid: ReadonlyMap<number, number>;
  readonly corrupt: ReadonlySet<number>;
}

export interface CheckInput {
  readonly devices: readonly SentDevice[];
  /** The device state as stored at the end. */
  readonly stored: (deviceId: string) => StoredDeviceState | null;
  readonly outputs: { readonly out: OutputRecords; readonly history: OutputRecords; readonly deadLetters: OutputRecords };
  /** History records per applied seq: channels, 1 in batch layout, 0 without history. */
  readonly historyRecordsPerSeq: number;
}

function recordedSeqs(state: StoredDeviceState, seqMax: number): Set<number> {
  const stored = state.dedup[IngestSource.Telemetry];
  const out = new Set<number>();
  if (!stored) return out;
  const w: SeqWindowData = { hwm: stored.hwm, bits: new Uint8Array(Buffer.from(stored.bits, "base64")) };
  for (let s = 1; s <= Math.max(seqMax, w.hwm); s++) {
    const v = checkSeq(w, s);
    if (v === SeqVerdict.Stale) return new Set([-1]); // the window was too small for this run
    if (v === SeqVerdict.Duplicate) out.add(s);
  }
  return out;
}

const sameSet = (a: ReadonlySet<number>, b: ReadonlySet<number>): boolean => a.size === b.size && [...a].every((x) => b.has(x));
const show = (s: Iterable<number>): string => `[${[...s].sort((x, y) => x - y).join(",")}]`;

export function checkIngestRun(c: CheckInput): string[] {
  const problems: string[] = [];
  for (const d of c.devices) {
    const id = d.deviceId;
    const valid = new Set(d.valid.keys());
    const state = c.stored(id);
    if (!state) {
      if (valid.size > 0) problems.push(`${id}: no device state, ${valid.size} valid seqs sent`);
      continue;
    }
    const seqMax = Math.max(0, ...valid, ...d.corrupt);
    const applied = recordedSeqs(state, seqMax);
    if (applied.has(-1)) problems.push(`${id}: a sent seq fell out of the dedup window (the simulation's window must exceed its seqs)`);
    else if (!sameSet(applied, valid)) problems.push(`${id}: applied ${show(applied)}, valid sent ${show(valid)}`);
    const points = [...valid].reduce((n, s) => n + d.valid.get(s)!, 0);
    if (state.telemetry.batches !== valid.size) problems.push(`${id}: telemetry.batches ${state.telemetry.batches}, expected ${valid.size} (applied more or less than once)`);
    if (state.telemetry.points !== points) problems.push(`${id}: telemetry.points ${state.telemetry.points}, expected ${points}`);

    const outSeqs: number[] = [];
    for (const o of c.outputs.out.values()) if (o.deviceId === id && o.seq !== null) outSeqs.push(o.seq);
    if (outSeqs.length !== new Set(outSeqs).size) problems.push(`${id}: an out message twice after msg-id dedup`);
    if (!sameSet(new Set(outSeqs), valid)) problems.push(`${id}: out messages for ${show(outSeqs)}, expected ${show(valid)}`);
    const historyCount = new Map<number, number>();
    for (const h of c.outputs.history.values()) if (h.deviceId === id && h.seq !== null) historyCount.set(h.seq, (historyCount.get(h.seq) ?? 0) + 1);
    for (const s of valid) {
      if ((historyCount.get(s) ?? 0) !== c.historyRecordsPerSeq) problems.push(`${id}: seq ${s} has ${historyCount.get(s) ?? 0} history records, expected ${c.historyRecordsPerSeq}`);
    }
    for (const s of historyCount.keys()) if (!valid.has(s)) problems.push(`${id}: history record for seq ${s}, which was not applied`);

    const dead = new Set<number>();
    for (const x of c.outputs.deadLetters.values()) if (x.deviceId === id && x.seq !== null) dead.add(x.seq);
    for (const s of dead) if (valid.has(s) || outSeqs.includes(s)) problems.push(`${id}: seq ${s} both dead-lettered and output`);
    for (const s of d.corrupt) if (!dead.has(s)) problems.push(`${id}: corrupt seq ${s} was not dead-lettered`);
  }
  return problems;
}
