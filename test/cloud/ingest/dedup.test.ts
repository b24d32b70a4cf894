// The exactly-once rules of docs/delivery.md, one test per rule, on the pure
// record (cloud/ingest/dedup.ts) and through applyBatch where the message
// kind matters (live kinds below the floor, receipts).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { applyBatch, ItemOutcome, type IngestItem } from "../../../cloud/ingest/apply";
import { admitSeq, checkDedup, DedupVerdict, hwmOf, isRecorded, recordSeq, retiredEpochsMax } from "../../../cloud/ingest/dedup";
import { defaultIngestConfig } from "../../../cloud/ingest/settings";
import { decodeDeviceMessage, DlqReason } from "../../../cloud/records";
import { dedupFromV1Window, decodeState, emptyDedup, emptyDeviceState, encodeState, type StoredDedup } from "../../../cloud/state";
import { encodeEnvelope, type Envelope } from "../../../shared/proto/xsfleet.gen";
import { heartbeatEnvelope, kindOf, statusEnvelope, telemetryEnvelope } from "./helpers";

const lim = { dedupRangesMax: 8, seqJumpMax: 1 << 24 };
const id = "dev-dedup";

function rec(epoch: number, floor = 0, ranges: Array<[number, number]> = []): StoredDedup {
  return { ...emptyDedup(), epoch, epochSinceMs: 1, floor, ranges };
}

function item(env: Envelope, streamSeq: number, timeMs = streamSeq): IngestItem {
  const d = decodeDeviceMessage(`xsfleet.v1.dev.${id}.${kindOf(env)}`, encodeEnvelope(env), defaultIngestConfig);
  if (!d.ok) throw new Error(d.detail);
  return { msg: d, streamSeq, timeMs };
}

const tele = (seq: number, epoch: number, settledBelow = 0): Envelope => ({ ...telemetryEnvelope(id, seq, 2), epoch, settledBelow });

