// The control plane replicated by the real Raft core: the lock conformance
// suite over a 3-node cluster, replica convergence, leader failover and
// snapshot installation on a lagging follower.
import { afterAll, describe, expect, it } from "vitest";
import { CommandKind as K, ControlError } from "../../../cloud/control/types";
import { ControlStateMachine } from "../../../cloud/control/state-machine";
import { ControlPlaneLock } from "../../../cloud/lock/control-plane-lock";
import { runLockConformance } from "../lock/conformance";
import { RaftControlCluster } from "./raft-cluster";
import { bytes, text } from "./helpers";

const retry = { retryMinMs: 2, retryMaxMs: 25 };

function converge(c: RaftControlCluster): void {
  c.tick(3); // heartbeats carry the commit index to followers
  const snaps = c.replicas.filter((r) => !c.isolated.has(r.id)).map((r) => text(r.control.snapshot()));
  for (const s of snaps) expect(s).toBe(snaps[0]);
}

describe("control plane on a 3-node Raft cluster", () => {
  const cluster = new RaftControlCluster(3);
  cluster.elect(1);
  const propose = cluster.proposer();

  runLockConformance("control plane over 3-node Raft", () => new ControlPlaneLock({ propose, retry }));

  afterAll(() => {
    // After the whole conformance suite ran through the log, every replica holds the same bytes.
    converge(cluster);
    expect(cluster.node(2).control.appliedIndex).toBeGreaterThan(100);
  });
});

describe("failover and catch-up", () => {
  it("a new leader keeps the fencing counter: tokens keep increasing and the old holder is fenced", async () => {
    let now = 1_000_000;
    const c = new RaftControlCluster(3);
    c.elect(1);
    const propose = c.proposer(() => now);
    const a = new ControlPlaneLock({ propose, retry: { ...retry, nowMs: () => now, sleep: async (ms) => { now += ms; } }, ownerId: "A" });
    const b = new ControlPlaneLock({ propose, retry: { ...retry, nowMs: () => now, sleep: async (ms) => { now += ms; } }, ownerId: "B" });
    const first = await a.acquire("job", { ttlMs: 1_000, timeoutMs: 0 });
    if (!first.ok) throw new Error("first acquire failed");
    converge(c);
    // Leader 1 is cut off; node 2 or 3 takes over by election timeout.
    c.isolated.add(1);
    for (let i = 0; i < 100 && !c.leader(); i++) c.tick();
    expect(c.leader()?.id).not.toBe(1);
    now += 1_500; // A "pauses" past its TTL
    const second = await b.acquire("job", { ttlMs: 1_000, timeoutMs: 0 });
    expect(second.ok).toBe(true);
    if (!second.ok) return;
    expect(second.lock.token).toBeGreaterThan(first.lock.token);
    expect(await a.checkFence("job", first.lock.token)).toBe(false);
    expect(await first.lock.release()).toMatchObject({ ok: false, error: "not-holder" });
    // The old leader rejoins and converges (its uncommitted tail, if any, is replaced).
    c.isolated.delete(1);
    c.tick(12);
    converge(c);
  });

  it("a follower that fell behind a compacted log installs a snapshot and matches byte for byte", async () => {
    let now = 5_000;
    const c = new RaftControlCluster(3);
    c.elect(1);
    const propose = c.proposer(() => now++);
    c.isolated.add(3);
    for (let i = 0; i < 30; i++) {
      await propose({ kind: K.DeviceRegister, deviceId: `dev-${i}`, role: "sensor", metadata: { i: String(i) } });
      await propose({ kind: K.LockTryAcquire, name: `l${i % 4}`, holder: `h${i}`, ttlMs: 10 });
    }
    await propose({ kind: K.RoleAcquire, role: "scheduler", nodeId: "n1", ttlMs: 60_000 });
    c.tick(2);
    for (const r of c.replicas) if (!c.isolated.has(r.id)) r.compact();
    expect(c.node(1).storage.firstIndex()).toBeGreaterThan(c.node(3).applied + 1);
    c.isolated.delete(3);
    c.tick(5);
    converge(c);
    expect(c.node(3).control.read({ kind: K.DeviceGet, deviceId: "dev-29" })).toMatchObject({ ok: true });
    expect(c.node(3).control.read({ kind: K.RoleGet, role: "scheduler" })).toMatchObject({ ok: true, value: { holder: "n1" } });
  });
});
