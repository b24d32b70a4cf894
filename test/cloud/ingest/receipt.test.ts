// Receipts the cloud builds (cloud/ingest/receipt.ts) are ones the device
// accepts (firmware/device/receipts.ts checkReceipt), whatever their size.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildReceipts, coalesce } from "../../../cloud/ingest/receipt";
import { checkReceipt, decodeReceiptEnvelope, ReceiptVerdict } from "../../../firmware/device/receipts";
import { receiptRangesMax, receiptSpanMax } from "../../../shared/proto/limits";
import { createEnvelope, encodeEnvelope, schemaVersion } from "../../../shared/proto/xsfleet.gen";

describe("receipts", () => {
  it("coalesces seqs into sorted ranges, without duplicates", () => {
    expect(coalesce([5, 3, 4, 9, 9, 1])).toEqual([{ first: 1, last: 1 }, { first: 3, last: 5 }, { first: 9, last: 9 }]);
    expect(coalesce([])).toEqual([]);
    expect(() => coalesce([0])).toThrow();
  });

  it("splits ranges wider than the span bound and lists longer than the ranges bound", () => {
    const span = Array.from({ length: 10 }, (_, i) => i + 1);
    expect(coalesce(span, 4)).toEqual([{ first: 1, last: 4 }, { first: 5, last: 8 }, { first: 9, last: 10 }]);
    const odd = Array.from({ length: 2 * receiptRangesMax + 3 }, (_, i) => 2 * i + 1); // no two adjacent
    const rs = buildReceipts(7, odd, [2, 4]);
    expect(rs.length).toBe(3);
    expect(rs.map((r) => r.confirmed.length)).toEqual([receiptRangesMax, receiptRangesMax, 3]);
    expect(rs[0]!.rejected).toEqual([{ first: 2, last: 2 }, { first: 4, last: 4 }]);
    expect(buildReceipts(7, [], [])).toEqual([]);
  });

  it("every receipt built for seqs a device sent passes its checkReceipt, through the wire encoding", () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 3000 }), { maxLength: 600 }), fc.integer({ min: 1, max: 0xffffffff }), (seqs, epoch) => {
      const confirmed = seqs.filter((s) => s % 3 !== 0);
      const rejected = seqs.filter((s) => s % 3 === 0);
      const nextSeq = Math.max(0, ...seqs) + 1;
      const seen = new Set<number>();
      for (const r of buildReceipts(epoch, confirmed, rejected)) {
        const wire = decodeReceiptEnvelope(encodeEnvelope(createEnvelope({ schemaVersion, deviceId: "d", receipt: r }))).receipt!;
        expect(checkReceipt(wire, epoch, nextSeq).verdict).toBe(ReceiptVerdict.Apply);
        for (const g of [...wire.confirmed, ...wire.rejected]) for (let s = g.first; s <= g.last; s++) seen.add(s);
      }
      expect(seen).toEqual(new Set(seqs));
    }), { numRuns: 200 });
  });

  it("a huge contiguous run stays within the span bound", () => {
    const n = receiptSpanMax + 5;
    const seqs = Array.from({ length: n }, (_, i) => i + 1);
    const [r] = buildReceipts(1, seqs, []);
    expect(r!.confirmed).toEqual([{ first: 1, last: receiptSpanMax }, { first: receiptSpanMax + 1, last: n }]);
    expect(checkReceipt(r!, 1, n + 1).verdict).toBe(ReceiptVerdict.Apply);
  });
});