describe("dedup record", () => {
  it("rule 1: a retired epoch is ignored and changes nothing", () => {
    const d = { ...rec(7, 3), retiredEpochs: [5] };
    const before = structuredClone(d);
    expect(admitSeq(d, 5, 9, 9, 100, lim).verdict).toBe(DedupVerdict.RetiredEpoch);
    expect(d).toEqual(before);
  });

  it("rule 2: a new epoch retires the current one and starts over; at most 4 retired", () => {
    const d = rec(7, 10, [[12, 14]]);
    const a = admitSeq(d, 8, 1, 1, 100, lim);
    expect(a).toEqual({ verdict: DedupVerdict.New, epochChanged: true, carriedOver: false });
    expect(d).toMatchObject({ epoch: 8, floor: 0, ranges: [], retiredEpochs: [7], epochSinceMs: 100 });
    for (let e = 9; e < 9 + retiredEpochsMax + 2; e++) admitSeq(d, e, 1, 1, 100 + e, lim);
    expect(d.retiredEpochs.length).toBe(retiredEpochsMax);
    expect(checkDedup(d, lim)).toBeNull();
  });

  it("rule 2: a message of an unknown epoch stored before the current epoch began is older: ignored, its epoch retired", () => {
    const d = rec(8, 5);
    d.epochSinceMs = 500;
    expect(admitSeq(d, 7, 6, 6, 400, lim).verdict).toBe(DedupVerdict.RetiredEpoch);
    expect(d.epoch).toBe(8);
    expect(d.retiredEpochs).toContain(7);
    // Before any epoch started (or after a v1 migration) there is nothing to be older than.
    const fresh = emptyDedup();
    expect(admitSeq(fresh, 5, 1, 1, 0, lim)).toMatchObject({ verdict: DedupVerdict.New, epochChanged: true });
  });

  it("0 -> e carries the record over (the seqs continue); a restart at 1 does not", () => {
    const up = rec(0, 0, [[3, 9]]);
    const a = admitSeq(up, 4242, 10, 10, 100, lim);
    expect(a).toMatchObject({ verdict: DedupVerdict.New, epochChanged: true, carriedOver: true });
    expect(hwmOf(up)).toBe(9);
    expect(admitSeq(up, 4242, 5, 10, 101, lim).verdict).toBe(DedupVerdict.Settled); // the old record answers
    expect(up.retiredEpochs).toEqual([0]);
    // Wiped and flashed with epoch firmware: seqs from 1, settled_below 1.
    const wiped = rec(0, 0, [[1, 9]]);
    expect(admitSeq(wiped, 4243, 1, 1, 100, lim)).toMatchObject({ verdict: DedupVerdict.New, carriedOver: false });
    expect(wiped.floor).toBe(0);
  });

  it("rule 3: settled_below raises the floor and drops the ranges below it", () => {
    const d = rec(7, 0, [[3, 4], [6, 6], [9, 12]]);
    expect(admitSeq(d, 7, 13, 7, 1, lim).verdict).toBe(DedupVerdict.New);
    // floor 6, then 9..12 stays; 7, 8 unknown
    expect(d.floor).toBe(6);
    expect(d.ranges).toEqual([[9, 12]]);
    expect(checkDedup(d, lim)).toBeNull();
  });

  it("rule 4: settled, duplicate, and a seq jump that changes nothing", () => {
    const d = rec(7, 5, [[8, 9]]);
    expect(admitSeq(d, 7, 4, 0, 1, lim).verdict).toBe(DedupVerdict.Settled);
    expect(admitSeq(d, 7, 9, 0, 1, lim).verdict).toBe(DedupVerdict.Duplicate);
    const before = structuredClone(d);
    expect(admitSeq(d, 7, 2 ** 31, 2 ** 31, 1, lim).verdict).toBe(DedupVerdict.SeqJump);
    expect(admitSeq(d, 99, 2 ** 31, 2 ** 31, 5, lim).verdict).toBe(DedupVerdict.SeqJump); // not even a new epoch
    expect(d).toEqual(before);
    expect(admitSeq(d, 7, hwmOf(d) + lim.seqJumpMax, 0, 1, lim).verdict).toBe(DedupVerdict.New); // the bound itself passes
  });

  it("rule 5 and overflow: ranges coalesce, the lowest merge into the floor beyond dedupRangesMax", () => {
    const d = rec(7);
    for (const s of [3, 5, 4, 1, 2]) expect(recordSeq(d, s, lim)).toBe(0);
    expect(d).toMatchObject({ floor: 5, ranges: [] });
    let overflow = 0;
    for (let s = 7; s <= 7 + 2 * (lim.dedupRangesMax + 2); s += 2) overflow += recordSeq(d, s, lim);
    expect(overflow).toBe(3);
    expect(d.ranges.length).toBe(lim.dedupRangesMax);
    expect(checkDedup(d, lim)).toBeNull();
    expect(() => recordSeq(d, d.floor, lim)).toThrow();
  });

  it("keeps its invariants and records exactly the seqs recorded (random operations)", () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 0, max: 80 })), { maxLength: 120 }), (ops) => {
      const d = rec(7);
      const recorded = new Set<number>();
      let floor = 0;
      for (const [s, b0] of ops) {
        const b = Math.min(b0, s);
        const a = admitSeq(d, 7, s, b, 1, { ...lim, dedupRangesMax: 1000 });
        floor = Math.max(floor, b - 1);
        if (a.verdict === DedupVerdict.New) { recordSeq(d, s, { dedupRangesMax: 1000 }); recorded.add(s); }
        else if (a.verdict === DedupVerdict.Duplicate) expect(recorded.has(s)).toBe(true);
        else expect(a.verdict).toBe(DedupVerdict.Settled);
        expect(checkDedup(d, { dedupRangesMax: 1000 })).toBeNull();
        for (let q = 1; q <= 80; q++) if (q > floor && recorded.has(q)) expect(isRecorded(d, q)).toBe(true);
        for (let q = floor + 1; q <= 80; q++) if (!recorded.has(q)) expect(isRecorded(d, q)).toBe(q <= d.floor);
      }
    }), { numRuns: 300 });
  });
});

