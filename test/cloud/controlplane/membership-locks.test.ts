// Cluster administration on real processes, under a steady write load:
// leadership transfer, adding a voter (learner first), removing one,
// replacing one, then kill -9 of the leader of the new membership. And lock
// fencing across a leader change: a holder paused past its TTL is fenced out.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsCluster } from "../../harness/nats";
import { ControlClient, ControlTimeoutError } from "../../../cloud/controlplane/client";
import { CommandKind } from "../../../cloud/control";
import { ControlPlaneLock } from "../../../cloud/lock/control-plane-lock";
import type { NodeStatus } from "../../../cloud/controlplane/raft-node";
import { ProcessCluster } from "../../harness/control-plane";
import { sleep } from "../../harness/wait";
import { HEADER_CLIENT_ID, HEADER_SEQ } from "../../../cloud/controlplane/service";
import { controlSubject } from "../../../cloud/subjects";
import { headers } from "@nats-io/transport-node";

let nats: NatsCluster;
let cluster: ProcessCluster;
let admin: ControlClient;

beforeAll(async () => {
  nats = await startNats();
  cluster = await ProcessCluster.start(nats.servers[0]!, [1, 2, 3]);
  admin = new ControlClient(cluster.nc, { timeoutMs: 30_000 });
  await cluster.waitLeader(45_000);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await nats?.stop();
});

/** One writer doing sequential CAS on its own key: the acknowledged count must equal the final version. */
function startLoad(client: ControlClient, key: string): { stop(): Promise<{ acked: number; unknown: number }> } {
  let stopping = false;
  let acked = 0;
  let unknown = 0;
  const run = (async () => {
    expect((await client.registerDevice(key, "sensor")).ok).toBe(true);
    // Compare-and-set of the device record's revision (1 after registration): one write per acknowledged update.
    let revision = 1;
    while (!stopping) {
      try {
        const r = await client.command({ kind: CommandKind.DeviceUpdateMetadata, deviceId: key, metadata: { n: String(revision) }, expectedRevision: revision });
        if (r.ok) { acked++; revision = r.value.revision; }
        else if (r.code === "conflict") revision = r.current ?? revision; // only after an unknown outcome
        else throw new Error(JSON.stringify(r));
      } catch (err) {
        if (!(err instanceof ControlTimeoutError)) throw err;
        unknown++;
      }
    }
  })();
  return { stop: async () => { stopping = true; await run; return { acked, unknown }; } };
}

async function voters(): Promise<number[]> {
  const s: NodeStatus = await admin.status(await cluster.waitLeader());
  return [...s.confState.voters];
}

