// Failover with real processes: a singleton role held through a control-plane
// lease (one Raft replica in the test process; failover-raft.test.ts runs
// three replica processes) by one agent process, a standby agent taking over
// after kill -9, and
// a holder paused with SIGSTOP past its lease whose write with the stale
// fencing token is refused on resume. Times are measured and printed, never
// asserted.

import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { StorageType } from "@nats-io/jetstream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startControlPlaneInProcess, type InProcessControlPlane } from "../../harness/control-plane";
import { startNats, type NatsCluster } from "../../harness/nats";
import { killAll, spawnAgent, type AgentLine, type AgentProcess } from "./agents";

const ROLE = "role/writer";
const TTL_MS = 1500;
let nats: NatsCluster;
let nc: NatsConnection;
let control: InProcessControlPlane;
let agents: AgentProcess[] = [];

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.servers });
  control = await startControlPlaneInProcess(nats.servers[0]!);
});

afterEach(async () => {
  await killAll(agents);
  agents = [];
});

afterAll(async () => {
  await control.stop();
  await nc.drain();
  await nats.stop();
});

async function fencedBucket(name: string): Promise<KV> {
  return new Kvm(nc).create(name, { history: 64, storage: StorageType.File, replicas: 1, max_bytes: 16 * 1024 * 1024 });
}

function agent(nodeId: string, bucket: string, extra: Record<string, unknown> = {}): AgentProcess {
  const a = spawnAgent({
    servers: nats.servers, nodeId, singletonRoles: [ROLE], leaseTtlMs: TTL_MS, heartbeatIntervalMs: 200,
    fencedWriter: { role: ROLE, bucket, key: "state", intervalMs: 100, ...extra },
  });
  agents.push(a);
  return a;
}

const is = (event: string, f: (l: AgentLine) => boolean = () => true) => (l: AgentLine): boolean => l.event === event && f(l);
const okWrite = (l: AgentLine): boolean => (l.result as { ok: boolean }).ok;

describe("failover of a singleton role", () => {
  it("a standby takes over after the holder is killed with SIGKILL", async () => {
    await fencedBucket("xsf_failover_kill");
    const a = agent("fa", "xsf_failover_kill");
    const actA = await a.waitFor(is("activate"), "a to take the role");
    await a.waitFor(is("write", okWrite), "a's first fenced write");
    const b = agent("fb", "xsf_failover_kill");
    await b.waitFor(is("member", (l) => l.nodeId === "fa" && l.status === "up"), "b to see a up");

    const killedAtMs = Date.now();
    a.signal("SIGKILL");
    const actB = await b.waitFor(is("activate"), "b to take the role over");
    const down = await b.waitFor(is("member", (l) => l.nodeId === "fa" && l.status === "down"), "b to detect a down");
    await b.waitFor(is("write", okWrite), "b's first fenced write");

    expect(actB.token as number).toBeGreaterThan(actA.token as number);
    const failoverMs = (actB.t as number) - killedAtMs;
    const detectionMs = (down.t as number) - killedAtMs;
    console.log(`[recovery] failover after kill -9: ${failoverMs} ms (lease TTL ${TTL_MS} ms); ` +
      `member down detected after ${detectionMs} ms (by ${String(down.cause)}, ${String(down.detectionMs)} ms after the last heartbeat)`);
  }, 60_000);

  it("a holder paused past its lease (SIGSTOP) cannot write with its stale token after SIGCONT", async () => {
    const kv = await fencedBucket("xsf_failover_stop");
    const a = agent("sa", "xsf_failover_stop", { zombieWriteAfterLoss: true });
    const actA = await a.waitFor(is("activate"), "a to take the role");
    await a.waitFor(is("write", okWrite), "a's first fenced write");
    const b = agent("sb", "xsf_failover_stop");
    await b.waitFor(is("member", (l) => l.nodeId === "sa" && l.status === "up"), "b to see a up");

    const stoppedAtMs = Date.now();
    a.signal("SIGSTOP");
    const actB = await b.waitFor(is("activate"), "b to take the role while a is paused");
    await b.waitFor(is("write", okWrite), "b's first fenced write");
    const pausedMs = Date.now() - stoppedAtMs;
    a.signal("SIGCONT");

    const lost = await a.waitFor(is("deactivate"), "a to notice it lost the role");
    const zombie = await a.waitFor(is("zombie-write"), "a's write with the stale token");
    expect(lost.reason).toBe("local-expiry");
    expect(zombie.token).toBe(actA.token);
    expect(zombie.result).toMatchObject({ ok: false, error: "stale-token" });

    // The resource's history: tokens never go down, and nothing from a after b's first write.
    const entries: { token: number; writer: string }[] = [];
    for await (const e of await kv.history({ key: "state" })) {
      if (e.operation === "PUT") entries.push(JSON.parse(new TextDecoder().decode(e.value)) as { token: number; writer: string });
    }
    const firstB = entries.findIndex((e) => e.writer === "sb");
    expect(firstB).toBeGreaterThanOrEqual(0);
    expect(entries.slice(firstB).every((e) => e.writer === "sb" && e.token === actB.token)).toBe(true);
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.token).toBeGreaterThanOrEqual(entries[i - 1]!.token);
    console.log(`[recovery] SIGSTOP failover: b took over ${(actB.t as number) - stoppedAtMs} ms after a was paused ` +
      `(paused ${pausedMs} ms); a's stale write (token ${String(actA.token)} < ${String(actB.token)}) refused by ${String((zombie.result as { by: string }).by)}`);
  }, 60_000);
});
