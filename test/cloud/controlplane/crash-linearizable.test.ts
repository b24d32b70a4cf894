// Three replicas as OS processes; clients read and compare-and-set desired
// configs while the test kill -9s the leader and followers in turn and
// restarts them from their data dirs, or pauses the leader (SIGSTOP). Checks: the recorded history is
// linearizable (cloud/check/lincheck), every acknowledged write is in the final
// state, and all replicas converge to the same applied index. Snapshots are
// taken every 100 entries so recovery goes through snapshots and compaction.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsCluster } from "../../harness/nats";
import { ProcessCluster } from "../../harness/control-plane";
import { runCrashScenario } from "./crash-scenario";

let nats: NatsCluster;
let cluster: ProcessCluster;

beforeAll(async () => {
  nats = await startNats();
  // Small snapshot interval: restarts load snapshots and lagging followers get InstallSnapshot.
  cluster = await ProcessCluster.start(nats.servers[0]!, [1, 2, 3], ["--snapshot-entries", "100"]);
  await cluster.waitLeader(45_000);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await nats?.stop();
});

describe("3 control-plane processes under kill -9", () => {
  it("keeps every acknowledged write and a linearizable history", async () => {
    // The leader on even rounds, a follower on odd ones; rounds 2 and 5
    // SIGSTOP the leader instead, so it wakes up deposed with reads queued.
    await runCrashScenario(cluster, {
      rounds: 7,
      pauseRounds: [2, 5],
      victims: (round, leader, ids) => [round % 2 === 0 ? leader : ids.find((id) => id !== leader)!],
    });
    // Compaction, then restart from disk: every replica has snapshotted, and a
    // follower killed now comes back from its snapshot + WAL tail to the same state.
    const leader = await cluster.waitLeader();
    const before = await cluster.waitConverged(0, 30_000);
    for (const s of before) expect(s.snapshotIndex).toBeGreaterThan(0);
    const follower = cluster.ids().find((id) => id !== leader)!;
    await cluster.kill9(follower);
    cluster.restart(follower);
    const after = await cluster.waitConverged(before[0]!.applied, 30_000);
    expect(after.find((s) => s.id === follower)!.snapshotIndex).toBeGreaterThan(0);
  }, 120_000);
});
