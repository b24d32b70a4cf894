// Tests named after the rules of the Raft paper (Ongaro & Ousterhout, 2014),
// mirroring etcd-io/raft's raft_paper_test.go.

import { describe, expect, it } from "vitest";
import { Raft } from "../../../cloud/raft/raft";
import { MessageType, StateType, message } from "../../../cloud/raft/types";
import type { Message } from "../../../cloud/raft/types";
import {
  Network,
  allEntries,
  ent,
  hup,
  logSummary,
  newTestRaft,
  prop,
  propose,
  readMessages,
  storageWithEntries,
} from "./helpers";

const ids3 = [1, 2, 3];

function commitNoopEntry(r: Raft): void {
  // Leader appends a no-op on election; commit it by acking from every follower.
  expect(r.state).toBe(StateType.Leader);
  r.bcastAppend();
  for (const m of readMessages(r)) {
    if (m.type !== MessageType.App || m.entries.length !== 1 || m.entries[0]!.data.length !== 0) {
      throw new Error(`unexpected message ${JSON.stringify(m.type)}`);
    }
    r.step(acceptAndReply(m));
  }
  readMessages(r);
}

function acceptAndReply(m: Message): Message {
  return message({
    type: MessageType.AppResp,
    from: m.to,
    to: m.from,
    term: m.term,
    index: m.index + m.entries.length,
  });
}

function becomeLeader(r: Raft): void {
  r.becomeCandidate();
  r.becomeLeader();
}

describe("§5.1 terms", () => {
  const cases: [string, (r: Raft) => void][] = [
    ["follower", (r) => r.becomeFollower(1, 2)],
    ["candidate", (r) => r.becomeCandidate()],
    ["leader", (r) => becomeLeader(r)],
  ];
  for (const [name, setup] of cases) {
    it(`${name} updates its term from a message with a larger term and becomes follower`, () => {
      const r = newTestRaft(1, ids3);
      setup(r);
      r.step(message({ type: MessageType.App, from: 2, to: 1, term: 2 }));
      expect(r.term).toBe(2);
      expect(r.state).toBe(StateType.Follower);
    });
  }

  it("rejects (ignores) a message with a stale term", () => {
    const r = newTestRaft(1, ids3);
    r.becomeFollower(2, 2);
    const before = r.log.lastIndex();
    r.step(message({ type: MessageType.App, from: 2, to: 1, term: 1, index: 0, logTerm: 0, entries: [ent(1, 1)] }));
    expect(r.log.lastIndex()).toBe(before);
    expect(r.term).toBe(2);
  });

  it("answers a stale leader with its term when pre-vote or check-quorum is on", () => {
    const r = newTestRaft(1, ids3, 10, 1, { checkQuorum: true });
    r.becomeFollower(3, 3);
    r.step(message({ type: MessageType.Heartbeat, from: 2, to: 1, term: 2 }));
    const msgs = readMessages(r);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.type).toBe(MessageType.AppResp);
    expect(msgs[0]!.term).toBe(3);
  });
});

