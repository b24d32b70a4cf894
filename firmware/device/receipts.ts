// Receipts from the cloud (topic xsfleet/v1/dev/<id>/rcpt, QoS 0,
// docs/delivery.md): the seqs of this device's epoch that ingest recorded
// durably (confirmed) or dead-lettered (rejected). The device forgets an
// outbox message only when a receipt names it. A lost receipt only delays
// that: the message is resent after its receipt timeout and the cloud's
// dedup answers again.
//
// Bounded before anything is applied: a receipt is decoded with at most
// `receiptRangesMax` ranges per list, each range must be ordered, name only
// seqs this device has handed out (last < next seq) and span at most
// `receiptSpanMax` seqs. A receipt that breaks a bound is refused whole
// (counted by the caller), never half-applied.
import { decodeEnvelope, type Envelope, type Receipt, type SeqRange } from "../../shared/proto/xsfleet.gen";
import { defaultDecodeLimits, type DecodeLimits } from "../../shared/proto/wire";
import { receiptRangesMax, receiptSpanMax } from "../../shared/proto/limits";

const receiptDecodeLimits: DecodeLimits = Object.freeze({ ...defaultDecodeLimits, repeatedMax: receiptRangesMax });

/** Decodes a rcpt downlink with the receipt bounds (throws ProtoError beyond them). */
export function decodeReceiptEnvelope(payload: Uint8Array): Envelope {
  return decodeEnvelope(payload, receiptDecodeLimits);
}

export const ReceiptVerdict = Object.freeze({ Apply: 0, OtherEpoch: 1, Bad: 2 } as const);
export type ReceiptVerdict = (typeof ReceiptVerdict)[keyof typeof ReceiptVerdict];

export interface ReceiptCheck {
  verdict: ReceiptVerdict;
  /** Why a receipt is Bad (for the log). */
  reason: string;
}

/** Whether `r` may be applied by a device in `epoch` whose next seq is `nextSeq`. */
export function checkReceipt(r: Receipt, epoch: number, nextSeq: number): ReceiptCheck {
  if (r.epoch !== epoch) return { verdict: ReceiptVerdict.OtherEpoch, reason: "" };
  const why = checkRanges(r.confirmed, nextSeq) ?? checkRanges(r.rejected, nextSeq);
  return why === undefined ? { verdict: ReceiptVerdict.Apply, reason: "" } : { verdict: ReceiptVerdict.Bad, reason: why };
}

function checkRanges(ranges: readonly SeqRange[], nextSeq: number): string | undefined {
  if (ranges.length > receiptRangesMax) return `more than ${receiptRangesMax} ranges`;
  for (const g of ranges) {
    if (!(g.first >= 1 && g.last >= g.first)) return `range ${g.first}..${g.last} is empty or starts below 1`;
    if (g.last >= nextSeq) return `range ${g.first}..${g.last} names seqs not sent yet (next ${nextSeq})`;
    if (g.last - g.first + 1 > receiptSpanMax) return `range ${g.first}..${g.last} spans more than ${receiptSpanMax} seqs`;
  }
  return undefined;
}
