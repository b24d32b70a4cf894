// Beyond the paper's core: pre-vote, check-quorum, snapshots in chunks,
// membership change, learners, leadership transfer and linearizable reads.

import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../../../cloud/raft/storage/memory";
import {
  ConfChangeType,
  EntryType,
  MessageType,
  ProposalError,
  ReadOnlyOption,
  StateType,
  encodeConfChange,
  message,
} from "../../../cloud/raft/types";
import type { ConfChange, Message } from "../../../cloud/raft/types";
import type { Raft } from "../../../cloud/raft/raft";
import { Network, beat, hup, logSummary, newTestRaft, prop, readMessages, stabilize } from "./helpers";

const ids3 = [1, 2, 3];
const ctx = (s: string): Uint8Array => new TextEncoder().encode(s);

function proposeConf(n: Network, id: number, cc: ConfChange): ReturnType<Raft["step"]> {
  const r = n.raft(id);
  const res = r.step(
    message({
      type: MessageType.Prop,
      from: id,
      entries: [{ index: 0, term: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }],
    }),
  );
  n.flush();
  return res;
}

/** Applies committed conf changes on every peer (what RawNode.advance does). */
function applyAll(n: Network): void {
  for (const r of n.peers.values()) {
    if (!r) continue;
    const ents = r.log.nextCommittedEntries(1 << 30);
    stabilize(r);
    for (const e of ents) {
      if (e.type === EntryType.ConfChange) {
        const v = new DataView(e.data.buffer, e.data.byteOffset);
        r.applyConfChange({ type: v.getUint8(0) as ConfChange["type"], nodeId: v.getUint32(1) });
      }
    }
  }
  n.flush();
}

describe("pre-vote", () => {
  it("a partitioned node does not inflate its term, and does not disrupt the leader on return", () => {
    const n = Network.of(3, { preVote: true });
    n.send(hup(1));
    expect(n.raft(1).state).toBe(StateType.Leader);
    n.isolate(3);
    n.send(prop(1, "while-partitioned")); // node 3's log is now behind
    for (let i = 0; i < 5; i++) n.send(hup(3));
    expect(n.raft(3).term).toBe(1);
    expect(n.raft(3).state).toBe(StateType.PreCandidate);
    n.recover();
    n.send(hup(3));
    expect(n.raft(1).state).toBe(StateType.Leader);
    expect(n.raft(1).term).toBe(1);
  });

  it("a pre-candidate that wins the pre-vote campaigns for real and wins", () => {
    const n = Network.of(3, { preVote: true });
    n.send(hup(2));
    expect(n.raft(2).state).toBe(StateType.Leader);
    expect(n.raft(2).term).toBe(1);
    const preVotes = n.delivered.filter((m) => m.type === MessageType.PreVote);
    expect(preVotes.length).toBe(2);
    expect(preVotes.every((m) => m.term === 1)).toBe(true);
  });

  it("a pre-vote does not change the voter's term or vote", () => {
    const r = newTestRaft(1, ids3, 10, 1, { preVote: true });
    r.step(message({ type: MessageType.PreVote, from: 2, to: 1, term: 5, index: 0, logTerm: 0 }));
    const [resp] = readMessages(r);
    expect(resp!.type).toBe(MessageType.PreVoteResp);
    expect(resp!.reject).toBe(false);
    expect(resp!.term).toBe(5);
    expect(r.term).toBe(0);
    expect(r.vote).toBe(0);
  });
});