describe("§5.2 leader election", () => {
  it("starts as follower", () => {
    const r = newTestRaft(1, ids3);
    expect(r.state).toBe(StateType.Follower);
  });

  it("leader broadcasts heartbeats every heartbeat timeout", () => {
    const hb = 1;
    const r = newTestRaft(1, ids3, 10, hb);
    becomeLeader(r);
    readMessages(r);
    for (let i = 0; i < hb; i++) r.tick();
    const msgs = readMessages(r).sort((a, b) => a.to - b.to);
    expect(msgs.map((m) => [m.to, m.type, m.term])).toEqual([
      [2, MessageType.Heartbeat, 1],
      [3, MessageType.Heartbeat, 1],
    ]);
  });

  for (const state of ["follower", "candidate"] as const) {
    it(`${state} starts a new election on election timeout: term+1, votes for itself, requests votes`, () => {
      const r = newTestRaft(1, ids3);
      if (state === "candidate") r.becomeCandidate();
      const term0 = r.term;
      for (let i = 0; i < 2 * r.electionTicks; i++) r.tick();
      expect(r.term).toBe(term0 + 1);
      expect(r.state).toBe(StateType.Candidate);
      expect(r.votes.get(1)).toBe(true);
      const msgs = readMessages(r).sort((a, b) => a.to - b.to);
      expect(msgs.map((m) => [m.to, m.type, m.term])).toEqual([
        [2, MessageType.Vote, term0 + 1],
        [3, MessageType.Vote, term0 + 1],
      ]);
    });
  }

  const rounds: [number, Map<number, boolean>, StateType][] = [
    [1, new Map(), StateType.Leader],
    [3, new Map([[2, true], [3, true]]), StateType.Leader],
    [3, new Map([[2, true]]), StateType.Leader],
    [5, new Map([[2, true], [3, true], [4, true], [5, true]]), StateType.Leader],
    [5, new Map([[2, true], [3, true], [4, true]]), StateType.Leader],
    [5, new Map([[2, true], [3, true]]), StateType.Leader],
    // return to follower state when it receives a majority of rejections
    [3, new Map([[2, false], [3, false]]), StateType.Follower],
    [5, new Map([[2, false], [3, false], [4, false], [5, false]]), StateType.Follower],
    [5, new Map([[2, true], [3, false], [4, false], [5, false]]), StateType.Follower],
    // stay in candidate if it does not obtain a majority (split vote)
    [3, new Map(), StateType.Candidate],
    [5, new Map([[2, true]]), StateType.Candidate],
    [5, new Map([[2, false], [3, false]]), StateType.Candidate],
    [5, new Map(), StateType.Candidate],
  ];
  for (const [size, votes, want] of rounds) {
    it(`election in one round: ${size} nodes, votes ${JSON.stringify([...votes])} -> ${["follower", "candidate", "leader"][want]}`, () => {
      const ids = Array.from({ length: size }, (_, i) => i + 1);
      const r = newTestRaft(1, ids);
      r.step(hup(1));
      for (const [id, granted] of votes) {
        r.step(message({ type: MessageType.VoteResp, from: id, to: 1, term: r.term, reject: !granted }));
      }
      expect(r.state).toBe(want);
      expect(r.term).toBe(1);
    });
  }

  it("a follower votes for at most one candidate per term, first come first served", () => {
    const cases: [number, number, boolean][] = [
      [0, 1, false],
      [0, 2, false],
      [1, 1, false],
      [2, 2, false],
      [1, 2, true],
      [2, 1, true],
    ];
    for (const [vote, nvote, wreject] of cases) {
      const r = newTestRaft(1, ids3);
      r.term = 1;
      r.vote = vote;
      r.step(message({ type: MessageType.Vote, from: nvote, to: 1, term: 1 }));
      const msgs = readMessages(r);
      expect(msgs).toHaveLength(1);
      expect(msgs[0]!.type).toBe(MessageType.VoteResp);
      expect(msgs[0]!.reject).toBe(wreject);
    }
  });

  it("a candidate falls back to follower on AppendEntries from a leader of the same or newer term", () => {
    for (const term of [1, 2]) {
      const r = newTestRaft(1, ids3);
      r.step(hup(1));
      expect(r.state).toBe(StateType.Candidate);
      r.step(message({ type: MessageType.App, from: 2, to: 1, term }));
      expect(r.state).toBe(StateType.Follower);
      expect(r.term).toBe(term);
    }
  });

  for (const state of ["follower", "candidate"] as const) {
    it(`${state} election timeouts are randomized across [et, 2et)`, () => {
      const et = 10;
      const r = newTestRaft(1, ids3, et);
      const seen = new Set<number>();
      for (let round = 0; round < 50 * et; round++) {
        r.becomeFollower(r.term + 1, 0);
        if (state === "candidate") r.becomeCandidate();
        let ticks = 0;
        while (r.msgs.length === 0) {
          r.tick();
          ticks++;
        }
        readMessages(r);
        seen.add(ticks);
      }
      for (let d = et; d < 2 * et; d++) expect(seen.has(d), `timeout ${d} never chosen`).toBe(true);
      for (const t of seen) expect(t >= et && t < 2 * et).toBe(true);
    });
  }

  it("randomized timeouts make it rare that followers time out together (split votes)", () => {
    const et = 10;
    const size = 5;
    let conflicts = 0;
    const rounds = 1000;
    const ids = Array.from({ length: size }, (_, i) => i + 1);
    const rs = ids.map((id) => newTestRaft(id, ids, et));
    for (let round = 0; round < rounds; round++) {
      for (const r of rs) r.becomeFollower(r.term + 1, 0);
      let timedOut = 0;
      while (timedOut === 0) {
        for (const r of rs) {
          r.tick();
          if (r.msgs.length > 0) timedOut++;
        }
      }
      for (const r of rs) readMessages(r);
      if (timedOut > 1) conflicts++;
    }
    expect(conflicts / rounds).toBeLessThanOrEqual(0.3);
  });
});

