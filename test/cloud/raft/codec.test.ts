import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CodecError, decodeBatch, decodeMessage, encodeBatches, encodeMessage, encodedSize } from "../../../cloud/raft/codec";
import { MessageType, message } from "../../../cloud/raft/types";
import type { Message } from "../../../cloud/raft/types";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const memberId = fc.integer({ min: 1, max: 0xffffffff });
const idx = fc.nat({ max: 2 ** 40 });
const bytes = fc.uint8Array({ maxLength: 64 });
const entry = fc.record({ index: idx, term: idx, type: fc.constantFrom(0 as const, 1 as const), data: bytes });
const chunk = fc.record({
  metadata: fc.record({
    index: idx,
    term: idx,
    confState: fc.record({ voters: fc.array(memberId, { maxLength: 5 }), learners: fc.array(memberId, { maxLength: 3 }) }),
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

  it("rejects every truncation of a batch and trailing garbage with a CodecError", () => {
    fc.assert(
      fc.property(fc.array(msg, { minLength: 1, maxLength: 3 }), fc.nat(), (ms, cut) => {
        const { frames } = encodeBatches(ms, 1 << 20);
        expect(frames).toHaveLength(1);
        const buf = frames[0]!;
        expect(() => decodeBatch(buf.subarray(0, cut % buf.byteLength))).toThrow(CodecError);
        expect(() => decodeBatch(new Uint8Array([...buf, 0]))).toThrow(CodecError);
      }),
      { numRuns: 200 },
    );
  });

  it("never throws anything but CodecError on random bytes", () => {
    const any = fc.uint8Array({ maxLength: 300 });
    // With a valid batch header too, so decoding gets past the magic.
    const framed = any.map((b) => new Uint8Array([0x52, 0x46, 0, b.byteLength % 4, ...b]));
    fc.assert(
      fc.property(fc.oneof(any, framed), (b) => {
        for (const decode of [decodeBatch, decodeMessage]) {
          try {
            decode(b);
          } catch (err) {
            expect(err).toBeInstanceOf(CodecError);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses oversized counts in a batch before allocating", () => {
    // A frame claiming 0xffff messages with no bytes for them.
    expect(() => decodeBatch(new Uint8Array([0x52, 0x46, 0xff, 0xff]))).toThrow(/truncated/);
    const { frames } = encodeBatches([message({ type: MessageType.App, to: 1, from: 2 })], 1024);
    const one = frames[0]!.slice();
    // Claim 2^32-1 entries in the first message: frame header 4, length 4, then the entry count at 51.
    new DataView(one.buffer).setUint32(4 + 4 + 51, 0xffffffff);
    expect(() => decodeBatch(one)).toThrow(/entry count/);
    // A message length running past the frame.
    const long = frames[0]!.slice();
    new DataView(long.buffer).setUint32(4, 0xffffffff);
    expect(() => decodeBatch(long)).toThrow(/runs past the frame/);
  });

  it("rejects unknown flags and node 0 in a snapshot's membership", () => {
    const m = message({ type: MessageType.Heartbeat, to: 2, from: 1 });
    const flags = encodeMessage(m).slice();
    flags[50] = 0x80;
    expect(() => decodeMessage(flags)).toThrow(/unknown flags/);
    const snap = message({
      type: MessageType.Snap, to: 2, from: 1,
      snapshot: { metadata: { index: 5, term: 1, confState: { voters: [1, 0], learners: [] } }, offset: 0, totalBytes: 1, data: new Uint8Array([7]) },
    });
    expect(() => decodeMessage(encodeMessage(snap))).toThrow(/node 0/);
  });
});