describe("check-quorum", () => {
  it("a leader steps down when it has not heard from a quorum for an election timeout", () => {
    const n = Network.of(3, { checkQuorum: true });
    n.send(hup(1));
    const r = n.raft(1);
    expect(r.state).toBe(StateType.Leader);
    n.isolate(1);
    for (let i = 0; i < r.electionTicks * 2 + 1; i++) r.tick();
    expect(r.state).toBe(StateType.Follower);
  });

  it("a leader in contact with a quorum stays leader", () => {
    const n = Network.of(3, { checkQuorum: true });
    n.send(hup(1));
    n.cut(1, 3);
    for (let i = 0; i < 50; i++) {
      n.raft(1).tick();
      n.flush();
    }
    expect(n.raft(1).state).toBe(StateType.Leader);
  });

  it("a follower that heard from the leader recently ignores a vote request (leader lease)", () => {
    const n = Network.of(3, { checkQuorum: true });
    n.send(hup(1));
    const f = n.raft(2);
    const term = f.term;
    f.step(message({ type: MessageType.Vote, from: 3, to: 2, term: term + 1, index: 100, logTerm: 100 }));
    expect(readMessages(f)).toHaveLength(0);
    expect(f.term).toBe(term);
  });

  it("a vote forced by leadership transfer bypasses the lease", () => {
    const n = Network.of(3, { checkQuorum: true });
    n.send(hup(1));
    n.send(message({ type: MessageType.TransferLeader, from: 2, to: 1 }));
    expect(n.raft(2).state).toBe(StateType.Leader);
  });
});

describe("snapshots", () => {
  function compactLeader(r: Raft, data: Uint8Array): void {
    stabilize(r);
    (r.log.storage as MemoryStorage).createSnapshot(r.log.applied, r.confState(), data);
  }

  it("a follower that fell behind a compaction receives the snapshot in chunks and catches up", () => {
    const ids = [1, 2, 3];
    const mk = (id: number): Raft => newTestRaft(id, ids, 10, 1, { snapshotChunkBytesMax: 7 });
    const n = new Network([mk(1), mk(2), mk(3)]);
    n.send(hup(1));
    n.isolate(3);
    for (let i = 0; i < 10; i++) n.send(prop(1, `v${i}`));
    const lead = n.raft(1);
    const data = ctx("state-machine-bytes-0123456789");
    compactLeader(lead, data);
    n.recover();
    const before = n.delivered.length;
    n.send(beat(1));
    const chunks = n.delivered.slice(before).filter((m) => m.type === MessageType.Snap);
    expect(chunks.length).toBeGreaterThanOrEqual(Math.ceil(data.length / 7));
    const f = n.raft(3);
    expect(f.log.unstableSnapshot?.data).toEqual(data);
    expect(f.log.committed).toBeGreaterThanOrEqual(lead.log.storage.snapshot().metadata.index);
    n.send(beat(1));
    expect(logSummary(f).split(",").at(-1)).toBe(logSummary(lead).split(",").at(-1));
    expect(f.log.lastIndex()).toBe(lead.log.lastIndex());
  });

  it("a lost chunk is retransmitted on the next heartbeat", () => {
    const ids = [1, 2, 3];
    const mk = (id: number): Raft => newTestRaft(id, ids, 10, 1, { snapshotChunkBytesMax: 4 });
    const n = new Network([mk(1), mk(2), mk(3)]);
    n.send(hup(1));
    n.isolate(3);
    for (let i = 0; i < 5; i++) n.send(prop(1, `v${i}`));
    compactLeader(n.raft(1), ctx("0123456789abcdef"));
    n.recover();
    n.drop(1, 3, 0.5);
    for (let i = 0; i < 60; i++) n.send(beat(1));
    n.recover();
    n.send(beat(1));
    n.send(beat(1));
    expect(n.raft(3).log.lastIndex()).toBe(n.raft(1).log.lastIndex());
  });

  it("a follower that already has the snapshot's last entry only fast-forwards its commit", () => {
    const r = newTestRaft(2, ids3);
    r.becomeFollower(1, 1);
    r.step(
      message({
        type: MessageType.App,
        from: 1,
        to: 2,
        term: 1,
        entries: [
          { index: 1, term: 1, type: 0, data: new Uint8Array() },
          { index: 2, term: 1, type: 0, data: new Uint8Array() },
        ],
      }),
    );
    readMessages(r);
    r.step(
      message({
        type: MessageType.Snap,
        from: 1,
        to: 2,
        term: 1,
        snapshot: {
          metadata: { index: 1, term: 1, confState: { voters: ids3, learners: [] } },
          offset: 0,
          totalBytes: 1,
          data: new Uint8Array([9]),
        },
      }),
    );
    expect(r.log.committed).toBe(1);
    expect(r.log.unstableSnapshot).toBeUndefined();
    expect(r.log.lastIndex()).toBe(2);
  });
});

