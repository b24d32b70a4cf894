// Stage timings of writes (cloud/controlplane/stage-timings.ts): the
// arithmetic on its own, then the summaries a real 3-process cluster on a
// real nats-server reports in raft.status after real proposals.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsCluster } from "../../harness/nats";
import { ProcessCluster } from "../../harness/control-plane";
import { ControlClient } from "../../../cloud/controlplane/client";
import { CommandKind } from "../../../cloud/control";
import { createReplicaMetrics } from "../../../cloud/controlplane/metrics";
import { LEADER_STAGES, STAGE_WINDOW, StageTimings, type ProposalClock, type Stage, type StageSummary } from "../../../cloud/controlplane/stage-timings";

const clock = (c: Partial<ProposalClock>): ProposalClock => ({ receivedAt: 0, queuedAt: 0, steppedAt: 0, sentAt: 0, ackArrivedAt: 0, committedAt: 0, appliedAt: 0, fsyncMs: 0, index: 0, term: 0, ...c });

describe("stage timings arithmetic", () => {
  it("splits a proposal's time into back-to-back stages that add up to the total", () => {
    const observed: [Stage, number][] = [];
    const t = new StageTimings((stage, s) => observed.push([stage, s]));
    t.addProposal(clock({ receivedAt: 100, queuedAt: 100.125, steppedAt: 100.2, sentAt: 100.5, ackArrivedAt: 101.5, committedAt: 101.6, appliedAt: 101.65, fsyncMs: 0.3 }), 101.75);
    const s = t.summary();
    expect(Object.fromEntries(LEADER_STAGES.map((k) => [k, s[k]!.meanMs]))).toEqual({ receive: 0.125, queue: 0.075, append_send: 0.3, replication: 1, commit_wait: 0.1, apply: 0.05, reply: 0.1 });
    expect(s.total_in_leader!.meanMs).toBe(1.75);
    expect(s.leader_fsync!.meanMs).toBe(0.3);
    expect(observed.find(([k]) => k === "replication")![1]).toBeCloseTo(0.001, 9);
  });

  it("clamps steps not reached or out of order, so no stage is negative", () => {
    const t = new StageTimings();
    // No ack time (a single voter commits on its own), and a sent mark later than the commit.
    t.addProposal(clock({ receivedAt: 10, queuedAt: 10.5, steppedAt: 11, sentAt: 14, committedAt: 12, appliedAt: 15 }), 16);
    const s = t.summary();
    for (const k of LEADER_STAGES) expect(s[k]!.meanMs).toBeGreaterThanOrEqual(0);
    expect(LEADER_STAGES.reduce((a, k) => a + s[k]!.sumMs, 0)).toBeCloseTo(s.total_in_leader!.sumMs, 9);
    expect(s.replication!.meanMs).toBe(0);
    expect(s.leader_fsync).toBeUndefined();
  });

  it("feeds the replica's Prometheus histogram, one series per stage", async () => {
    const rm = createReplicaMetrics(7);
    const t = new StageTimings(rm.observeStage);
    t.addProposal(clock({ receivedAt: 1, queuedAt: 1.1, steppedAt: 1.2, sentAt: 1.3, ackArrivedAt: 2, committedAt: 2.1, appliedAt: 2.2 }), 2.5);
    const text = await rm.metrics.registry.metrics();
    expect(text).toMatch(/xsfleet_raft_proposal_stage_seconds_count\{process="raft-7",stage="replication"\} 1/);
    expect(text).toMatch(/xsfleet_raft_proposal_stage_seconds_sum\{process="raft-7",stage="total_in_leader"\} 0\.0015/);
  });

  it("keeps cumulative sums for all values and the median of the last STAGE_WINDOW", () => {
    const t = new StageTimings();
    for (let i = 0; i < STAGE_WINDOW; i++) t.add("follower_ack", 100);
    for (let i = 0; i < STAGE_WINDOW; i++) t.add("follower_ack", 1);
    const s = t.summary().follower_ack!;
    expect(s).toEqual({ count: 2 * STAGE_WINDOW, sumMs: 101 * STAGE_WINDOW, window: STAGE_WINDOW, meanMs: 1, p50Ms: 1 });
  });
});

let nats: NatsCluster;
let cluster: ProcessCluster;
let client: ControlClient;

