// The pure leaf modules: quorum arithmetic, in-flight window, progress, log.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Inflights } from "../../../cloud/raft/inflights";
import { RaftLog } from "../../../cloud/raft/log";
import { Progress, ProgressState } from "../../../cloud/raft/progress";
import {
  VoteResult,
  jointCommitted,
  jointHasQuorum,
  jointVoteResult,
  majorityCommitted,
  majorityVoteResult,
} from "../../../cloud/raft/quorum";
import { MemoryStorage } from "../../../cloud/raft/storage/memory";
import { ConfChangeType, decodeConfChange, encodeConfChange } from "../../../cloud/raft/types";
import { ent, storageWithEntries } from "./helpers";

describe("quorum", () => {
  const acked = (m: Record<number, number>) => (id: number) => m[id];

  it("majority commit index is the highest index acked by a majority", () => {
    expect(majorityCommitted(new Set([1]), acked({ 1: 5 }))).toBe(5);
    expect(majorityCommitted(new Set([1, 2, 3]), acked({ 1: 5, 2: 3, 3: 1 }))).toBe(3);
    expect(majorityCommitted(new Set([1, 2, 3, 4]), acked({ 1: 5, 2: 3, 3: 1, 4: 4 }))).toBe(3);
    expect(majorityCommitted(new Set([1, 2, 3]), acked({ 1: 5 }))).toBe(0);
    expect(majorityCommitted(new Set(), acked({}))).toBe(Number.POSITIVE_INFINITY);
  });

  it("property: a majority of voters acked at least the majority commit index, and no larger index has a majority", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(100), { minLength: 1, maxLength: 9 }), (idx) => {
        const voters = new Set(idx.map((_, i) => i + 1));
        const c = majorityCommitted(voters, (id) => idx[id - 1]);
        const q = Math.floor(idx.length / 2) + 1;
        expect(idx.filter((x) => x >= c).length).toBeGreaterThanOrEqual(q);
        expect(idx.filter((x) => x >= c + 1).length).toBeLessThan(q);
      }),
    );
  });

  it("vote results: won, lost, pending", () => {
    const v = new Set([1, 2, 3]);
    expect(majorityVoteResult(v, new Map([[1, true], [2, true]]))).toBe(VoteResult.Won);
    expect(majorityVoteResult(v, new Map([[1, false], [2, false]]))).toBe(VoteResult.Lost);
    expect(majorityVoteResult(v, new Map([[1, true], [2, false]]))).toBe(VoteResult.Pending);
    expect(majorityVoteResult(v, new Map([[4, true], [5, true]]))).toBe(VoteResult.Pending);
  });

  it("joint quorums need both halves", () => {
    const cfg = { incoming: new Set([1, 2, 3]), outgoing: new Set([3, 4, 5]) };
    expect(jointCommitted(cfg, acked({ 1: 9, 2: 9, 3: 2, 4: 2, 5: 2 }))).toBe(2);
    expect(jointCommitted(cfg, acked({ 1: 9, 2: 9, 3: 9, 4: 9, 5: 2 }))).toBe(9);
    expect(jointCommitted({ incoming: new Set([1]), outgoing: new Set() }, acked({ 1: 4 }))).toBe(4);
    expect(jointVoteResult(cfg, new Map([[1, true], [2, true], [3, true]]))).toBe(VoteResult.Pending);
    expect(jointVoteResult(cfg, new Map([[1, true], [2, true], [3, true], [4, true]]))).toBe(VoteResult.Won);
    expect(jointVoteResult(cfg, new Map([[1, false], [2, false], [4, true], [5, true]]))).toBe(VoteResult.Lost);
    expect(jointHasQuorum(cfg, new Set([2, 3, 4]))).toBe(true);
    expect(jointHasQuorum(cfg, new Set([1, 2, 4]))).toBe(false);
  });
});