describe("membership change (one server at a time)", () => {
  it("adds a voter once the change commits and is applied; the new node learns the config from the log", () => {
    // Bootstrapped etcd-style: the initial members are conf change entries, so a joining node replays them.
    const boot = (): MemoryStorage =>
      MemoryStorage.bootstrap(
        ids3.map((id, i) => ({ index: i + 1, term: 1, type: EntryType.ConfChange, data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: id }) })),
      );
    const mk = (id: number): Raft => newTestRaft(id, [], 10, 1, { storage: boot() });
    const n = new Network([mk(1), mk(2), mk(3), newTestRaft(4, [])]);
    expect(n.raft(1).voters()).toEqual([]);
    applyAll(n);
    expect(n.raft(1).voters()).toEqual(ids3);
    n.send(hup(1));
    applyAll(n);
    expect(proposeConf(n, 1, { type: ConfChangeType.AddNode, nodeId: 4 }).ok).toBe(true);
    applyAll(n);
    expect(n.raft(1).voters()).toEqual([1, 2, 3, 4]);
    n.send(prop(1, "after"));
    n.send(beat(1));
    expect(n.raft(4).log.lastIndex()).toBe(n.raft(1).log.lastIndex());
    applyAll(n);
    expect(n.raft(4).voters()).toEqual([1, 2, 3, 4]);
  });

  it("refuses a conf change before the leader committed an entry of its term", () => {
    const n = Network.of(3);
    n.isolate(2);
    n.isolate(3);
    n.send(hup(1)); // cannot win: stays candidate
    const r = n.raft(1);
    r.becomeLeader(); // force leadership without committing the no-op
    const res = proposeConf(n, 1, { type: ConfChangeType.RemoveNode, nodeId: 3 });
    expect(res).toEqual({ ok: false, error: ProposalError.ConfChangePending });
  });

  it("allows only one pending change at a time", () => {
    const n = Network.of(3);
    n.send(hup(1));
    applyAll(n);
    expect(proposeConf(n, 1, { type: ConfChangeType.AddLearner, nodeId: 4 }).ok).toBe(true);
    const second = proposeConf(n, 1, { type: ConfChangeType.AddLearner, nodeId: 5 });
    expect(second).toEqual({ ok: false, error: ProposalError.ConfChangePending });
    applyAll(n);
    expect(proposeConf(n, 1, { type: ConfChangeType.AddLearner, nodeId: 5 }).ok).toBe(true);
  });

  it("a removed leader steps down and the rest elect a new leader", () => {
    const n = Network.of(3);
    n.send(hup(1));
    applyAll(n);
    proposeConf(n, 1, { type: ConfChangeType.RemoveNode, nodeId: 1 });
    n.send(beat(1));
    applyAll(n);
    expect(n.raft(1).state).toBe(StateType.Follower);
    expect(n.raft(2).voters()).toEqual([2, 3]);
    n.send(hup(2));
    expect(n.raft(2).state).toBe(StateType.Leader);
  });

  it("removing a voter shrinks the quorum so commits continue with the rest", () => {
    const n = Network.of(3);
    n.send(hup(1));
    applyAll(n);
    proposeConf(n, 1, { type: ConfChangeType.RemoveNode, nodeId: 3 });
    applyAll(n);
    n.isolate(3);
    n.send(prop(1, "x"));
    expect(n.raft(1).log.committed).toBe(n.raft(1).log.lastIndex());
  });

  it("a node with committed but unapplied conf changes does not campaign", () => {
    const n = Network.of(3);
    n.send(hup(1));
    applyAll(n);
    proposeConf(n, 1, { type: ConfChangeType.AddLearner, nodeId: 4 });
    n.send(beat(1));
    const f = n.raft(2);
    expect(f.log.committed).toBeGreaterThan(f.log.applied);
    const term = f.term;
    f.step(hup(2));
    expect(f.term).toBe(term);
    expect(f.state).toBe(StateType.Follower);
  });
});

