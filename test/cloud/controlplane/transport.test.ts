// Raft transport framing and the process entry's configuration, without a server.
import { describe, expect, it } from "vitest";
import { TRANSPORT_LIMITS, encodeFrames } from "../../../cloud/controlplane/transport";
import { raftSubject } from "../../../cloud/subjects";
import { CodecError, decodeBatch } from "../../../cloud/raft/codec";
import { frameEntry, unframeEntry } from "../../../cloud/controlplane/raft-node";
import { ConfigError, parseConfig } from "../../../cloud/controlplane/main";
import { MessageType, message } from "../../../cloud/raft/types";

describe("raft transport framing (codec: test/cloud/raft/codec.test.ts)", () => {
  const big = (i: number) => message({ type: MessageType.App, to: 2, from: 1, entries: [{ term: 1, index: i, type: 0, data: new Uint8Array(1000) }] });

  it("splits large sends into frames under batchBytesMax, in order", () => {
    const frames = encodeFrames(Array.from({ length: 100 }, (_, i) => big(i + 1)), 10_000);
    expect(frames.length).toBeGreaterThan(5);
    for (const f of frames) expect(f.byteLength).toBeLessThanOrEqual(10_000);
    expect(frames.flatMap(decodeBatch).map((m) => m.entries[0]!.index)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it("sends a message larger than batchBytesMax alone, keeps order, and refuses one over messageBytesMax", () => {
    const small = (i: number) => message({ type: MessageType.Heartbeat, to: 2, from: 1, commit: i });
    const frames = encodeFrames([small(1), big(2), small(3)], 512);
    expect(frames.map((f) => decodeBatch(f).map((m) => m.entries[0]?.index ?? m.commit))).toEqual([[1], [2], [3]]);
    const huge = message({ type: MessageType.App, to: 2, from: 1, entries: [{ term: 1, index: 1, type: 0, data: new Uint8Array(TRANSPORT_LIMITS.messageBytesMax) }] });
    expect(() => encodeFrames([huge])).toThrow(CodecError);
  });

  it("caps messages per frame at batchMessagesMax", () => {
    const n = TRANSPORT_LIMITS.batchMessagesMax + 10;
    const frames = encodeFrames(Array.from({ length: n }, (_, i) => message({ type: MessageType.Heartbeat, to: 2, from: 1, commit: i })), 1 << 30);
    expect(frames.map((f) => decodeBatch(f).length)).toEqual([TRANSPORT_LIMITS.batchMessagesMax, 10]);
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
