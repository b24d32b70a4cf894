// Fenced read-modify-write on the real control plane: three Raft replica
// processes serve the lock (ControlPlaneLock), a NATS KV key is the resource
// (FencedKv: the KV compare-and-set on the key's revision). 20 contenders,
// TTL 500 ms, holders pausing past their TTL (rmw-contest.ts). The fenced
// compare-and-set loses nothing; the token-only check loses updates.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { StorageType } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlClient } from "../../../cloud/controlplane";
import { ControlPlaneLock, FencedKv } from "../../../cloud/lock";
import { ProcessCluster } from "../../harness/control-plane";
import { startNats, type NatsCluster } from "../../harness/nats";
import { contestFencedAgainstControl } from "./rmw-contest";

let nats: NatsCluster;
let nc: NatsConnection;
let cp: ProcessCluster;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.servers });
  cp = await ProcessCluster.start(nats.servers[0]!, [1, 2, 3]);
  await cp.waitLeader();
}, 60_000);

afterAll(async () => {
  await cp?.stop();
  await nc?.drain();
  await nats?.stop();
});

describe("fenced read-modify-write on the Raft control plane + NATS KV", () => {
  it("20 contenders with pausing holders: zero lost updates with the fenced CAS; the token-only check loses some", async () => {
    const kv = await new Kvm(nc).create("xsf_rmw", { history: 1, storage: StorageType.File, replicas: 1 });
    const store = new FencedKv<number>(kv);
    const client = new ControlClient(nc, { clientId: "rmw", timeoutMs: 10_000 });
    const newLock = (ownerId: string): ControlPlaneLock => new ControlPlaneLock({ propose: client.proposer(), ownerId, retry: { retryMinMs: 5, retryMaxMs: 50 } });
    const { cas, controlLost } = await contestFencedAgainstControl("raft control plane + NATS KV", { newLock, store }, (mode, round) => `rmw/${mode}/${round}`);
    expect(cas.pauses).toBeGreaterThanOrEqual(15);
    expect(cas.refusedStale + cas.refusedVersion).toBeGreaterThan(0);
    expect(cas.lost).toBe(0);
    expect(controlLost).toBeGreaterThan(0);
  }, 180_000);
});