describe("learners", () => {
  it("replicate the log but neither vote, campaign nor count toward commit", () => {
    const mk = (id: number): Raft => newTestRaft(id, [1, 2], 10, 1, { learners: [3] });
    const n = new Network([mk(1), mk(2), mk(3)]);
    n.send(hup(3));
    expect(n.raft(3).state).toBe(StateType.Follower);
    expect(n.raft(3).term).toBe(0);
    n.send(hup(1));
    expect(n.raft(1).state).toBe(StateType.Leader);
    expect(n.delivered.some((m) => m.type === MessageType.Vote && m.to === 3)).toBe(false);
    n.isolate(2);
    n.send(prop(1, "x"));
    expect(n.raft(3).log.lastIndex()).toBe(n.raft(1).log.lastIndex());
    // Learner acks do not make a quorum.
    expect(n.raft(1).log.committed).toBeLessThan(n.raft(1).log.lastIndex());
  });

  it("a learner promoted by AddNode becomes a voter", () => {
    const mk = (id: number): Raft => newTestRaft(id, [1, 2], 10, 1, { learners: [3] });
    const n = new Network([mk(1), mk(2), mk(3)]);
    n.send(hup(1));
    applyAll(n);
    proposeConf(n, 1, { type: ConfChangeType.AddNode, nodeId: 3 });
    n.send(beat(1));
    applyAll(n);
    expect(n.raft(3).voters()).toEqual([1, 2, 3]);
    expect(n.raft(3).promotable()).toBe(true);
  });
});

describe("leadership transfer", () => {
  it("transfers to an up-to-date follower with TimeoutNow", () => {
    const n = Network.of(3);
    n.send(hup(1));
    n.send(message({ type: MessageType.TransferLeader, from: 2, to: 1 }));
    expect(n.raft(2).state).toBe(StateType.Leader);
    expect(n.raft(1).state).toBe(StateType.Follower);
    expect(n.delivered.some((m) => m.type === MessageType.TimeoutNow)).toBe(true);
  });

  it("catches a lagging transferee up first, then transfers", () => {
    const n = Network.of(3);
    n.send(hup(1));
    n.isolate(3);
    for (let i = 0; i < 3; i++) n.send(prop(1));
    n.recover();
    n.send(message({ type: MessageType.TransferLeader, from: 3, to: 1 }));
    expect(n.raft(3).state).toBe(StateType.Leader);
  });

  it("drops proposals while a transfer is in progress and aborts after an election timeout", () => {
    const n = Network.of(3);
    n.send(hup(1));
    n.isolate(3);
    n.send(message({ type: MessageType.TransferLeader, from: 3, to: 1 }));
    const lead = n.raft(1);
    expect(lead.leadTransferee).toBe(3);
    const res = lead.step(prop(1));
    expect(res).toEqual({ ok: false, error: ProposalError.TransferInProgress });
    for (let i = 0; i < lead.electionTicks; i++) lead.tick();
    expect(lead.leadTransferee).toBe(0);
    expect(lead.step(prop(1)).ok).toBe(true);
  });

  it("forwards a transfer request from a follower to the leader", () => {
    const n = Network.of(3);
    n.send(hup(1));
    n.send(message({ type: MessageType.TransferLeader, from: 3, to: 2 }));
    expect(n.raft(3).state).toBe(StateType.Leader);
  });
});