describe("exactly-once rules through applyBatch", () => {
  it("the 2^31 message changes nothing for the real device", () => {
    let st = emptyDeviceState(id);
    st = applyBatch(st, [item(tele(1, 7, 1), 1), item(tele(2, 7, 1), 2)], lim).state;
    const poison = applyBatch(st, [item(tele(2 ** 31, 7, 2 ** 31), 3)], lim);
    expect(poison.outcomes).toEqual([ItemOutcome.Rejected]);
    expect(poison.rejections[0]?.reason).toBe(DlqReason.SeqJump);
    expect(poison.state.dedup).toEqual(st.dedup);
    expect(poison.changed).toBe(false);
    // Its rejection travels in a receipt of its own (the device refuses a receipt naming a seq it never sent).
    expect(poison.receipts).toEqual([{ epoch: 7, confirmed: [], rejected: [{ first: 2 ** 31, last: 2 ** 31 }] }]);
    const next = applyBatch(poison.state, [item(tele(3, 7, 3), 4), item(tele(4, 7, 3), 5)], lim);
    expect(next.outcomes).toEqual([ItemOutcome.Applied, ItemOutcome.Applied]);
    expect(next.state.telemetry.batches).toBe(4);
    expect(next.receipts).toEqual([{ epoch: 7, confirmed: [{ first: 3, last: 4 }], rejected: [] }]);
  });

  it("an epoch change starts over at 1 (same seqs applied again), and the old epoch gets no receipt", () => {
    let st = applyBatch(emptyDeviceState(id), [item(tele(1, 7, 1), 1), item(tele(2, 7, 1), 2)], lim).state;
    const r = applyBatch(st, [item(tele(1, 8, 1), 3, 10), item(tele(2, 7, 1), 4, 11)], lim);
    expect(r.outcomes).toEqual([ItemOutcome.Applied, ItemOutcome.Ignored]);
    expect(r.epochChanges).toBe(1);
    expect(r.retiredEpoch).toBe(1);
    expect(r.receipts).toEqual([{ epoch: 8, confirmed: [{ first: 1, last: 1 }], rejected: [] }]);
    st = r.state;
    expect(st.telemetry.batches).toBe(3);
    expect(r.telemetry.map((t) => [t.epoch, t.seq])).toEqual([[8, 1]]);
  });

  it("a resend below the floor is confirmed again without a second apply", () => {
    const st = applyBatch(emptyDeviceState(id), [item(tele(1, 7, 1), 1), item(tele(2, 7, 2), 2)], lim).state;
    const again = applyBatch(st, [item(tele(1, 7, 1), 3), item(tele(2, 7, 2), 4)], lim);
    expect(again.outcomes).toEqual([ItemOutcome.Duplicate, ItemOutcome.Duplicate]);
    expect(again.changed).toBe(false);
    expect(again.telemetry).toEqual([]);
    expect(again.receipts).toEqual([{ epoch: 7, confirmed: [{ first: 1, last: 2 }], rejected: [] }]);
  });

  it("live kinds below the floor still act (a will sets presence) and never count twice", () => {
    let st = applyBatch(emptyDeviceState(id), [item({ ...heartbeatEnvelope(id, 1, 1), epoch: 7, settledBelow: 1 }, 1), item(tele(3, 7, 3), 2)], lim).state;
    expect(st.dedup.floor).toBe(3);
    expect(st.presence.state).toBe("online");
    // The will was encoded at CONNECT (seq 1): below the floor now.
    const will = { ...statusEnvelope(id, 1, false), epoch: 7, settledBelow: 1 };
    const r = applyBatch(st, [item(will, 3, 50)], lim);
    expect(r.state.presence.state).toBe("offline");
    expect(r.changed).toBe(true);
    expect(r.applied).toBe(0);
    expect(r.receipts).toEqual([]); // live kinds are not in receipts
    st = r.state;
    const hb = applyBatch(st, [item({ ...heartbeatEnvelope(id, 1, 1), epoch: 7, settledBelow: 1 }, 1)], lim);
    expect(hb.outcomes).toEqual([ItemOutcome.Duplicate]);
    expect(hb.changed).toBe(false);
  });

  it("a will of an unknown epoch sets presence but never starts an epoch", () => {
    const st = applyBatch(emptyDeviceState(id), [item(tele(1, 7, 1), 1)], lim).state;
    const r = applyBatch(st, [item({ ...statusEnvelope(id, 1, false), epoch: 99, settledBelow: 1 }, 2, 10)], lim);
    expect(r.state.dedup.epoch).toBe(7);
    expect(r.state.presence.state).toBe("offline");
  });

  it("a refused message that names its seq is answered as rejected; a bad one from a retired epoch only dead-lettered", () => {
    const st = applyBatch(emptyDeviceState(id), [item(tele(1, 7, 1), 1)], lim).state;
    const bad = decodeDeviceMessage(`xsfleet.v1.dev.${id}.tele`, encodeEnvelope({ ...tele(2, 7, 2), traceparent: "00-zz-bad" }), defaultIngestConfig);
    if (bad.ok || !bad.seqInfo) throw new Error("expected a refusal with a seq");
    const r = applyBatch(st, [{ msg: { ...bad, deviceId: id, seqInfo: bad.seqInfo }, streamSeq: 2, timeMs: 2 }], lim);
    expect(r.rejections[0]?.reason).toBe(DlqReason.BadField);
    expect(r.receipts).toEqual([{ epoch: 7, confirmed: [], rejected: [{ first: 2, last: 2 }] }]);
    const retired = { ...st, dedup: { ...st.dedup, retiredEpochs: [5] } };
    const old = decodeDeviceMessage(`xsfleet.v1.dev.${id}.tele`, encodeEnvelope({ ...tele(2, 5, 2), traceparent: "bad" }), defaultIngestConfig);
    if (old.ok || !old.seqInfo) throw new Error("expected a refusal with a seq");
    const r2 = applyBatch(retired, [{ msg: { ...old, deviceId: id, seqInfo: old.seqInfo }, streamSeq: 3, timeMs: 3 }], lim);
    expect(r2.outcomes).toEqual([ItemOutcome.Rejected]);
    expect(r2.receipts).toEqual([]);
  });
});

