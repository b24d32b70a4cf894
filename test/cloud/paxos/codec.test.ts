// The CASPaxos wire codec: round trips, splitting into frames, and bounded
// decoding — whatever bytes arrive, decodeFrame returns messages or throws
// CodecError, nothing else.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CodecError, decodeFrame, encodeFrames } from "../../../cloud/paxos/codec";
import { MsgKind, PAXOS_LIMITS, type Ballot, type PaxosMessage, type RegisterState } from "../../../cloud/paxos/types";

const ballot: fc.Arbitrary<Ballot> = fc.oneof(
  fc.constant({ n: 0, p: "" }),
  fc.record({ n: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), p: fc.string({ minLength: 1, maxLength: 20 }) }),
);
const realBallot = fc.record({ n: fc.integer({ min: 1, max: 1e12 }), p: fc.string({ minLength: 1, maxLength: 20 }) });
const state: fc.Arbitrary<RegisterState> = fc.record({
  version: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  data: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null }),
});
const head = { rid: fc.integer({ min: 0, max: 2 ** 40 }), key: fc.string({ minLength: 1, maxLength: 40 }) };
const message: fc.Arbitrary<PaxosMessage> = fc.oneof(
  fc.record({ kind: fc.constant(MsgKind.Prepare), ...head, ballot: realBallot }),
  fc.record({ kind: fc.constant(MsgKind.Accept), ...head, ballot: realBallot, state, next: fc.option(realBallot, { nil: null }) }),
  fc.record({ kind: fc.constant(MsgKind.Promise), ...head, accepted: ballot, state }),
  fc.record({ kind: fc.constant(MsgKind.Accepted), ...head }),
  fc.record({ kind: fc.constant(MsgKind.Conflict), ...head, seen: ballot }),
  fc.record({ kind: fc.constant(MsgKind.Refused), ...head, reason: fc.string({ maxLength: 30 }) }),
) as fc.Arbitrary<PaxosMessage>;

function decodeAll(frames: Uint8Array[]): PaxosMessage[] {
  return frames.flatMap((f) => decodeFrame(f));
}

describe("CASPaxos wire codec", () => {
  it("round-trips every kind of message", () => {
    fc.assert(fc.property(fc.array(message, { maxLength: 20 }), (msgs) => {
      expect(decodeAll(encodeFrames(msgs))).toEqual(msgs);
    }), { numRuns: 300 });
  });

  it("splits many or large messages into frames within the limits", () => {
    const big: PaxosMessage = { kind: MsgKind.Accept, rid: 1, key: "k", ballot: { n: 1, p: "p" }, state: { version: 1, data: new Uint8Array(PAXOS_LIMITS.valueBytesMax) }, next: null };
    const frames = encodeFrames(Array.from({ length: 40 }, () => big));
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(f.byteLength).toBeLessThanOrEqual(PAXOS_LIMITS.frameBytesMax);
    expect(decodeAll(frames)).toHaveLength(40);
    const small: PaxosMessage = { kind: MsgKind.Accepted, rid: 1, key: "k" };
    expect(encodeFrames(Array.from({ length: PAXOS_LIMITS.frameMessagesMax + 1 }, () => small))).toHaveLength(2);
  });

  it("refuses every truncation of a valid frame with CodecError", () => {
    const [frame] = encodeFrames([
      { kind: MsgKind.Accept, rid: 7, key: "key", ballot: { n: 3, p: "p1" }, state: { version: 2, data: new Uint8Array([1, 2, 3]) }, next: { n: 4, p: "p1" } },
      { kind: MsgKind.Promise, rid: 8, key: "k2", accepted: { n: 0, p: "" }, state: { version: 0, data: null } },
    ]);
    for (let cut = 0; cut < frame!.byteLength; cut++) expect(() => decodeFrame(frame!.subarray(0, cut))).toThrow(CodecError);
    const trailing = new Uint8Array(frame!.byteLength + 1);
    trailing.set(frame!);
    expect(() => decodeFrame(trailing)).toThrow(/trailing/);
  });

  it("answers random bytes and bit flips with messages or CodecError, nothing else", () => {
    const [frame] = encodeFrames([{ kind: MsgKind.Conflict, rid: 1, key: "k", seen: { n: 9, p: "x" } }]);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: frame!.byteLength * 8 - 1 }), (junk, bit) => {
      for (const buf of [junk, flip(frame!, bit)]) {
        try {
          decodeFrame(buf);
        } catch (err) {
          expect(err).toBeInstanceOf(CodecError);
        }
      }
    }), { numRuns: 2000 });
  });

  it("refuses oversized keys, values, ids and counts, before allocating", () => {
    const long = "k".repeat(PAXOS_LIMITS.keyBytesMax + 1);
    expect(() => encodeFrames([{ kind: MsgKind.Accepted, rid: 1, key: long }])).toThrow(CodecError);
    expect(() => encodeFrames([{ kind: MsgKind.Prepare, rid: 1, key: "k", ballot: { n: 1, p: "p".repeat(PAXOS_LIMITS.proposerIdBytesMax + 1) } }])).toThrow(CodecError);
    // A frame header claiming more messages than allowed.
    const forged = new Uint8Array([0x58, 0x50, 1, 0xff, 0xff]);
    expect(() => decodeFrame(forged)).toThrow(/exceed/);
    // A value length field beyond the limit.
    const [ok] = encodeFrames([{ kind: MsgKind.Promise, rid: 1, key: "k", accepted: { n: 0, p: "" }, state: { version: 1, data: new Uint8Array(4) } }]);
    const bad = ok!.slice();
    new DataView(bad.buffer).setUint32(bad.byteLength - 8, PAXOS_LIMITS.valueBytesMax + 1);
    expect(() => decodeFrame(bad)).toThrow(/exceeds/);
    // Non-integer numbers and a real ballot without a proposer.
    const [p] = encodeFrames([{ kind: MsgKind.Prepare, rid: 1, key: "k", ballot: { n: 1, p: "p" } }]);
    const frac = p!.slice();
    new DataView(frac.buffer).setFloat64(10, 1.5);
    expect(() => decodeFrame(frac)).toThrow(/safe integer/);
  });
});

function flip(buf: Uint8Array, bit: number): Uint8Array {
  const out = buf.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}