describe("§5.3 log replication", () => {
  it("leader appends the proposal, then sends AppendEntries to every follower", () => {
    const r = newTestRaft(1, ids3);
    becomeLeader(r);
    commitNoopEntry(r);
    const li = r.log.lastIndex();
    propose(r);
    expect(r.log.lastIndex()).toBe(li + 1);
    expect(r.log.committed).toBe(li);
    const msgs = readMessages(r).sort((a, b) => a.to - b.to);
    expect(msgs.map((m) => [m.to, m.type, m.index, m.logTerm, m.commit, m.entries.length])).toEqual([
      [2, MessageType.App, li, 1, li, 1],
      [3, MessageType.App, li, 1, li, 1],
    ]);
    expect(allEntries(r).at(-1)!.term).toBe(1);
  });

  it("leader commits an entry once a majority stored it and tells followers the commit index", () => {
    const r = newTestRaft(1, ids3);
    becomeLeader(r);
    commitNoopEntry(r);
    const li = r.log.lastIndex();
    propose(r);
    for (const m of readMessages(r)) r.step(acceptAndReply(m));
    expect(r.log.committed).toBe(li + 1);
    const ents = r.log.nextCommittedEntries(1 << 20);
    expect(ents.map((e) => new TextDecoder().decode(e.data))).toContain("somedata");
    const msgs = readMessages(r).sort((a, b) => a.to - b.to);
    for (const m of msgs) {
      expect(m.type).toBe(MessageType.App);
      expect(m.commit).toBe(li + 1);
    }
  });

  const ackCases: [number, number[], boolean][] = [
    [1, [], true],
    [3, [], false],
    [3, [2], true],
    [3, [2, 3], true],
    [5, [], false],
    [5, [2], false],
    [5, [2, 3], true],
    [5, [2, 3, 4], true],
    [5, [2, 3, 4, 5], true],
  ];
  for (const [size, acceptors, wack] of ackCases) {
    it(`leader acknowledges commit: ${size} nodes, acks from ${JSON.stringify(acceptors)} -> ${wack}`, () => {
      const ids = Array.from({ length: size }, (_, i) => i + 1);
      const r = newTestRaft(1, ids);
      becomeLeader(r);
      commitNoopEntry(r);
      const li = r.log.lastIndex();
      propose(r);
      for (const m of readMessages(r)) if (acceptors.includes(m.to)) r.step(acceptAndReply(m));
      expect(r.log.committed > li).toBe(wack);
    });
  }

  it("committing an entry also commits all preceding entries, including ones from earlier terms", () => {
    const tests = [[], [ent(1, 2)], [ent(1, 1), ent(2, 2)], [ent(1, 1)]];
    for (const prev of tests) {
      const storage = storageWithEntries(ids3, prev);
      const r = newTestRaft(1, ids3, 10, 1, { storage });
      r.term = 2;
      becomeLeader(r);
      propose(r);
      for (const m of readMessages(r)) r.step(acceptAndReply(m));
      const li = prev.length;
      const committed = r.log.nextCommittedEntries(1 << 20);
      expect(committed.map((e) => `${e.index}:${e.term}`)).toEqual([
        ...prev.map((e) => `${e.index}:${e.term}`),
        `${li + 1}:3`,
        `${li + 2}:3`,
      ]);
    }
  });

  it("follower applies entries up to the leader's commit index, in order", () => {
    const tests: [ReturnType<typeof ent>[], number][] = [
      [[ent(1, 1, "some data")], 1],
      [[ent(1, 1, "some data"), ent(2, 1, "some data2")], 2],
      [[ent(1, 1, "some data2"), ent(2, 1, "some data")], 2],
      [[ent(1, 1, "some data"), ent(2, 1, "some data2")], 1],
    ];
    for (const [ents, commit] of tests) {
      const r = newTestRaft(1, ids3);
      r.becomeFollower(1, 2);
      r.step(message({ type: MessageType.App, from: 2, to: 1, term: 1, entries: ents, commit }));
      expect(r.log.committed).toBe(commit);
      expect(r.log.nextCommittedEntries(1 << 20)).toEqual(ents.slice(0, commit));
    }
  });

  it("follower checks the (index, term) of the preceding entry and rejects with a hint when it does not match", () => {
    const ents = [ent(1, 1), ent(2, 2)];
    const tests: [number, number, number, boolean, number][] = [
      // [logTerm, index, wIndex, wReject, wRejectHint]
      [0, 0, 1, false, 0],
      [ents[0]!.term, ents[0]!.index, 1, false, 0],
      [ents[1]!.term, ents[1]!.index, 2, false, 0],
      [ents[0]!.term, ents[1]!.index, ents[1]!.index, true, 1],
      [ents[1]!.term, ents[1]!.index + 1, ents[1]!.index + 1, true, 2],
    ];
    for (const [logTerm, index, wIndex, wReject, wHint] of tests) {
      const r = newTestRaft(1, ids3, 10, 1, { storage: storageWithEntries(ids3, ents) });
      r.log.commitTo(1);
      r.becomeFollower(2, 2);
      r.step(message({ type: MessageType.App, from: 2, to: 1, term: 2, logTerm, index }));
      const msgs = readMessages(r);
      expect(msgs).toHaveLength(1);
      expect([msgs[0]!.index, msgs[0]!.reject, msgs[0]!.rejectHint]).toEqual([wIndex, wReject, wHint]);
    }
  });

  it("follower deletes a conflicting suffix and appends new entries", () => {
    const tests: [number, number, ReturnType<typeof ent>[], string][] = [
      [2, 2, [ent(3, 3)], "1:1,2:2,3:3"],
      [1, 1, [ent(2, 3), ent(3, 4)], "1:1,2:3,3:4"],
      [0, 0, [ent(1, 1)], "1:1,2:2"],
      [0, 0, [ent(1, 3)], "1:3"],
    ];
    for (const [index, term, ents, want] of tests) {
      const r = newTestRaft(1, ids3, 10, 1, { storage: storageWithEntries(ids3, [ent(1, 1), ent(2, 2)]) });
      r.becomeFollower(2, 2);
      r.step(message({ type: MessageType.App, from: 2, to: 1, term: 2, logTerm: term, index, entries: ents }));
      expect(logSummary(r)).toBe(want);
    }
  });

  it("leader brings every follower's log in line with its own (Figure 7)", () => {
    const ents = (spec: number[]): ReturnType<typeof ent>[] => spec.map((t, i) => ent(i + 1, t));
    const leaderLog = ents([1, 1, 1, 4, 4, 5, 5, 6, 6, 6]);
    const followers = [
      ents([1, 1, 1, 4, 4, 5, 5, 6, 6]),
      ents([1, 1, 1, 4]),
      ents([1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6]),
      ents([1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7]),
      ents([1, 1, 1, 4, 4, 4, 4]),
      ents([1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]),
    ];
    for (const flog of followers) {
      const lead = newTestRaft(1, ids3, 10, 1, { storage: storageWithEntries(ids3, leaderLog, 8) });
      lead.log.commitTo(leaderLog.length);
      const follower = newTestRaft(2, ids3, 10, 1, { storage: storageWithEntries(ids3, flog, 7) });
      // Node 3 votes for the leader, then is a black hole.
      const n = new Network([lead, follower, null]);
      n.send(hup(1));
      n.send(message({ type: MessageType.VoteResp, from: 3, to: 1, term: lead.term }));
      n.send(prop(1, ""));
      expect(lead.state).toBe(StateType.Leader);
      expect(logSummary(follower)).toBe(logSummary(lead));
    }
  });
});

