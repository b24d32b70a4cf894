import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CodecError, decodeBatch, decodeMessage, encodeBatches, encodeMessage, encodedSize } from "../../../cloud/raft/codec";
import { MessageType, message } from "../../../cloud/raft/types";
import type { Message } from "../../../cloud/raft/types";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const idx = fc.nat({ max: 2 ** 40 });
const bytes = fc.uint8Array({ maxLength: 64 });
const entry = fc.record({ index: idx, term: idx, type: fc.constantFrom(0 as const, 1 as const), data: bytes });
const chunk = fc.record({
  metadata: fc.record({
    index: idx,
    term: idx,
    confState: fc.record({ voters: fc.array(u32, { maxLength: 5 }), learners: fc.array(u32, { maxLength: 3 }) }),
  }),
  offset: fc.nat(100),
  data: bytes,
}).map((c) => ({ ...c, totalBytes: c.offset + c.data.byteLength + 7 }));
const msg: fc.Arbitrary<Message> = fc
  .record({
    type: fc.integer({ min: 0, max: MessageType.ReadIndexResp }),
    to: u32,
    from: u32,
    term: idx,
    logTerm: idx,
    index: idx,
    commit: idx,
    reject: fc.boolean(),
    rejectHint: idx,
    entries: fc.array(entry, { maxLength: 4 }),
    context: fc.option(bytes, { nil: undefined }),
    snapshot: fc.option(chunk, { nil: undefined }),
  })
  .map((r) => {
    const { context, snapshot, ...rest } = r;
    return { ...rest, type: rest.type as MessageType, ...(context ? { context } : {}), ...(snapshot ? { snapshot } : {}) };
  });

describe("raft message codec", () => {
  it("round-trips any message (property)", () => {
    fc.assert(
      fc.property(msg, (m) => {
        const buf = encodeMessage(m);
        expect(buf.byteLength).toBe(encodedSize(m));
        expect(decodeMessage(buf)).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it("round-trips batches and splits them by frame size", () => {
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 20 }), fc.integer({ min: 200, max: 4000 }), (ms, max) => {
        const { frames, oversized } = encodeBatches(ms, max);
        for (const f of frames) expect(f.byteLength).toBeLessThanOrEqual(max);
        const back = frames.flatMap((f) => decodeBatch(f));
        expect([...back, ...oversized].length).toBe(ms.length);
        expect(back).toEqual(ms.filter((m) => !oversized.includes(m)));
      }),
      { numRuns: 200 },
    );
  });

  it("rejects truncated, garbled and hostile input with a CodecError", () => {
    const m = message({ type: MessageType.App, to: 2, from: 1, term: 3, entries: [{ index: 1, term: 3, type: 0, data: new Uint8Array([1, 2, 3]) }] });
    const buf = encodeMessage(m);
    for (let cut = 0; cut < buf.byteLength; cut++) expect(() => decodeMessage(buf.subarray(0, cut))).toThrow(CodecError);
    const bad = buf.slice();
    bad[0] = 9;
    expect(() => decodeMessage(bad)).toThrow(/version/);
    const badType = buf.slice();
    badType[1] = 200;
    expect(() => decodeMessage(badType)).toThrow(/unknown message type/);
    const hugeCount = buf.slice();
    new DataView(hugeCount.buffer).setUint32(51, 0xfffffff);
    expect(() => decodeMessage(hugeCount)).toThrow(/entry count/);
    const negTerm = buf.slice();
    new DataView(negTerm.buffer).setFloat64(10, -1);
    expect(() => decodeMessage(negTerm)).toThrow(/non-negative integer/);
    expect(() => decodeMessage(new Uint8Array([...buf, 0]))).toThrow(/trailing/);
    expect(() => decodeBatch(new Uint8Array([0, 0, 0, 1]))).toThrow(/magic/);
  });

  it("reports messages larger than a frame instead of sending them", () => {
    const big = message({ type: MessageType.App, to: 2, from: 1, entries: [{ index: 1, term: 1, type: 0, data: new Uint8Array(5000) }] });
    const small = message({ type: MessageType.Heartbeat, to: 2, from: 1 });
    const { frames, oversized } = encodeBatches([big, small], 1024);
    expect(oversized).toEqual([big]);
    expect(frames.flatMap((f) => decodeBatch(f))).toEqual([small]);
  });
});
