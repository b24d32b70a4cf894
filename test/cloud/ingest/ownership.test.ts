// Partition ownership without a broker: the fair share (pure), and
// PartitionOwnership's reconcile over the real control-plane state machine
// (membership with TTL, leader-stamped time from a manual clock) with
// recording workers — who contends for which partition as nodes join, leave
// and die. The leases themselves and the pull loops are exercised against
// real nats-server in cluster.test.ts and single-node.test.ts.
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../cloud/base";
import { ControlStateMachine } from "../../../cloud/control";
import { ControlPlaneIngestMembership, emptyIngestStats, fairShare, PartitionOwnership, type ShareWorker } from "../../../cloud/ingest";
import { localProposer } from "../../harness/local-proposer";

function owners(share: Map<string, number[]>): Map<number, string> {
  const o = new Map<number, string>();
  for (const [n, ps] of share) for (const p of ps) o.set(p, n);
  return o;
}

describe("fair share", () => {
  it("gives every partition exactly one node, shares differ by at most one, the same answer for any order of the view", () => {
    for (const [partitions, nodes] of [[16, ["a", "b", "c"]], [16, ["ingest-1"]], [64, ["n1", "n2", "n3", "n4", "n5"]], [3, ["x", "y", "z", "w"]]] as const) {
      const share = fairShare(partitions, nodes);
      const all = [...share.values()].flat().sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: partitions }, (_, i) => i));
      const sizes = [...share.values()].map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(fairShare(partitions, [...nodes].reverse())).toEqual(share);
    }
    expect(fairShare(16, []).size).toBe(0);
    expect(() => fairShare(0, ["a"])).toThrow(/partitions/);
  });

  it("moves mostly the leaving node's partitions", () => {
    const nodes = ["cloud-1", "cloud-2", "cloud-3"];
    const full = owners(fairShare(16, nodes));
    for (const gone of nodes) {
      const after = owners(fairShare(16, nodes.filter((n) => n !== gone)));
      const extra = [...full].filter(([p, n]) => n !== gone && after.get(p) !== n).length;
      expect(extra, `moves beyond ${gone}'s own`).toBeLessThanOrEqual(2);
    }
  });
});

describe("partition ownership over the control plane's membership", () => {
  const ttlMs = 3_000;

  /** A node: its ownership with workers that record start/stop; nothing pulls. */
  function node(id: string, propose: ReturnType<typeof localProposer>, nowMs: () => number) {
    const running = new Set<number>();
    const events: string[] = [];
    const newWorker = (p: number): ShareWorker => ({
      start: () => { running.add(p); events.push(`start ${p}`); },
      stop: async () => { running.delete(p); events.push(`stop ${p}`); },
      owned: () => null,
    });
    const ownership = new PartitionOwnership({
      nodeId: id, partitions: 16, ttlMs, membership: new ControlPlaneIngestMembership(propose, id, ttlMs), newWorker,
      stats: emptyIngestStats(id), log: silentLogger, nowMs,
    });
    return { ownership, running, events };
  }

  it("shares among live nodes, hands partitions off when a node joins, takes a dead node's share once its membership lapses", async () => {
    let now = 1_000_000;
    const propose = localProposer(new ControlStateMachine(), { nowMs: () => now });
    const a = node("ingest-a", propose, () => now);
    await a.ownership.tick();
    expect([...a.running].sort((x, y) => x - y)).toEqual(Array.from({ length: 16 }, (_, i) => i));

    const b = node("ingest-b", propose, () => now);
    await b.ownership.tick();
    await a.ownership.tick();
    const want = fairShare(16, ["ingest-a", "ingest-b"]);
    expect([...a.running].sort((x, y) => x - y)).toEqual(want.get("ingest-a"));
    expect([...b.running].sort((x, y) => x - y)).toEqual(want.get("ingest-b"));
    // a handed exactly b's share off.
    expect(a.events.filter((e) => e.startsWith("stop")).map((e) => Number(e.split(" ")[1])).sort((x, y) => x - y)).toEqual(want.get("ingest-b"));

    // b dies (no more heartbeats); a keeps heartbeating. Past b's TTL a's view drops it.
    now += ttlMs / 2;
    await a.ownership.tick(); // a heartbeat is due (ttl/3 passed): a stays alive
    expect([...a.running].sort((x, y) => x - y), "b is still a member within its TTL").toEqual(want.get("ingest-a"));
    for (let t = 0; t < 3; t++) {
      now += ttlMs / 2;
      await a.ownership.tick();
    }
    expect([...a.running].sort((x, y) => x - y)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    await a.ownership.stop();
    expect(a.running.size).toBe(0);
  });
});