describe("§5.4 safety", () => {
  it("a candidate sends RequestVote with its last log index and term", () => {
    const tests: [ReturnType<typeof ent>[], number][] = [
      [[ent(1, 1), ent(2, 2)], 3],
      [[ent(1, 1), ent(2, 2), ent(3, 3)], 4],
    ];
    for (const [ents, wterm] of tests) {
      const r = newTestRaft(1, ids3, 10, 1, { storage: storageWithEntries(ids3, ents) });
      r.step(message({ type: MessageType.App, from: 2, to: 1, term: wterm - 1, logTerm: 0, index: 0 }));
      readMessages(r);
      for (let i = 1; i < r.electionTicks * 2; i++) r.tick();
      const msgs = readMessages(r).sort((a, b) => a.to - b.to);
      expect(msgs).toHaveLength(2);
      for (const m of msgs) {
        expect(m.type).toBe(MessageType.Vote);
        expect(m.term).toBe(wterm);
        expect(m.index).toBe(ents.at(-1)!.index);
        expect(m.logTerm).toBe(ents.at(-1)!.term);
      }
    }
  });

  it("a voter denies its vote if its own log is more up to date (§5.4.1)", () => {
    const ents = [ent(1, 1), ent(2, 1)];
    const tests: [number, number, boolean][] = [
      [1, 2, false], // same logterm
      [1, 1, true],
      [1, 3, false],
      [2, 2, false], // candidate higher logterm
      [2, 1, false],
      [2, 3, false],
      [0, 1, true], // voter higher logterm
      [0, 2, true],
      [0, 3, true],
    ];
    for (const [logTerm, index, wreject] of tests) {
      const r = newTestRaft(1, [1, 2], 10, 1, { storage: storageWithEntries([1, 2], ents) });
      r.step(message({ type: MessageType.Vote, from: 2, to: 1, term: 3, logTerm, index }));
      const msgs = readMessages(r);
      expect(msgs).toHaveLength(1);
      expect(msgs[0]!.reject, `logTerm ${logTerm} index ${index}`).toBe(wreject);
    }
  });

  it("a leader only commits entries of its current term by counting replicas (§5.4.2)", () => {
    const ents = [ent(1, 1), ent(2, 2)];
    const tests: [number, number][] = [
      [1, 0], // do not commit log entries in previous terms
      [2, 0],
      [3, 3], // commit log in current term
    ];
    for (const [index, wcommit] of tests) {
      const r = newTestRaft(1, ids3, 10, 1, { storage: storageWithEntries(ids3, ents) });
      r.term = 2;
      becomeLeader(r); // term 3, no-op at index 3
      readMessages(r);
      r.step(message({ type: MessageType.AppResp, from: 2, to: 1, term: r.term, index }));
      expect(r.log.committed).toBe(wcommit);
    }
  });

  it("leader appends a no-op entry of its term when elected", () => {
    const n = Network.of(3);
    n.send(hup(1));
    const r = n.raft(1);
    expect(r.state).toBe(StateType.Leader);
    const last = allEntries(r).at(-1)!;
    expect(last.term).toBe(r.term);
    expect(last.data.length).toBe(0);
    expect(r.log.committed).toBe(last.index);
  });
});
