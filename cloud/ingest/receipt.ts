// Receipts for one device batch (docs/delivery.md, Wire): the seqs of the
// device's current epoch that ingest recorded durably (confirmed: applied,
// known duplicate, settled) or dead-lettered (rejected), as coalesced
// inclusive ranges. Pure.
//
// Bounds, as firmware/device/receipts.ts `checkReceipt` checks them: every
// range ordered and at most `receiptSpanMax` seqs wide, at most
// `receiptRangesMax` ranges per list and receipt (a longer answer is split
// into several receipts). Only seqs the device sent appear (the caller passes
// the seqs of the batch), so none is above the device's next seq.
import { receiptRangesMax, receiptSpanMax } from "../../shared/proto/limits";
import { createReceipt, createSeqRange, type Receipt, type SeqRange } from "../../shared/proto/xsfleet.gen";

/** Sorted, deduplicated `seqs` as ranges no wider than `spanMax`. */
export function coalesce(seqs: readonly number[], spanMax = receiptSpanMax): SeqRange[] {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const out: SeqRange[] = [];
  for (const s of sorted) {
    if (!(Number.isSafeInteger(s) && s >= 1)) throw new Error(`receipt seq ${s} is not a device seq`);
    const last = out[out.length - 1];
    if (last && last.last === s - 1 && s - last.first < spanMax) last.last = s;
    else out.push(createSeqRange({ first: s, last: s }));
  }
  return out;
}

/** The receipts answering a batch: empty when both lists are empty. A seq in
 *  both lists is a caller bug (recorded and dead-lettered). */
export function buildReceipts(epoch: number, confirmed: readonly number[], rejected: readonly number[], rangesMax = receiptRangesMax): Receipt[] {
  if (!(Number.isInteger(rangesMax) && rangesMax >= 1)) throw new Error(`rangesMax must be >= 1, got ${rangesMax}`);
  const c = coalesce(confirmed);
  const r = coalesce(rejected);
  const out: Receipt[] = [];
  for (let i = 0; i * rangesMax < Math.max(c.length, r.length); i++) {
    out.push(createReceipt({ epoch, confirmed: c.slice(i * rangesMax, (i + 1) * rangesMax), rejected: r.slice(i * rangesMax, (i + 1) * rangesMax) }));
  }
  return out;
}
