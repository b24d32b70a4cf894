// The fenced KV resource against a real nats-server: the lock service's
// fence check and the resource's own token check (CAS on the key revision)
// each refuse a stale writer. The lock service is the control plane in
// process, on a manual clock, so a lease expires when the test says so.

import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { StorageType } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlStateMachine, localProposer } from "../../../cloud/control";
import { ControlPlaneLock, FencedKv, type FenceCheck } from "../../../cloud/lock";
import { startNats, type NatsCluster } from "../../harness/nats";

let nats: NatsCluster;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.servers });
});

afterAll(async () => {
  await nc.drain();
  await nats.stop();
});

describe("fenced KV resource", () => {
  it("accepts the live holder and refuses a previous holder through the lock service", async () => {
    let nowMs = 1_000_000;
    const propose = localProposer(new ControlStateMachine(), { nowMs: () => nowMs });
    const lockA = new ControlPlaneLock({ propose, ownerId: "a" });
    const lockB = new ControlPlaneLock({ propose, ownerId: "b" });
    const kv = await new Kvm(nc).create("xsf_fenced_unit", { history: 8, storage: StorageType.File, replicas: 1 });
    const res = new FencedKv<string>(kv, lockB, "lock/x");
    const a = await lockA.acquire("lock/x", { ttlMs: 200, timeoutMs: 0 });
    if (!a.ok) throw new Error("a must get the lease");
    expect(await res.write("k", a.lock.token, "a", "from a")).toMatchObject({ ok: true });
    nowMs += 250;
    const b = await lockB.acquire("lock/x", { ttlMs: 10_000, timeoutMs: 0 });
    if (!b.ok) throw new Error("b must get the lease after a's expired");
    expect(b.lock.token).toBeGreaterThan(a.lock.token);
    expect(await res.write("k", a.lock.token, "a", "late a")).toEqual({ ok: false, error: "stale-token", by: "control-plane" });
    expect(await res.write("k", b.lock.token, "b", "from b")).toMatchObject({ ok: true });
    expect((await res.read("k"))?.value).toEqual({ token: b.lock.token, writer: "b", value: "from b" });
  });

  it("refuses a stale token at the resource even when the fence check passed (check-then-pause race)", async () => {
    const yes: FenceCheck = { checkFence: async () => true };
    const kv = await new Kvm(nc).create("xsf_fenced_race", { history: 8, storage: StorageType.File, replicas: 1 });
    const res = new FencedKv<number>(kv, yes, "lock/y");
    expect(await res.write("k", 5, "new", 1)).toMatchObject({ ok: true });
    expect(await res.write("k", 4, "zombie", 2)).toEqual({ ok: false, error: "stale-token", by: "resource", highestToken: 5 });
    // Concurrent writers with the same live token: every write lands, CAS retries absorb conflicts.
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => res.write("k", 6, "w", i)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(res.rejected).toBe(1);
  });
});
