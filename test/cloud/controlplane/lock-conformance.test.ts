// The DistributedLock conformance suite (test/cloud/lock/conformance.ts)
// against ControlPlaneLock over the real thing: 3 control-plane processes,
// Raft over NATS, each lock client with its own ControlClient.
import { afterAll, beforeAll } from "vitest";
import { startNats, type NatsCluster } from "../../harness/nats";
import { ControlClient } from "../../../cloud/controlplane/client";
import { ControlPlaneLock } from "../../../cloud/lock/control-plane-lock";
import { runLockConformance } from "../lock/conformance";
import { ProcessCluster } from "../../harness/control-plane";

let nats: NatsCluster;
let cluster: ProcessCluster;

beforeAll(async () => {
  nats = await startNats();
  cluster = await ProcessCluster.start(nats.servers[0]!, [1, 2, 3]);
  await cluster.waitLeader(45_000);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await nats?.stop();
});

runLockConformance("control plane over Raft/NATS processes", () =>
  new ControlPlaneLock({ propose: new ControlClient(cluster.nc, { timeoutMs: 20_000 }).proposer(), retry: { retryMinMs: 5, retryMaxMs: 50 } }));
