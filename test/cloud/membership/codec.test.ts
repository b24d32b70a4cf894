// Membership wire codec and the small pure parts (history, status combination).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeHeartbeat, decodeSwim, encodeHeartbeat, encodeSwim, DEFAULT_CODEC_LIMITS } from "../../../cloud/membership/codec";
import { RecoveryHistory } from "../../../cloud/membership/history";
import { combineStatus } from "../../../cloud/membership/view";
import { historyQuery } from "../../../cloud/membership/api";
import type { SwimMessage } from "../../../cloud/health/swim";
import type { ClusterHeartbeat } from "../../../cloud/membership/types";

const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/);
const update = fc.record({ state: fc.constantFrom("alive" as const, "suspect" as const, "dead" as const), node: id, incarnation: fc.nat(), from: id });
const header = { from: id, to: id, updates: fc.array(update, { maxLength: 20 }) };
const swimMessage: fc.Arbitrary<SwimMessage> = fc.oneof(
  fc.record({ ...header, type: fc.constantFrom("ping" as const, "ack" as const, "nack" as const), seqNo: fc.nat() }),
  fc.record({ ...header, type: fc.constant("ping-req" as const), seqNo: fc.nat(), target: id }),
  fc.record({ ...header, type: fc.constant("gossip" as const) }),
  fc.record({ ...header, type: fc.constant("push-pull" as const), members: fc.array(update, { maxLength: 20 }), reply: fc.boolean() }),
);
const names = fc.array(fc.stringMatching(/^[a-z/:-]{1,20}$/), { maxLength: 8 });
const heartbeat: fc.Arbitrary<ClusterHeartbeat> = fc.record({
  v: fc.constant(1 as const), nodeId: id, startedAtMs: fc.nat(), seq: fc.nat(), sentAtMs: fc.nat(), roles: names, replacing: names, leases: names,
  resources: fc.record({ freeMemoryBytes: fc.nat(), totalMemoryBytes: fc.nat(), cpuLoad1: fc.double({ min: 0, max: 64, noNaN: true }), cpus: fc.integer({ min: 1, max: 256 }) }),
});

describe("membership codec", () => {
  it("round-trips every SWIM message", () => {
    fc.assert(fc.property(swimMessage, (m) => {
      const d = decodeSwim(encodeSwim(m));
      expect(d).toEqual({ ok: true, value: m });
    }));
  });

  it("round-trips heartbeats", () => {
    fc.assert(fc.property(heartbeat, (hb) => {
      expect(decodeHeartbeat(encodeHeartbeat(hb))).toEqual({ ok: true, value: hb });
    }));
  });

  it("never throws on arbitrary bytes or JSON", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      expect(decodeSwim(b).ok).toBe(false);
      expect(decodeHeartbeat(b).ok).toBe(false);
    }));
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const b = new TextEncoder().encode(JSON.stringify(v));
      decodeSwim(b);
      decodeHeartbeat(b);
    }));
  });

  it("rejects oversize messages, bad ids and unknown types with a reason", () => {
    const big = new Uint8Array(DEFAULT_CODEC_LIMITS.messageBytesMax + 1);
    expect(decodeSwim(big)).toMatchObject({ ok: false, error: expect.stringMatching(/exceeds/) });
    const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
    expect(decodeSwim(enc({ type: "ping", from: "a.b", to: "c", updates: [], seqNo: 1 }))).toMatchObject({ ok: false, error: expect.stringMatching(/swim.from/) });
    expect(decodeSwim(enc({ type: "hello", from: "a", to: "c", updates: [] }))).toMatchObject({ ok: false, error: expect.stringMatching(/type/) });
    const tooMany = Array.from({ length: DEFAULT_CODEC_LIMITS.updatesMax + 1 }, () => ({ state: "alive", node: "a", incarnation: 0, from: "a" }));
    expect(decodeSwim(enc({ type: "gossip", from: "a", to: "c", updates: tooMany }))).toMatchObject({ ok: false });
    expect(() => encodeSwim({ type: "gossip", from: "bad id", to: "c", updates: [] })).toThrow(/refusing to send/);
  });
});

describe("recovery history", () => {
  it("is bounded, pages by id, filters by kind, and dedups remote entries", () => {
    const h = new RecoveryHistory("n1", 3, () => 1000);
    for (let i = 0; i < 5; i++) h.record("detection", `n${i}`, "down");
    expect(h.list().map((e) => e.subject)).toEqual(["n2", "n3", "n4"]);
    expect(h.dropped).toBe(2);
    expect(h.list({ afterId: 4 }).map((e) => e.id)).toEqual([5]);
    const remote = { originId: 1, atMs: 5, kind: "replacement" as const, recordedBy: "n2", subject: "a:x", action: "placed", detail: {} };
    expect(h.ingest(remote)?.id).toBe(6);
    expect(h.ingest(remote)).toBeUndefined();
    expect(h.ingest({ ...remote, recordedBy: "n1" })).toBeUndefined();
    expect(h.list({ kind: "replacement" })).toHaveLength(1);
  });

  it("validates API history queries", () => {
    expect(historyQuery({ afterId: 3, limit: 10, kind: "restart" })).toEqual({ afterId: 3, limit: 10, kind: "restart" });
    expect(() => historyQuery({ limit: 0 })).toThrow(/limit/);
    expect(() => historyQuery({ kind: "nope" })).toThrow(/kind/);
  });
});

describe("combined member status", () => {
  it("is down if either detector says so, suspect if either suspects", () => {
    expect(combineStatus("up", "alive")).toBe("up");
    expect(combineStatus("up", "dead")).toBe("down");
    expect(combineStatus("down", "alive")).toBe("down");
    expect(combineStatus("up", "left")).toBe("down");
    expect(combineStatus("suspect", "alive")).toBe("suspect");
    expect(combineStatus("up", "suspect")).toBe("suspect");
    expect(combineStatus("up", undefined)).toBe("up");
  });
});