beforeAll(async () => {
  nats = await startNats();
  cluster = await ProcessCluster.start(nats.servers[0]!, [1, 2, 3]);
  client = new ControlClient(cluster.nc, { clientId: "stage-test", timeoutMs: 30_000 });
  await cluster.waitLeader(45_000);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await nats?.stop();
});

const sequentialWrites = 200;
const concurrentWrites = 64;
/** Each stage is rounded to 1 µs in the summary. */
const roundingMs = 0.001 * (LEADER_STAGES.length + 1);

describe("stage timings of a real 3-process cluster", () => {
  it("times every applied write on the leader and every MsgApp on the followers, consistently", async () => {
    const leader = await cluster.waitLeader();
    const before = (await cluster.statusOf(leader))!.stages;
    expect((await client.registerDevice("stage-d", "sensor")).ok).toBe(true);
    let revision = 1;
    for (let i = 0; i < sequentialWrites; i++) {
      const r = await client.command({ kind: CommandKind.DeviceUpdateMetadata, deviceId: "stage-d", metadata: { i: String(i) }, expectedRevision: revision });
      if (!r.ok) throw new Error(JSON.stringify(r));
      revision = r.value.revision;
    }
    // Concurrent writes share Readies and MsgApps: still one timing per write.
    const regs = await Promise.all(Array.from({ length: concurrentWrites }, (_, i) => client.registerDevice(`stage-c${i}`, "sensor")));
    expect(regs.every((r) => r.ok)).toBe(true);
    expect(await cluster.waitLeader()).toBe(leader);

    const s = (await cluster.statusOf(leader))!.stages;
    const writes = 1 + sequentialWrites + concurrentWrites;
    const delta = (k: Stage): number => s[k]!.count - (before[k]?.count ?? 0);
    for (const k of [...LEADER_STAGES, "total_in_leader", "leader_fsync"] as const) {
      expect(delta(k), k).toBe(writes);
      expect(s[k]!.meanMs, k).toBeGreaterThanOrEqual(0);
      expect(s[k]!.p50Ms, k).toBeGreaterThanOrEqual(0);
      expect(s[k]!.window, k).toBe(Math.min(s[k]!.count, STAGE_WINDOW));
    }
    expect(LEADER_STAGES.reduce((a, k) => a + sumDelta(s, before, k), 0)).toBeLessThanOrEqual(sumDelta(s, before, "total_in_leader") + roundingMs);
    // A write's time on the leader includes at least one replication round trip through the broker.
    expect(s.replication!.p50Ms).toBeGreaterThan(0);
    expect(s.total_in_leader!.p50Ms).toBeGreaterThan(s.replication!.p50Ms);
    // The leader never acks a MsgApp; its followers never serve a write.
    expect(s.follower_ack).toBeUndefined();

    for (const id of cluster.ids().filter((x) => x !== leader)) {
      const f = (await cluster.statusOf(id))!.stages;
      expect(f.total_in_leader, `follower ${id}`).toBeUndefined();
      expect(f.follower_ack!.count, `follower ${id}`).toBeGreaterThanOrEqual(1);
      expect(f.follower_fsync!.count, `follower ${id}`).toBeGreaterThanOrEqual(1);
      // Every fsync counted happened between a MsgApp's arrival and its ack.
      expect(f.follower_fsync!.sumMs).toBeLessThanOrEqual(f.follower_ack!.sumMs + 0.001);
      expect(f.follower_ack!.p50Ms).toBeGreaterThan(0);
      // follower_queue, follower_persist and follower_send are back to back: together follower_ack.
      for (const k of ["follower_queue", "follower_persist", "follower_send"] as const) expect(f[k]!.count, k).toBe(f.follower_ack!.count);
      expect(f.follower_queue!.sumMs + f.follower_persist!.sumMs + f.follower_send!.sumMs).toBeCloseTo(f.follower_ack!.sumMs, 1);
      expect(f.follower_fsync!.sumMs).toBeLessThanOrEqual(f.follower_persist!.sumMs + 0.001);
    }
    // The leader timed MsgApps to each follower until their acks.
    expect(delta("follower_round_trip")).toBeGreaterThanOrEqual(writes);
    expect(s.follower_round_trip!.p50Ms).toBeGreaterThan(0);
  }, 60_000);
});

function sumDelta(s: StageSummary, before: StageSummary, k: Stage): number {
  return s[k]!.sumMs - (before[k]?.sumMs ?? 0);
}
