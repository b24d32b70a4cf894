// Service replacement with real processes: three agents; the one running
// "analytics" is killed with SIGKILL; the coordinator (whoever holds the
// coordinator lease after the failure) places the role on the node that
// reports the most free resources and starts it there; the decision is in
// the cluster history served by xsfleet.v1.api.cluster.history.

import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterApiSubject } from "../../../cloud/subjects";
import type { HistoryEntry, MemberView } from "../../../cloud/membership/types";
import { startControlPlaneInProcess, type InProcessControlPlane } from "../../harness/control-plane";
import { startNats, type NatsCluster } from "../../harness/nats";
import { waitFor } from "../../harness/wait";
import { killAll, spawnAgent, type AgentLine, type AgentProcess } from "./agents";

const GiB = 1024 ** 3;
let nats: NatsCluster;
let nc: NatsConnection;
let control: InProcessControlPlane;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.servers });
  control = await startControlPlaneInProcess(nats.servers[0]!);
});

afterAll(async () => {
  await killAll(agents);
  await control.stop();
  await nc.drain();
  await nats.stop();
});

function agent(nodeId: string, freeGiB: number, roles: string[] = []): AgentProcess {
  const a = spawnAgent({
    servers: nats.servers, nodeId, roles, replaceableRoles: ["analytics"], leaseTtlMs: 1500, heartbeatIntervalMs: 200,
    resources: { freeMemoryBytes: freeGiB * GiB, totalMemoryBytes: 16 * GiB, cpuLoad1: 0.5, cpus: 4 },
  });
  agents.push(a);
  return a;
}

async function api<T>(subject: string, body: unknown = {}): Promise<T> {
  const r = await nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), { timeout: 5000 });
  return JSON.parse(new TextDecoder().decode(r.data)) as T;
}

const coordinatorAcquired = (l: AgentLine): boolean => {
  const e = l.entry as HistoryEntry | undefined;
  return l.event === "history" && e?.kind === "failover" && e.subject === "recovery/coordinator" && e.action === "acquired";
};
const sees = (node: string, status: string) => (l: AgentLine): boolean => l.event === "member" && l.nodeId === node && l.status === status;

describe("service replacement", () => {
  it("starts the failed node's role on the node with the most free resources", async () => {
    const a = agent("ra", 4, ["analytics"]);
    await a.waitFor(coordinatorAcquired, "ra to become coordinator");
    const b = agent("rb", 2);
    const c = agent("rc", 12);
    await Promise.all([
      b.waitFor(sees("ra", "up"), "rb sees ra"), b.waitFor(sees("rc", "up"), "rb sees rc"),
      c.waitFor(sees("ra", "up"), "rc sees ra"), c.waitFor(sees("rb", "up"), "rc sees rb"),
    ]);

    const members = await api<{ members: MemberView[] }>(ClusterApiSubject.Members);
    expect(members.members.map((m) => m.nodeId).sort()).toEqual(["ra", "rb", "rc"]);

    const killedAtMs = Date.now();
    a.signal("SIGKILL");
    const started = await c.waitFor((l) => l.event === "role-started", "rc to start analytics", 45_000);
    expect(started).toMatchObject({ role: "analytics", key: "ra:analytics" });
    expect(b.lines.some((l) => l.event === "role-started")).toBe(false);
    const replacedMs = (started.t as number) - killedAtMs;

    const history = await api<{ entries: HistoryEntry[] }>(ClusterApiSubject.History, { kind: "replacement" });
    const placed = history.entries.find((e) => e.action === "placed");
    expect(placed?.detail).toMatchObject({ role: "analytics", failedNode: "ra", targetNode: "rc" });

    // The replacement shows up in membership; SWIM also marks ra dead.
    const view = await waitFor("rc to announce the replacement and SWIM to declare ra dead", async () => {
      const m = (await api<{ members: MemberView[] }>(ClusterApiSubject.Members)).members;
      const rc = m.find((x) => x.nodeId === "rc");
      const ra = m.find((x) => x.nodeId === "ra");
      return rc?.replacing.includes("ra:analytics") && ra?.status === "down" && ra.swim === "dead" ? m : undefined;
    });
    expect(view.find((x) => x.nodeId === "rc")?.roles).toContain("analytics");
    const swimDeadAtMs = Date.now();
    console.log(`[recovery] replacement: analytics running on rc ${replacedMs} ms after ra was killed ` +
      `(lease TTL 1500 ms: coordinator failover + detection + placement); SWIM dead seen via API by ${swimDeadAtMs - killedAtMs} ms`);
  }, 90_000);
});
