// Test scaffolding in the style of etcd's raft_test.go: raft instances wired
// by an in-process network that delivers messages synchronously until quiet.

import { Raft } from "../../../cloud/raft/raft";
import { MemoryStorage } from "../../../cloud/raft/storage/memory";
import { EntryType, MessageType, message } from "../../../cloud/raft/types";
import type { Entry, Message, NodeId, RaftConfig } from "../../../cloud/raft/types";

/** Deterministic random: a counter mod n unless a seed source is given. */
export function seqRandom(seed = 1): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

export interface TestRaftOptions extends Partial<Omit<RaftConfig, "id">> {
  learners?: NodeId[];
  storage?: MemoryStorage;
}

export function newTestRaft(id: NodeId, peers: NodeId[], election = 10, heartbeat = 1, opts: TestRaftOptions = {}): Raft {
  const storage = opts.storage ?? new MemoryStorage({ confState: { voters: peers, learners: opts.learners ?? [] } });
  const { learners: _l, storage: _s, ...rest } = opts;
  return new Raft(
    { id, electionTicks: election, heartbeatTicks: heartbeat, random: seqRandom(id * 7919), ...rest },
    storage,
  );
}

export function readMessages(r: Raft): Message[] {
  const m = r.msgs;
  r.msgs = [];
  return m;
}

export function ent(index: number, term: number, data = ""): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) };
}

export function storageWithEntries(peers: NodeId[], entries: Entry[], term = 0, vote = 0): MemoryStorage {
  const s = new MemoryStorage({ confState: { voters: peers, learners: [] } });
  s.append(entries);
  if (term > 0) s.setHardState({ term, vote, commit: 0 });
  s.syncNow();
  return s;
}

export function propose(r: Raft, data = "somedata"): ReturnType<Raft["step"]> {
  return r.step(
    message({
      type: MessageType.Prop,
      from: r.id,
      entries: [{ index: 0, term: 0, type: EntryType.Normal, data: new TextEncoder().encode(data) }],
    }),
  );
}

/** All entries in the raft log (stable and unstable). */
export function allEntries(r: Raft): Entry[] {
  return r.log.slice(r.log.firstIndex(), r.log.lastIndex() + 1, Number.MAX_SAFE_INTEGER) ?? [];
}

export function logSummary(r: Raft): string {
  return allEntries(r)
    .map((e) => `${e.index}:${e.term}`)
    .join(",");
}

type Key = string;
const key = (from: NodeId, to: NodeId): Key => `${from}->${to}`;

/** In-process network of raft peers (etcd's `network`). `undefined` peers are black holes. */
export class Network {
  readonly peers = new Map<NodeId, Raft | undefined>();
  readonly dropRates = new Map<Key, number>();
  readonly ignored = new Set<MessageType>();
  readonly delivered: Message[] = [];
  #rand = seqRandom(42);

  /** peers[i] is node i+1; null is a black hole. */
  constructor(peers: (Raft | null)[]) {
    peers.forEach((p, i) => this.peers.set(i + 1, p ?? undefined));
  }

  static of(n: number, opts: Partial<Omit<RaftConfig, "id">> = {}): Network {
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    return new Network(ids.map((id) => newTestRaft(id, ids, 10, 1, opts)));
  }

  raft(id: NodeId): Raft {
    const r = this.peers.get(id);
    if (!r) throw new Error(`no raft ${id}`);
    return r;
  }

  send(...msgs: Message[]): void {
    const queue = [...msgs];
    for (let guard = 0; queue.length > 0; guard++) {
      if (guard > 100_000) throw new Error("network did not quiesce");
      const m = queue.shift()!;
      const p = this.peers.get(m.to);
      if (!p) continue;
      this.delivered.push(m);
      p.step(m);
      queue.push(...this.#filter(readMessages(p)));
    }
  }

  /** Lets every peer's outbox drain through the network. */
  flush(): void {
    for (const p of this.peers.values()) if (p) this.send(...this.#filter(readMessages(p)));
  }

  drop(from: NodeId, to: NodeId, rate: number): void {
    this.dropRates.set(key(from, to), rate);
  }

  cut(a: NodeId, b: NodeId): void {
    this.drop(a, b, 2);
    this.drop(b, a, 2);
  }

  isolate(id: NodeId): void {
    for (const other of this.peers.keys()) if (other !== id) this.cut(id, other);
  }

  ignore(t: MessageType): void {
    this.ignored.add(t);
  }

  recover(): void {
    this.dropRates.clear();
    this.ignored.clear();
  }

  #filter(msgs: Message[]): Message[] {
    return msgs.filter((m) => {
      if (this.ignored.has(m.type)) return false;
      if (m.type === MessageType.Hup) throw new Error("Hup must not go on the wire");
      const rate = this.dropRates.get(key(m.from, m.to)) ?? 0;
      return this.#rand(1_000_000) / 1_000_000 >= rate;
    });
  }
}

export function hup(id: NodeId): Message {
  return message({ type: MessageType.Hup, from: id, to: id });
}

export function beat(id: NodeId): Message {
  return message({ type: MessageType.Beat, from: id, to: id });
}

export function prop(id: NodeId, data = "somedata"): Message {
  return message({
    type: MessageType.Prop,
    from: id,
    to: id,
    entries: [{ index: 0, term: 0, type: EntryType.Normal, data: new TextEncoder().encode(data) }],
  });
}

/** Persists everything unstable and marks all committed entries applied (raft-level tests). */
export function stabilize(r: Raft): void {
  const st = r.log.storage as MemoryStorage;
  if (r.log.unstableSnapshot) {
    st.applySnapshot(r.log.unstableSnapshot);
    r.log.stableSnapTo(r.log.unstableSnapshot.metadata.index);
  }
  const ents = r.log.unstableEntries;
  if (ents.length > 0) {
    st.append(ents);
    const last = ents[ents.length - 1]!;
    r.log.stableTo(last.index, last.term);
  }
  st.syncNow();
  r.log.appliedTo(r.log.committed);
}