describe("inflights", () => {
  it("bounds messages and bytes and frees by index", () => {
    const f = new Inflights(3, 100);
    f.add(1, 10);
    f.add(2, 10);
    expect(f.full()).toBe(false);
    f.add(5, 10);
    expect(f.full()).toBe(true);
    expect(() => f.add(6, 1)).toThrow(/full/);
    f.freeLE(2);
    expect(f.count).toBe(1);
    expect(f.bytes).toBe(10);
    f.add(7, 95);
    expect(f.full()).toBe(true); // bytes limit
    f.freeFirstOne();
    expect(f.count).toBe(1);
    expect(() => f.add(3, 1)).toThrow(/must exceed/);
  });

  it("wraps around its ring buffer", () => {
    const f = new Inflights(4, 0);
    let next = 1;
    for (let round = 0; round < 20; round++) {
      while (!f.full()) f.add(next++, 1);
      f.freeLE(next - 3);
      expect(f.count).toBe(2);
    }
  });
});

describe("progress", () => {
  it("probe sends one message per round trip; replicate pipelines up to the inflight limit", () => {
    const p = new Progress(5, 2, 0, false);
    expect(p.state).toBe(ProgressState.Probe);
    p.sentEntries(7, 10);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(7)).toBe(true);
    expect(p.isPaused()).toBe(false);
    p.becomeReplicate();
    expect(p.next).toBe(8);
    p.sentEntries(9, 10);
    p.sentEntries(11, 10);
    expect(p.next).toBe(12);
    expect(p.isPaused()).toBe(true);
    p.maybeUpdate(9);
    p.inflights.freeLE(9);
    expect(p.isPaused()).toBe(false);
  });

  it("rejections: stale ones are ignored, real ones move next back", () => {
    const p = new Progress(10, 8, 0, false);
    p.match = 5;
    p.becomeReplicate();
    expect(p.maybeDecrTo(4, 4)).toBe(false); // below match: stale
    expect(p.maybeDecrTo(8, 6)).toBe(true);
    expect(p.next).toBe(6);
    const q = new Progress(10, 8, 0, false);
    expect(q.maybeDecrTo(5, 3)).toBe(false); // not the last probe (next-1 = 9)
    expect(q.maybeDecrTo(9, 3)).toBe(true);
    expect(q.next).toBe(4);
    expect(q.maybeDecrTo(3, 0)).toBe(true);
    expect(q.next).toBe(1);
  });

  it("snapshot state pauses replication until the snapshot is acknowledged", () => {
    const p = new Progress(3, 8, 0, false);
    p.becomeSnapshot(20);
    expect(p.isPaused()).toBe(true);
    p.maybeUpdate(20);
    p.becomeProbe();
    expect(p.next).toBe(21);
  });
});

describe("raft log", () => {
  it("findConflictByTerm skips whole terms for fast repair", () => {
    const s = storageWithEntries([1], [ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 4)]);
    const l = new RaftLog(s, 0);
    expect(l.findConflictByTerm(5, 3)).toEqual([4, 2]);
    expect(l.findConflictByTerm(5, 1)).toEqual([2, 1]);
    expect(l.findConflictByTerm(5, 0)).toEqual([0, 0]);
    expect(l.findConflictByTerm(5, 4)).toEqual([5, 4]);
  });

  it("never overwrites committed entries", () => {
    const s = storageWithEntries([1], [ent(1, 1), ent(2, 1)]);
    const l = new RaftLog(s, 0);
    l.commitTo(2);
    expect(() => l.maybeAppend(1, 1, 2, [ent(2, 5)])).toThrow(/conflicts with committed/);
    expect(() => l.commitTo(3)).toThrow(/beyond last index/);
  });

  it("reads across stable and unstable entries with a byte limit, and stabilizes", () => {
    const s = storageWithEntries([1], [ent(1, 1, "aaaa"), ent(2, 1, "bbbb")]);
    const l = new RaftLog(s, 0);
    l.append([ent(3, 2, "cccc"), ent(4, 2, "dddd")]);
    expect(l.slice(1, 5, 1 << 20)!.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    expect(l.slice(1, 5, 60)!.map((e) => e.index)).toEqual([1, 2]);
    expect(l.slice(2, 5, 0)!.map((e) => e.index)).toEqual([2]);
    s.append(l.unstableEntries);
    l.stableTo(4, 2);
    expect(l.unstableEntries).toEqual([]);
    expect(l.unstableOffset).toBe(5);
  });

  it("a stableTo for entries replaced meanwhile is ignored", () => {
    const s = storageWithEntries([1], [ent(1, 1)]);
    const l = new RaftLog(s, 0);
    l.append([ent(2, 1), ent(3, 1)]);
    l.append([ent(3, 2)]); // conflicting rewrite while a Ready was in flight
    l.stableTo(3, 1);
    expect(l.unstableEntries.map((e) => `${e.index}:${e.term}`)).toEqual(["2:1", "3:2"]);
  });

  it("is up to date by last term, then last index (§5.4.1)", () => {
    const l = new RaftLog(storageWithEntries([1], [ent(1, 1), ent(2, 2)]), 0);
    expect(l.isUpToDate(2, 2)).toBe(true);
    expect(l.isUpToDate(1, 2)).toBe(false);
    expect(l.isUpToDate(1, 3)).toBe(true);
    expect(l.isUpToDate(5, 1)).toBe(false);
  });

  it("restores from a snapshot", () => {
    const l = new RaftLog(new MemoryStorage({ confState: { voters: [1], learners: [] } }), 0);
    l.restore({ metadata: { index: 10, term: 3, confState: { voters: [1], learners: [] } }, data: new Uint8Array() });
    expect(l.firstIndex()).toBe(11);
    expect(l.lastIndex()).toBe(10);
    expect(l.term(10)).toBe(3);
    expect(l.committed).toBe(10);
    expect(l.slice(5, 8, 100)).toBeUndefined();
  });
});

