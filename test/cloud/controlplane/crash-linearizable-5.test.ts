// Five replicas as OS processes, run with --strict-leader-append (every
// message waits for its Ready's fsync; the 3-process test runs the default,
// where the leader replicates while its own fsync runs); clients read and
// compare-and-set desired configs while the test kill -9s two replicas at a
// time and restarts them from their data dirs. Checks: the recorded history is
// linearizable (cloud/check/lincheck), every acknowledged write is in the final
// state, and all replicas converge to the same applied index.
import { afterAll, beforeAll, describe, it } from "vitest";
import { startNats, type NatsCluster } from "../../harness/nats";
import { ProcessCluster } from "../../harness/control-plane";
import { runCrashScenario } from "./crash-scenario";

let nats: NatsCluster;
let cluster: ProcessCluster;

beforeAll(async () => {
  nats = await startNats();
  cluster = await ProcessCluster.start(nats.servers[0]!, [1, 2, 3, 4, 5], ["--strict-leader-append"]);
  await cluster.waitLeader(45_000);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await nats?.stop();
});

describe("5 control-plane processes (--strict-leader-append) under kill -9", () => {
  it("keeps every acknowledged write and a linearizable history", async () => {
    // Two at a time (a quorum of 3 remains): the leader with a follower, or two followers.
    await runCrashScenario(cluster, {
      rounds: 5,
      victims: (round, leader, ids) => {
        const followers = ids.filter((id) => id !== leader);
        const f = followers[round % followers.length]!;
        return round % 2 === 0 ? [leader, f] : [f, followers[(round + 1) % followers.length]!];
      },
    });
  }, 120_000);
});