describe("membership change and leadership transfer under load", () => {
  it("transfers leadership, adds, removes and replaces nodes, then survives losing the leader", async () => {
    const load = startLoad(new ControlClient(cluster.nc, { clientId: "load", timeoutMs: 30_000 }), "load-key");
    await sleep(500);

    // Leadership transfer to a follower.
    const l0 = await cluster.waitLeader();
    const target = cluster.ids().find((id) => id !== l0)!;
    expect(await admin.admin("raft.transfer-leader", { nodeId: target })).toEqual({ leader: target });
    expect(await cluster.waitLeader()).toBe(target);

    // Add node 4: start it as a learner of the current voters, then add-node (learner → catch up → voter).
    cluster.spawn({ id: 4, peers: await voters(), learners: [4] });
    const afterAdd = (await admin.admin("raft.add-node", { nodeId: 4 })) as { voters: number[] };
    expect(afterAdd.voters).toEqual([1, 2, 3, 4]);

    // Remove a follower, then stop it.
    const l1 = await cluster.waitLeader();
    const removed = [1, 2, 3].find((id) => id !== l1)!;
    const afterRemove = (await admin.admin("raft.remove-node", { nodeId: removed })) as { voters: number[] };
    expect(afterRemove.voters).not.toContain(removed);
    await cluster.stopGracefully(removed);
    cluster.forget(removed);

    // Replace another follower by node 5.
    const l2 = await cluster.waitLeader();
    const old = (await voters()).find((id) => id !== l2 && id !== 4)!;
    cluster.spawn({ id: 5, peers: await voters(), learners: [5] });
    const afterReplace = (await admin.admin("raft.replace-node", { oldNodeId: old, newNodeId: 5 })) as { voters: number[] };
    expect(afterReplace.voters).toContain(5);
    expect(afterReplace.voters).not.toContain(old);
    expect(afterReplace.voters).toHaveLength(3);
    await cluster.stopGracefully(old);
    cluster.forget(old);

    // The new membership survives losing its leader; the old one restarts from disk.
    const l3 = await cluster.waitLeader();
    await cluster.kill9(l3);
    await sleep(1500);
    cluster.restart(l3);
    await cluster.waitLeader();
    await sleep(500);

    const { acked, unknown } = await load.stop();
    const final = await admin.getDevice("load-key");
    expect(final.ok).toBe(true);
    if (final.ok) {
      expect(final.value.revision - 1).toBeGreaterThanOrEqual(acked);
      expect(final.value.revision - 1).toBeLessThanOrEqual(acked + unknown);
    }
    console.log(`membership test: ${acked} acknowledged writes, ${unknown} unknown, final voters ${(await voters()).join(",")}`);
    const statuses = await cluster.waitConverged((await admin.status(await cluster.waitLeader())).commit);
    for (const s of statuses) expect(s.confState.voters).toEqual(afterReplace.voters);
  }, 90_000);

  it("fences out a lock holder paused past its TTL across a leader change", async () => {
    const a = new ControlPlaneLock({ propose: new ControlClient(cluster.nc, { timeoutMs: 20_000 }).proposer(), ownerId: "holder-a" });
    const b = new ControlPlaneLock({ propose: new ControlClient(cluster.nc, { timeoutMs: 20_000 }).proposer(), ownerId: "holder-b" });
    const got = await a.acquire("door", { ttlMs: 1500, timeoutMs: 10_000 });
    expect(got.ok).toBe(true);
    if (!got.ok) return;
    const tokenA = got.lock.token;
    expect(await a.checkFence("door", tokenA)).toBe(true);

    // A "pauses" (no extend) while the leader dies; B waits for the lock under the new leader.
    const leader = await cluster.waitLeader();
    await cluster.kill9(leader);
    const gotB = await b.acquire("door", { ttlMs: 10_000, timeoutMs: 20_000 });
    expect(gotB.ok).toBe(true);
    if (!gotB.ok) return;
    expect(gotB.lock.token).toBeGreaterThan(tokenA);
    expect(await cluster.waitLeader()).not.toBe(leader);

    // A wakes up: its token is stale everywhere, it can neither extend nor release B's lock.
    expect(await a.checkFence("door", tokenA)).toBe(false);
    expect((await a.extend("door", tokenA, 1000)).ok).toBe(false);
    expect((await a.release("door", tokenA)).ok).toBe(false);
    expect(await b.checkFence("door", gotB.lock.token)).toBe(true);
    cluster.restart(leader);
    expect((await gotB.lock.release()).ok).toBe(true);
  }, 60_000);

  it("answers bad input with clear errors, redirects from followers, and stops gracefully", async () => {
    const nc = cluster.nc;
    const ask = async (subject: string, body: string, h?: ReturnType<typeof headers>): Promise<Record<string, unknown>> =>
      JSON.parse(new TextDecoder().decode((await nc.request(subject, body, { timeout: 10_000, ...(h ? { headers: h } : {}) })).data)) as Record<string, unknown>;
    await cluster.waitConverged(); // the replica restarted by the previous test answers too
    const leader = await cluster.waitLeader();
    const at = (suffix: string): string => controlSubject(suffix, leader);
    expect(await ask(at("device.get"), "not json")).toMatchObject({ ok: false, code: "bad-request" });
    expect(await ask(at("device.get"), "[1]")).toMatchObject({ ok: false, code: "bad-request" });
    expect(await ask(at("device.register"), JSON.stringify({ deviceId: "bad id!", role: "sensor", metadata: {} }))).toMatchObject({ ok: false, code: "invalid-command" });
    expect(await ask(at("device.register"), JSON.stringify({ deviceId: "x", role: "toaster", metadata: {} }))).toMatchObject({ ok: false, code: "invalid-command" });
    const h = headers();
    h.set(HEADER_CLIENT_ID, "c1");
    h.set(HEADER_SEQ, "-3");
    expect(await ask(at("device.register"), JSON.stringify({ deviceId: "x", role: "sensor", metadata: {} }), h)).toMatchObject({ ok: false, code: "bad-request" });
    expect(await ask(at("raft.remove-node"), JSON.stringify({ nodeId: "two" }))).toMatchObject({ ok: false, code: "bad-request" });
    expect(await ask(at("device.get"), "x".repeat(300 << 10))).toMatchObject({ ok: false, code: "bad-request" });

    // A follower redirects to the leader; status is served by anyone.
    const follower = cluster.ids().find((id) => id !== leader && cluster.running(id))!;
    expect(await ask(controlSubject("device.get", follower), JSON.stringify({ deviceId: "x" }))).toMatchObject({ ok: false, code: "not-leader", leader });
    expect(await ask(controlSubject("raft.status", follower), "")).toMatchObject({ ok: true, value: { id: follower, leader } });
    expect(await ask(controlSubject("raft.status"), "")).toMatchObject({ ok: true });

    // SIGTERM: exit 0; the replica comes back from its data dir with everything it had.
    const before = await cluster.statusOf(follower);
    expect(await cluster.stopGracefully(follower)).toBe(0);
    cluster.restart(follower);
    await cluster.waitLeader();
    const statuses = await cluster.waitConverged(before!.applied);
    expect(statuses.find((s) => s.id === follower)!.applied).toBeGreaterThanOrEqual(before!.applied);
  }, 60_000);
});
