// Restoring a backup's snapshot into a fresh control plane through the log
// (cloud/control/restore.ts): the restored state equals the backup's, live
// locks of the target survive, fencing counters jump past both, a target
// that is not fresh or a corrupt snapshot changes nothing, and a replica
// that installs a snapshot in the middle of a restore ends up identical.
import { describe, expect, it } from "vitest";
import { CommandKind as K, ControlStateMachine, restoreCommands, type ApplyResult, type Command, type Proposer } from "../../../cloud/control";
import { localProposer } from "../../harness/local-proposer";

async function seeded(nowMs: () => number): Promise<ControlStateMachine> {
  const sm = new ControlStateMachine();
  const p = localProposer(sm, { nowMs });
  for (let i = 0; i < 5; i++) expect((await p({ kind: K.DeviceRegister, deviceId: `dev-${i}`, role: "sensor", metadata: { room: `r${i}` } })).ok).toBe(true);
  expect((await p({ kind: K.LockTryAcquire, name: "ops/long", holder: "node-a", ttlMs: 3_600_000 })).ok).toBe(true);
  expect((await p({ kind: K.RoleAcquire, role: "shard/1", nodeId: "node-a", ttlMs: 3_600_000 })).ok).toBe(true);
  expect((await p({ kind: K.MemberJoin, nodeId: "node-a", address: "10.0.0.1", roles: ["ingest"], resources: { cpuMillis: 1000, memoryBytes: 1 << 30 }, ttlMs: 60_000 })).ok).toBe(true);
  return sm;
}

async function run(p: Proposer, cmds: Command[]): Promise<ApplyResult[]> {
  const out: ApplyResult[] = [];
  for (const c of cmds) out.push(await p(c, { clientId: "restorer", seq: out.length + 1 }));
  return out;
}

describe("control-plane restore", () => {
  it("loads the backup into a fresh control plane, keeps the target's live locks and raises every fencing counter", async () => {
    let now = 1_000_000;
    const clock = (): number => now;
    const source = await seeded(clock);
    const backup = source.snapshot();
    now += 60_000;
    const target = new ControlStateMachine();
    const p = localProposer(target, { nowMs: clock });
    const own = await p({ kind: K.LockTryAcquire, name: "ops/restore", holder: "restorer", ttlMs: 30_000 });
    if (!own.ok || own.kind !== K.LockTryAcquire) throw new Error("restorer lock");
    const results = await run(p, restoreCommands(backup, "r-1", 1000, 512));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.length).toBeGreaterThan(3);
    const commit = results[results.length - 1]!;
    expect(commit).toMatchObject({ ok: true, kind: K.RestoreCommit, value: { restoreId: "r-1", devices: 5, locks: 2 } });

    // The registry reads the same as on the source.
    for (const cmd of [{ kind: K.DeviceList, limit: 100 }, { kind: K.DeviceGet, deviceId: "dev-3" }] as const) {
      expect(target.read(cmd, now)).toEqual(source.read(cmd, now));
    }
    // The backup's lock and the restorer's lock are both live.
    const srcLock = source.read({ kind: K.LockCheckFence, name: "ops/long", token: 1 }, now);
    expect(srcLock.ok).toBe(true);
    expect(target.read({ kind: K.LockCheckFence, name: "ops/long", token: 1 }, now).ok).toBe(true);
    expect(target.read({ kind: K.LockCheckFence, name: "ops/restore", token: own.value.token }, now).ok).toBe(true);
    // New tokens, epochs and incarnations come after everything either side issued, plus the gap.
    const next = await p({ kind: K.LockTryAcquire, name: "ops/new", holder: "x", ttlMs: 1000 });
    expect(next.ok && next.kind === K.LockTryAcquire && next.value.token).toBe(Math.max(1, own.value.token) + 1000 + 1);
    const role = await p({ kind: K.RoleAcquire, role: "shard/2", nodeId: "node-b", ttlMs: 1000 });
    expect(role.ok && role.kind === K.RoleAcquire && role.value.epoch).toBeGreaterThan(1000);
    const member = await p({ kind: K.MemberJoin, nodeId: "node-b", address: "10.0.0.2", roles: ["api"], resources: { cpuMillis: 1, memoryBytes: 1 }, ttlMs: 60_000 });
    expect(member.ok && member.kind === K.MemberJoin && member.value.incarnation).toBeGreaterThan(1000);
  });

  it("refuses a target that is not fresh, and a snapshot that fails its checksum, changing nothing", async () => {
    const now = (): number => 2_000_000;
    const backup = (await seeded(now)).snapshot();
    const busy = await seeded(now);
    const listAll = { kind: K.DeviceList, limit: 100 } as const;
    const before = busy.read(listAll);
    const r = await run(localProposer(busy, { nowMs: now }), restoreCommands(backup, "r-2", 10));
    expect(r[0]).toMatchObject({ ok: false, code: "conflict" });
    expect(r[r.length - 1]).toMatchObject({ ok: false, code: "conflict" });

    const fresh = new ControlStateMachine();
    const cmds = restoreCommands(backup, "r-3", 10, 256);
    const bad = cmds.map((c) => (c.kind === K.RestoreChunk && c.index === 1 ? { ...c, data: Buffer.from("corrupt").toString("base64") } : c));
    const out = await run(localProposer(fresh, { nowMs: now }), bad);
    expect(out[out.length - 1]).toMatchObject({ ok: false, code: "conflict" });
    expect(String((out[out.length - 1] as { message: string }).message)).toMatch(/SHA-256/);
    expect(fresh.counts.devices).toBe(0);
    expect(busy.read(listAll)).toEqual(before);
    // Out-of-order chunks are refused.
    const skip = await run(localProposer(new ControlStateMachine(), { nowMs: now }), [cmds[0]!, cmds[2]!]);
    expect(skip[1]).toMatchObject({ ok: false, code: "conflict" });
  });

  it("a replica that installs a snapshot in the middle of a restore ends up with the same state", async () => {
    const now = (): number => 3_000_000;
    const backup = (await seeded(now)).snapshot();
    const log: Uint8Array[] = [];
    const leader = new ControlStateMachine();
    await run(localProposer(leader, { nowMs: now, log }), restoreCommands(backup, "r-4", 7, 300));
    const half = Math.floor(log.length / 2);
    const midway = new ControlStateMachine();
    log.slice(0, half).forEach((e, i) => midway.apply(e, i + 1));
    const follower = new ControlStateMachine();
    follower.restore(midway.snapshot());
    log.slice(half).forEach((e, i) => follower.apply(e, half + i + 1));
    expect(Buffer.from(follower.snapshot()).equals(Buffer.from(leader.snapshot()))).toBe(true);
    expect(follower.counts.devices).toBe(5);
  });
});