describe("stored state migration (v1 seq windows)", () => {
  it("converts a v1 record once on load: floor = hwm - window, ranges = the recorded seqs above it", () => {
    // v1 telemetry window of 16 seqs, hwm 40 (covers 25..40): recorded 26..30, 33, 35..40 (bit s mod 16).
    const bits = new Uint8Array(2);
    for (const s of [26, 27, 28, 29, 30, 33, 35, 36, 37, 38, 39, 40]) bits[(s % 16) >>> 3]! |= 1 << ((s % 16) & 7);
    const v1 = { ...emptyDeviceState(id), v: 1, dedup: { tele: { hwm: 40, bits: Buffer.from(bits).toString("base64") }, hb: { hwm: 41, bits: "AAA=" } } };
    const loaded = decodeState(new TextEncoder().encode(JSON.stringify(v1)), id);
    expect(loaded.v).toBe(2);
    expect(loaded.dedup).toMatchObject({ epoch: 0, floor: 24, ranges: [[26, 30], [33, 33], [35, 40]], retiredEpochs: [] });
    expect(checkDedup(loaded.dedup, { dedupRangesMax: 256 })).toBeNull();
    // It keeps working: a resend of 33 is a duplicate, 34 is new, and the next write is v2.
    const r = applyBatch(loaded, [item(telemetryEnvelope(id, 33, 2), 1), item(telemetryEnvelope(id, 34, 2), 2)], lim);
    expect(r.outcomes).toEqual([ItemOutcome.Duplicate, ItemOutcome.Applied]);
    expect(decodeState(encodeState(r.state), id).dedup).toMatchObject({ floor: 24, ranges: [[26, 30], [33, 40]] });
    // A device upgraded to epochs carries it over.
    const up = applyBatch(r.state, [item(tele(41, 4242, 25), 3)], lim);
    expect(up.outcomes).toEqual([ItemOutcome.Applied]);
    expect(up.state.dedup).toMatchObject({ epoch: 4242, floor: 24, ranges: [[26, 30], [33, 41]], retiredEpochs: [0] });
    expect(dedupFromV1Window(undefined)).toEqual(emptyDedup());
  });
});
