// RawNode: the Ready/advance contract, driving a 3-node cluster by hand.

import { describe, expect, it } from "vitest";
import { RawNode } from "../../../cloud/raft/rawnode";
import type { Ready } from "../../../cloud/raft/rawnode";
import { MemoryStorage } from "../../../cloud/raft/storage/memory";
import { ConfChangeType, EntryType, StateType, encodeConfChange } from "../../../cloud/raft/types";
import type { Message } from "../../../cloud/raft/types";
import { seqRandom } from "./helpers";

function bootStorage(ids: number[]): MemoryStorage {
  return MemoryStorage.bootstrap(
    ids.map((id, i) => ({ index: i + 1, term: 1, type: EntryType.ConfChange, data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: id }) })),
  );
}

class Cluster {
  readonly nodes = new Map<number, { raw: RawNode; storage: MemoryStorage; applied: string[] }>();
  constructor(ids: number[]) {
    for (const id of ids) {
      const storage = bootStorage(ids);
      this.nodes.set(id, { raw: new RawNode({ id, electionTicks: 10, heartbeatTicks: 1, random: seqRandom(id) }, storage), storage, applied: [] });
    }
  }
  /** Runs Ready loops and delivers messages until nothing moves. */
  stabilize(): void {
    for (let round = 0; round < 1000; round++) {
      const msgs: Message[] = [];
      for (const n of this.nodes.values()) {
        while (n.raw.hasReady()) {
          const rd = n.raw.ready();
          persist(n.storage, rd);
          msgs.push(...rd.messages);
          for (const e of rd.committedEntries) if (e.type === EntryType.Normal && e.data.length) n.applied.push(new TextDecoder().decode(e.data));
          n.raw.advance(rd);
        }
      }
      if (msgs.length === 0) return;
      for (const m of msgs) this.nodes.get(m.to)?.raw.step(m);
    }
    throw new Error("cluster did not stabilize");
  }
  get(id: number): RawNode {
    return this.nodes.get(id)!.raw;
  }
}

function persist(s: MemoryStorage, rd: Ready): void {
  if (rd.snapshot) s.applySnapshot(rd.snapshot);
  s.append(rd.entries);
  if (rd.hardState) s.setHardState(rd.hardState);
  s.syncNow();
}

describe("RawNode", () => {
  it("bootstraps from conf change entries, elects a leader and replicates proposals to every node", () => {
    const c = new Cluster([1, 2, 3]);
    c.stabilize();
    expect(c.get(1).status().confState.voters).toEqual([1, 2, 3]);
    c.get(1).campaign();
    c.stabilize();
    expect(c.get(1).status().state).toBe(StateType.Leader);
    expect(c.get(1).propose(new TextEncoder().encode("hello")).ok).toBe(true);
    c.stabilize();
    for (const n of c.nodes.values()) expect(n.applied).toEqual(["hello"]);
  });

  it("Ready carries hard state, entries and messages; after advance there is nothing left", () => {
    const storage = bootStorage([1]);
    const raw = new RawNode({ id: 1, electionTicks: 10, heartbeatTicks: 1, random: seqRandom(1) }, storage);
    let rd = raw.ready();
    persist(storage, rd);
    expect(rd.committedEntries).toHaveLength(1); // the bootstrap conf change
    raw.advance(rd);
    raw.campaign();
    rd = raw.ready();
    expect(rd.softState).toEqual({ lead: 1, state: StateType.Leader });
    expect(rd.hardState).toEqual({ term: 2, vote: 1, commit: 2 });
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    expect(rd.mustSync).toBe(true);
    persist(storage, rd);
    raw.advance(rd);
    expect(raw.hasReady()).toBe(false);
  });

  it("refuses a second ready() before advance() and an advance() of a foreign Ready", () => {
    const raw = new RawNode({ id: 1, electionTicks: 10, heartbeatTicks: 1, random: seqRandom(1) }, bootStorage([1]));
    const rd = raw.ready();
    expect(() => raw.ready()).toThrow(/before advance/);
    expect(raw.hasReady()).toBe(false);
    expect(() => raw.advance({ ...rd })).toThrow(/not the pending one/);
    raw.advance(rd);
  });

  it("restarts from storage with its term, vote, log and config", () => {
    const c = new Cluster([1, 2, 3]);
    c.stabilize();
    c.get(2).campaign();
    c.stabilize();
    c.get(2).propose(new TextEncoder().encode("x"));
    c.stabilize();
    const n = c.nodes.get(3)!;
    const storage = n.storage.crash();
    const again = new RawNode({ id: 3, electionTicks: 10, heartbeatTicks: 1, random: seqRandom(3) }, storage);
    const st = again.status();
    expect(st.term).toBe(c.get(2).status().term);
    expect(st.lastIndex).toBe(c.get(2).status().lastIndex);
    // Committed entries are re-delivered (applied was 0) and the config comes back from them.
    const rd = again.ready();
    expect(rd.committedEntries.length).toBe(st.commit);
    again.advance(rd);
    expect(again.status().confState.voters).toEqual([1, 2, 3]);
  });

  it("adds a learner with a conf change and promotes it", () => {
    const c = new Cluster([1, 2, 3]);
    c.stabilize();
    c.get(1).campaign();
    c.stabilize();
    expect(c.get(1).proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 }).ok).toBe(true);
    c.stabilize();
    expect(c.get(1).status().confState).toEqual({ voters: [1, 2, 3], learners: [4] });
    expect(c.get(1).proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 4 }).ok).toBe(true);
    c.stabilize();
    expect(c.get(2).status().confState).toEqual({ voters: [1, 2, 3, 4], learners: [] });
  });

  it("readIndex produces a ReadState with the request context", () => {
    const c = new Cluster([1, 2, 3]);
    c.stabilize();
    c.get(1).campaign();
    c.stabilize();
    const raw = c.get(2);
    expect(raw.readIndex(new TextEncoder().encode("ctx-1")).ok).toBe(true);
    const msgs: Message[] = [];
    let found = false;
    for (let i = 0; i < 10 && !found; i++) {
      for (const n of c.nodes.values()) {
        if (!n.raw.hasReady()) continue;
        const rd = n.raw.ready();
        persist(n.storage, rd);
        if (n.raw === raw && rd.readStates.length > 0) {
          expect(new TextDecoder().decode(rd.readStates[0]!.context)).toBe("ctx-1");
          expect(rd.readStates[0]!.index).toBe(c.get(1).status().commit);
          found = true;
        }
        msgs.push(...rd.messages);
        n.raw.advance(rd);
      }
      for (const m of msgs.splice(0)) c.nodes.get(m.to)?.raw.step(m);
    }
    expect(found).toBe(true);
    expect(() => raw.readIndex(new Uint8Array())).toThrow(/context must not be empty/);
  });
});
