// The relayed-will marker read by the pull loop: only a partitioned status
// with a well-formed Xsf-Orig-Seq older than its own seq stands for the
// original will; anything else keeps its own seq. And the redelivery backoff.
import { describe, expect, it } from "vitest";
import { failureBackoffMs, relayedWillSeq, WillRelayHeader } from "../../../cloud/ingest";

const h = (v: string) => ({ get: (k: string) => (k === WillRelayHeader.OrigSeq ? v : "") });

describe("relayed will seq", () => {
  it("takes the original seq from a partitioned status only", () => {
    expect(relayedWillSeq("xsfleet.v1.p.3.dev.d1.status", h("17"), 40)).toBe(17);
    expect(relayedWillSeq("xsfleet.v1.p.3.dev.d1.tele", h("17"), 40)).toBeUndefined();
    expect(relayedWillSeq("xsfleet.v1.dev.d1.status", h("17"), 40)).toBeUndefined();
    expect(relayedWillSeq("xsfleet.v1.p.3.dev.d1.status", undefined, 40)).toBeUndefined();
  });

  it("ignores a missing, malformed or not-older value", () => {
    for (const v of ["", "0", "-3", "1e3", "abc", "40", "41", "99999999999999999999"]) {
      expect(relayedWillSeq("xsfleet.v1.p.3.dev.d1.status", h(v), 40), v).toBeUndefined();
    }
  });
});

describe("failure backoff", () => {
  it("doubles per delivery from 1 s and stops at 30 s", () => {
    expect([1, 2, 3, 4, 5, 6, 50].map(failureBackoffMs)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });
});