describe("linearizable reads", () => {
  function readReq(to: number, c: string): Message {
    return message({ type: MessageType.ReadIndex, from: 0, to, context: ctx(c) });
  }

  it("leader answers ReadIndex after a heartbeat round with a quorum", () => {
    const n = Network.of(3);
    n.send(hup(1));
    const lead = n.raft(1);
    n.isolate(2);
    n.isolate(3);
    n.send(readReq(1, "r1"));
    expect(lead.readStates).toHaveLength(0);
    n.recover();
    n.send(beat(1));
    expect(lead.readStates).toEqual([{ index: lead.log.committed, context: ctx("r1") }]);
  });

  it("a follower forwards ReadIndex to the leader and gets the read index back", () => {
    const n = Network.of(3);
    n.send(hup(1));
    n.send(prop(1, "x"));
    n.send(readReq(2, "f1"));
    const f = n.raft(2);
    expect(f.readStates).toEqual([{ index: n.raft(1).log.committed, context: ctx("f1") }]);
  });

  it("a new leader defers reads until it commits an entry of its term", () => {
    const n = Network.of(3);
    n.isolate(2);
    n.isolate(3);
    n.send(hup(1));
    const r = n.raft(1);
    r.becomeLeader();
    n.send(readReq(1, "early"));
    expect(r.readStates).toHaveLength(0);
    expect(r.pendingReadIndexMessages).toHaveLength(1);
    n.recover();
    r.bcastAppend();
    n.flush();
    n.send(beat(1));
    expect(r.readStates.map((s) => new TextDecoder().decode(s.context))).toEqual(["early"]);
    expect(r.readStates[0]!.index).toBe(r.log.committed);
  });

  it("a deposed leader cannot confirm a read", () => {
    const n = Network.of(3);
    n.send(hup(1));
    n.isolate(1);
    n.send(hup(2));
    n.send(readReq(1, "stale"));
    n.send(beat(1));
    expect(n.raft(1).readStates).toHaveLength(0);
  });

  it("lease-based reads answer at once and require check-quorum", () => {
    expect(() => newTestRaft(1, ids3, 10, 1, { readOnlyOption: ReadOnlyOption.LeaseBased })).toThrow(/checkQuorum/);
    const n = Network.of(3, { checkQuorum: true, readOnlyOption: ReadOnlyOption.LeaseBased });
    n.send(hup(1));
    n.isolate(2);
    n.isolate(3);
    n.send(readReq(1, "lease"));
    expect(n.raft(1).readStates).toHaveLength(1);
  });

  it("single-node leader answers ReadIndex immediately", () => {
    const n = Network.of(1);
    n.send(hup(1));
    n.send(readReq(1, "solo"));
    expect(n.raft(1).readStates).toHaveLength(1);
  });
});

describe("flow control limits", () => {
  it("the leader refuses proposals beyond uncommittedBytesMax until entries commit", () => {
    const n = Network.of(3, { uncommittedBytesMax: 20 });
    n.send(hup(1));
    n.isolate(2);
    n.isolate(3);
    const lead = n.raft(1);
    expect(lead.step(prop(1, "0123456789")).ok).toBe(true);
    expect(lead.step(prop(1, "0123456789")).ok).toBe(true);
    expect(lead.step(prop(1, "0123456789"))).toEqual({ ok: false, error: ProposalError.TooLarge });
    n.recover();
    n.send(beat(1));
    expect(lead.uncommittedBytes).toBe(0);
    expect(lead.step(prop(1, "0123456789")).ok).toBe(true);
  });

  it("MsgApp batches respect msgBytesMax and the pipeline respects inflightMsgsMax", () => {
    const n = Network.of(3, { msgBytesMax: 100, inflightMsgsMax: 2 });
    n.send(hup(1));
    n.isolate(3);
    const lead = n.raft(1);
    readMessages(lead);
    n.cut(1, 2); // accumulate entries while node 2 acks nothing
    for (let i = 0; i < 10; i++) lead.step(prop(1, "x".repeat(40)));
    n.recover();
    lead.msgs = [];
    lead.sendAppend(2);
    lead.sendAppend(2);
    lead.sendAppend(2);
    const apps = readMessages(lead).filter((m) => m.type === MessageType.App && m.to === 2);
    expect(apps.length).toBeLessThanOrEqual(2);
    for (const m of apps) expect(m.entries.length).toBeLessThanOrEqual(2);
  });
});

describe("config validation", () => {
  it("rejects bad configs with clear messages", () => {
    expect(() => newTestRaft(0, ids3)).toThrow(/id must be a positive integer/);
    expect(() => newTestRaft(1, ids3, 1, 1)).toThrow(/electionTicks/);
    expect(() => newTestRaft(1, ids3, 10, 1, { inflightMsgsMax: 0 })).toThrow(/inflightMsgsMax/);
  });
});