describe("conf change codec", () => {
  it("round-trips and rejects garbage", () => {
    const cc = { type: ConfChangeType.AddLearner, nodeId: 77 };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    expect(() => decodeConfChange(new Uint8Array(3))).toThrow(/5 bytes/);
    expect(() => decodeConfChange(new Uint8Array([9, 0, 0, 0, 1]))).toThrow(/unknown conf change type/);
    expect(() => decodeConfChange(new Uint8Array([0, 0, 0, 0, 0]))).toThrow(/node 0/);
  });
});

describe("snapshot receiver", () => {
  const meta = { index: 9, term: 2, confState: { voters: [1], learners: [] } };
  const snap = { metadata: meta, data: new Uint8Array([...Array(10).keys()]) };

  it("assembles in-order chunks, ignores duplicates, acks its offset", async () => {
    const { SnapshotReceiver, snapshotChunk } = await import("../../../cloud/raft/snapshot-receiver");
    const r = new SnapshotReceiver();
    expect(r.receive(snapshotChunk(snap, 0, 4))).toEqual({ kind: "need", offset: 4 });
    expect(r.receive(snapshotChunk(snap, 0, 4))).toEqual({ kind: "need", offset: 4 }); // duplicate of chunk 0
    expect(r.receive(snapshotChunk(snap, 8, 4))).toEqual({ kind: "need", offset: 4 }); // from the future
    expect(r.receive(snapshotChunk(snap, 4, 4))).toEqual({ kind: "need", offset: 8 });
    const done = r.receive(snapshotChunk(snap, 8, 4));
    expect(done.kind).toBe("complete");
    expect(done.kind === "complete" && done.snapshot.data).toEqual(snap.data);
    expect(r.receivedBytes).toBe(0);
  });

  it("rejects a continuation of a snapshot it does not hold, and restarts on a newer one", async () => {
    const { SnapshotReceiver, snapshotChunk } = await import("../../../cloud/raft/snapshot-receiver");
    const r = new SnapshotReceiver();
    expect(r.receive(snapshotChunk(snap, 4, 4))).toEqual({ kind: "reject" });
    r.receive(snapshotChunk(snap, 0, 4));
    const newer = { metadata: { ...meta, index: 12 }, data: new Uint8Array(3) };
    expect(r.receive(snapshotChunk(newer, 0, 4)).kind).toBe("complete");
  });

  it("handles an empty snapshot in one chunk", async () => {
    const { SnapshotReceiver, snapshotChunk } = await import("../../../cloud/raft/snapshot-receiver");
    const r = new SnapshotReceiver();
    expect(r.receive(snapshotChunk({ metadata: meta, data: new Uint8Array() }, 0, 4)).kind).toBe("complete");
  });
});
