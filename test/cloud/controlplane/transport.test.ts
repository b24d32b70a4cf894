// The Raft wire codec and the process entry's configuration, without a server.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CodecError, TRANSPORT_LIMITS, decodeBatch, encodeBatch, raftSubject, splitBatches } from "../../../cloud/controlplane/transport";
import { frameEntry, unframeEntry } from "../../../cloud/controlplane/raft-node";
import { ConfigError, parseConfig } from "../../../cloud/controlplane/main";
import { MessageType, message, type Message } from "../../../cloud/raft/types";

const arbBytes = (max: number) => fc.uint8Array({ maxLength: max });
const arbInt = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const arbId = fc.integer({ min: 1, max: 0xffffffff });

const arbMessage: fc.Arbitrary<Message> = fc.record({
  type: fc.integer({ min: 0, max: MessageType.ReadIndexResp }),
  to: arbId, from: arbId, term: arbInt, logTerm: arbInt, index: arbInt, commit: arbInt,
  reject: fc.boolean(), rejectHint: arbInt,
  entries: fc.array(fc.record({ term: arbInt, index: arbInt, type: fc.constantFrom(0, 1), data: arbBytes(64) }), { maxLength: 5 }),
  snapshot: fc.option(fc.record({
    metadata: fc.record({ index: arbInt, term: arbInt, confState: fc.record({ voters: fc.array(arbId, { maxLength: 5 }), learners: fc.array(arbId, { maxLength: 3 }) }) }),
    data: arbBytes(100),
  }).map(({ metadata, data }) => ({ metadata, offset: 0, totalBytes: data.byteLength + 7, data })), { nil: undefined }),
  context: fc.option(arbBytes(16), { nil: undefined }),
}).map((r) => {
  const { snapshot, context, ...rest } = r;
  return message({ ...(rest as Omit<Message, "snapshot" | "context">), ...(snapshot ? { snapshot } : {}), ...(context ? { context } : {}) });
});

describe("raft message codec", () => {
  it("round-trips batches of arbitrary messages", () => {
    fc.assert(fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 8 }), (msgs) => {
      expect(decodeBatch(encodeBatch(msgs))).toEqual(msgs);
    }));
  });

  it("rejects every truncation and trailing garbage with a CodecError", () => {
    fc.assert(fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 3 }), fc.nat(), (msgs, cut) => {
      const buf = encodeBatch(msgs);
      const at = cut % buf.byteLength;
      expect(() => decodeBatch(buf.subarray(0, at))).toThrow(CodecError);
      const longer = new Uint8Array(buf.byteLength + 1);
      longer.set(buf);
      expect(() => decodeBatch(longer)).toThrow(CodecError);
    }));
  });

  it("never throws anything but CodecError on random bytes", () => {
    fc.assert(fc.property(arbBytes(300), (bytes) => {
      try { decodeBatch(bytes); } catch (err) { expect(err).toBeInstanceOf(CodecError); }
    }));
  });

  it("refuses oversized counts before allocating", () => {
    const buf = new Uint8Array(8);
    new DataView(buf.buffer).setUint32(0, TRANSPORT_LIMITS.batchMessagesMax + 1);
    expect(() => decodeBatch(buf)).toThrow(/batch count/);
    const one = encodeBatch([message({ type: MessageType.App, to: 1, from: 2 })]);
    // Claim 2^32-1 entries in the first message.
    new DataView(one.buffer).setUint32(4 + 4 + 2 + 8 + 40, 0xffffffff);
    expect(() => decodeBatch(one)).toThrow(/entries/);
  });

  it("splits large sends into batches under batchBytesMax", () => {
    const big = (i: number) => message({ type: MessageType.App, to: 2, from: 1, entries: [{ term: 1, index: i, type: 0, data: new Uint8Array(1000) }] });
    const batches = splitBatches(Array.from({ length: 100 }, (_, i) => big(i + 1)), 10_000);
    expect(batches.length).toBeGreaterThan(5);
    for (const b of batches) expect(encodeBatch(b).byteLength).toBeLessThanOrEqual(10_000);
    expect(batches.flat().map((m) => m.entries[0]!.index)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it("names subjects per group and node and validates them", () => {
    expect(raftSubject("control", 3)).toBe("xsfleet.raft.control.3");
    expect(() => raftSubject("a.b", 1)).toThrow();
    expect(() => raftSubject("control", 0)).toThrow();
  });

  it("frames proposals with the proposer's identity", () => {
    const f = frameEntry(7, 42, 99, new Uint8Array([1, 2, 3]));
    expect(unframeEntry(f)).toEqual({ node: 7, incarnation: 42, counter: 99, body: new Uint8Array([1, 2, 3]) });
    expect(unframeEntry(new Uint8Array([0x7b, 0x7d]))).toBeUndefined();
  });
});

describe("controlplane main configuration", () => {
  const base = ["--id", "1", "--peers", "1,2,3", "--data-dir", "/tmp/x", "--nats", "nats://127.0.0.1:4222"];
  it("parses a valid command line", () => {
    expect(parseConfig(base)).toMatchObject({ id: 1, peers: [1, 2, 3], learners: [], tickMs: 50, group: "control" });
    expect(parseConfig(["--help"])).toBe("help");
  });
  it.each([
    [["--peers", "1,2,3", "--data-dir", "d", "--nats", "nats://x:1"], /--id is required/],
    [["--id", "4", "--peers", "1,2,3", "--data-dir", "d", "--nats", "nats://x:1"], /must be one of --peers/],
    [["--id", "1", "--peers", "1,x", "--data-dir", "d", "--nats", "nats://x:1"], /not a node id/],
    [["--id", "1", "--peers", "1,1", "--data-dir", "d", "--nats", "nats://x:1"], /duplicate/],
    [["--id", "1", "--peers", "1", "--nats", "nats://x:1"], /--data-dir is required/],
    [["--id", "1", "--peers", "1", "--data-dir", "d"], /--nats is required/],
    [[...base, "--tick-ms", "0"], /--tick-ms must be a positive integer/],
    [[...base, "--bogus"], /Unknown option/],
  ])("rejects %j with a clear error", (argv, re) => {
    expect(() => parseConfig(argv as string[])).toThrow(ConfigError);
    expect(() => parseConfig(argv as string[])).toThrow(re);
  });
});
