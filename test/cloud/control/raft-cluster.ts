// A 3-node in-process cluster of the real Raft core (cloud/raft RawNode +
// MemoryStorage) replicating the control-plane state machine the way
// cloud/controlplane/raft-node.ts does, with a Proposer over it. Messages are delivered
// synchronously until the cluster is quiet; nodes can be cut off from the
// network. It follows the Ready discipline: persist, send, apply, advance.
import { encodeEnvelope } from "../../../cloud/control/codec";
import { ControlStateMachine } from "../../../cloud/control/state-machine";
import { CONTROL_FORMAT_VERSION, type ApplyResult, type Command, type Envelope, type Proposer, type SessionRef } from "../../../cloud/control/types";
import { RawNode } from "../../../cloud/raft/rawnode";
import { MemoryStorage } from "../../../cloud/raft/storage/memory";
import { EntryType, StateType, type Message, type NodeId } from "../../../cloud/raft/types";

function xorshift(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s % n;
  };
}

export class Replica {
  readonly id: NodeId;
  storage: MemoryStorage;
  control = new ControlStateMachine();
  raw: RawNode;
  applied = 0;

  constructor(id: NodeId, voters: NodeId[]) {
    this.id = id;
    this.storage = new MemoryStorage({ confState: { voters, learners: [] } });
    this.raw = new RawNode({ id, electionTicks: 10, heartbeatTicks: 1, random: xorshift(id * 7919), preVote: true, checkQuorum: true }, this.storage);
  }

  isLeader(): boolean {
    return this.raw.raft.state === StateType.Leader;
  }

  /** Compacts the log into a snapshot of the applied state (what a node does periodically). */
  compact(): void {
    this.storage.createSnapshot(this.applied, this.raw.raft.confState(), this.control.snapshot());
  }
}

const key = (data: Uint8Array): string => Buffer.from(data).toString("latin1");

export class RaftControlCluster {
  readonly replicas: Replica[];
  readonly isolated = new Set<NodeId>();
  #queue: Message[] = [];
  /** Results by proposing node and entry bytes, filled when that node applies the entry. */
  #waiting = new Map<string, ApplyResult | null>();

  constructor(size = 3) {
    const ids = Array.from({ length: size }, (_, i) => i + 1);
    this.replicas = ids.map((id) => new Replica(id, ids));
  }

  node(id: NodeId): Replica {
    return this.replicas[id - 1]!;
  }

  leader(): Replica | undefined {
    return this.replicas.find((r) => r.isLeader() && !this.isolated.has(r.id));
  }

  elect(id: NodeId): Replica {
    this.node(id).raw.campaign();
    this.pump();
    const l = this.leader();
    if (l?.id !== id) throw new Error(`node ${id} did not become leader`);
    return l;
  }

  tick(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const r of this.replicas) r.raw.tick();
      this.pump();
    }
  }

  /** Runs Ready cycles and deliveries until nothing moves. */
  pump(roundsMax = 10_000): void {
    for (let round = 0; round < roundsMax; round++) {
      let moved = false;
      for (const r of this.replicas) moved = this.#processReady(r) || moved;
      const msgs = this.#queue.splice(0);
      for (const m of msgs) {
        if (this.isolated.has(m.from) || this.isolated.has(m.to)) continue;
        this.node(m.to).raw.step(m);
        moved = true;
      }
      if (!moved) return;
    }
    throw new Error("cluster did not settle");
  }

  #processReady(r: Replica): boolean {
    if (!r.raw.hasReady()) return false;
    const rd = r.raw.ready();
    if (rd.snapshot) r.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) r.storage.append(rd.entries);
    if (rd.hardState) r.storage.setHardState(rd.hardState);
    r.storage.syncNow();
    this.#queue.push(...rd.messages);
    if (rd.snapshot) {
      r.control.restore(rd.snapshot.data);
      r.applied = rd.snapshot.metadata.index;
    }
    for (const e of rd.committedEntries) {
      if (e.index <= r.applied) continue;
      r.applied = e.index;
      // A new leader's empty entry carries no command (and no time stamp).
      if (e.type !== EntryType.Normal || e.data.byteLength === 0) continue;
      const out = r.control.apply(e.data, e.index);
      const k = `${r.id}/${key(e.data)}`;
      if (this.#waiting.has(k)) this.#waiting.set(k, out);
    }
    r.raw.advance(rd);
    return true;
  }

  /** A Proposer through whichever node leads; re-proposes (same bytes, same session) after leader loss. */
  proposer(nowMs: () => number = Date.now): Proposer {
    return async (cmd: Command, session?: SessionRef): Promise<ApplyResult> => {
      const env: Envelope = session ? { v: CONTROL_FORMAT_VERSION, nowMs: nowMs(), session, cmd } : { v: CONTROL_FORMAT_VERSION, nowMs: nowMs(), cmd };
      const data = encodeEnvelope(env, this.replicas[0]!.control.limits);
      await Promise.resolve();
      for (let attempt = 0; attempt < 50; attempt++) {
        const l = this.leader();
        if (!l) { this.tick(); continue; }
        const k = `${l.id}/${key(data)}`;
        this.#waiting.set(k, null);
        const res = l.raw.propose(data);
        if (res.ok) this.pump();
        const result = this.#waiting.get(k);
        this.#waiting.delete(k);
        if (result) return result;
        this.tick();
      }
      throw new Error("no leader committed the proposal");
    };
  }
}
