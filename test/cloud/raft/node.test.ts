// RaftNode: the real I/O loop with WAL storage on disk, over the in-process
// transport (fast) and over real nats-server processes.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { RaftNode, RaftNodeError } from "../../../cloud/raft/node";
import type { StateMachine } from "../../../cloud/raft/session";
import { WalStorage } from "../../../cloud/raft/storage/wal";
import { MemoryHub } from "../../../cloud/raft/transport/memory";
import { NatsTransport, raftSubject } from "../../../cloud/raft/transport/nats";
import type { RaftTransport } from "../../../cloud/raft/transport/types";
import { ConfChangeType, EntryType, StateType, encodeConfChange } from "../../../cloud/raft/types";
import type { Entry } from "../../../cloud/raft/types";
import { startNats } from "../../harness/nats";

const enc = new TextEncoder();
const dec = new TextDecoder();

class KvMachine implements StateMachine {
  data = new Map<string, string>();
  apply(e: Entry): Uint8Array {
    const [k, v] = dec.decode(e.data).split("=");
    const prev = this.data.get(k!) ?? "";
    this.data.set(k!, v!);
    return enc.encode(prev);
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify([...this.data]));
  }
  restore(b: Uint8Array): void {
    this.data = new Map(JSON.parse(dec.decode(b)) as [string, string][]);
  }
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "xsfleet-raftnode-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function waitFor<T>(what: string, f: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Member {
  node: RaftNode;
  sm: KvMachine;
  dir: string;
}

const IDS = [1, 2, 3];
const bootEntries: Entry[] = IDS.map((id, i) => ({
  index: i + 1,
  term: 1,
  type: EntryType.ConfChange,
  data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: id }),
}));

async function startMember(id: number, dir: string, transport: RaftTransport, fresh: boolean): Promise<Member> {
  const storage = await WalStorage.open(dir, { warn: () => {} });
  if (fresh && storage.lastIndex() === 0) {
    storage.append(bootEntries);
    storage.setHardState({ term: 1, vote: 0, commit: bootEntries.length });
    await storage.sync();
  }
  const sm = new KvMachine();
  const node = new RaftNode({
    raft: { id, electionTicks: 10, heartbeatTicks: 2, preVote: true, checkQuorum: true },
    storage,
    transport,
    stateMachine: sm,
    tickMs: 10,
    snapshotEntries: 20,
  });
  return { node, sm, dir };
}

async function leaderOf(members: Member[]): Promise<Member> {
  return waitFor("a leader", () => members.find((m) => m.node.status().state === StateType.Leader));
}

async function exercise(members: Member[], restart: (id: number) => Promise<Member>): Promise<void> {
  const leader = await leaderOf(members);
  expect(dec.decode(await leader.node.propose(enc.encode("x=1")))).toBe("");
  expect(dec.decode(await leader.node.propose(enc.encode("x=2")))).toBe("1");
  // A follower forwards proposals to the leader and gets its own response.
  const follower = members.find((m) => m !== leader)!;
  await waitFor("follower knows the leader", () => follower.node.status().lead !== 0);
  expect(dec.decode(await follower.node.propose(enc.encode("y=9")))).toBe("");
  // Linearizable read on a follower: after the barrier its state has every earlier write.
  await follower.node.readBarrier();
  expect(follower.sm.data.get("y")).toBe("9");
  expect(follower.sm.data.get("x")).toBe("2");
  // Enough writes to trigger snapshots and log compaction.
  for (let i = 0; i < 50; i++) await leader.node.propose(enc.encode(`k${i}=${i}`));
  // Stop a follower, write more, restart it from its WAL: it catches up.
  const victim = members.find((m) => m !== leader && m !== follower)!;
  await victim.node.stop();
  for (let i = 0; i < 30; i++) await leader.node.propose(enc.encode(`after${i}=${i}`));
  const back = await restart(victim.node.id);
  members[members.indexOf(victim)] = back;
  await waitFor("restarted node caught up", () => back.sm.data.get("after29") === "29");
  expect(back.sm.data.get("x")).toBe("2");
  // Leadership transfer to the restarted node.
  leader.node.transferLeader(back.node.id);
  await waitFor("transfer", () => back.node.status().state === StateType.Leader);
  expect(dec.decode(await back.node.propose(enc.encode("x=3")))).toBe("2");
}

describe("RaftNode over the in-process transport with WAL storage", () => {
  it("elects, replicates, reads linearizably, compacts, restarts from disk and transfers leadership", async () => {
    const hub = new MemoryHub();
    const dirs = IDS.map((id) => path.join(root, `mem-${id}`));
    const members = await Promise.all(IDS.map((id, i) => startMember(id, dirs[i]!, hub.join(id), true)));
    try {
      await exercise(members, (id) => startMember(id, dirs[id - 1]!, hub.join(id), false));
    } finally {
      await Promise.all(members.map((m) => m.node.stop()));
    }
  }, 60_000);

  it("fails proposals clearly: not leader, timeout, stopped", async () => {
    const hub = new MemoryHub();
    const m = await startMember(1, path.join(root, "lonely"), hub.join(1), true);
    // Node 1 of a 3-node config with no peers: never leader.
    await expect(m.node.propose(enc.encode("a=1"))).rejects.toThrow(RaftNodeError);
    await m.node.stop();
    expect(() => m.node.readBarrier()).toThrow(/stopped/);
  });
});

describe("RaftNode over NATS", () => {
  it("runs a 3-node group on real nats-server processes", async () => {
    const nats = await startNats({ size: 1 });
    const conns: NatsConnection[] = [];
    const group = `t${process.pid}`;
    const open = async (id: number): Promise<NatsTransport> => {
      const nc = await connect({ servers: nats.servers, maxReconnectAttempts: -1, name: `raft-${id}` });
      conns.push(nc);
      return new NatsTransport({ nc, group, nodeId: id, frameBytesMax: 64 << 10 });
    };
    const dirs = IDS.map((id) => path.join(root, `nats-${id}`));
    const members: Member[] = [];
    try {
      for (const id of IDS) members.push(await startMember(id, dirs[id - 1]!, await open(id), true));
      await exercise(members, async (id) => startMember(id, dirs[id - 1]!, await open(id), false));
      expect(raftSubject(group, 2)).toBe(`xsfleet.raft.${group}.2`);
    } finally {
      await Promise.all(members.map((m) => m.node.stop()));
      await Promise.all(conns.map((c) => c.close()));
      await nats.stop();
    }
  }, 90_000);

  it("rejects bad group names", async () => {
    expect(() => new NatsTransport({ nc: {} as NatsConnection, group: "a.b", nodeId: 1 })).toThrow(/group must match/);
  });
});
