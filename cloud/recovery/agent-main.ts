// A recovery agent as its own process (for operators trying the strategies
// by hand, and for the tests that kill -9 / SIGSTOP it). One JSON argument:
//   { servers: string[], nodeId, roles?, singletonRoles?, replaceableRoles?,
//     leaseTtlMs?, heartbeatIntervalMs?, resources?: NodeResources,
//     fencedWriter?: { role, bucket, key, intervalMs, zombieWriteAfterLoss? } }
// Prints one JSON object per line on stdout: ready, member, activate,
// deactivate, role-started, write, zombie-write, history.
//
// Leases and fencing tokens come from the Raft control plane
// (cloud/controlplane) through its client, as a ControlPlaneLock owned by
// this node; at least one control-plane replica must serve on `servers`.

import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import type { NodeResources } from "../membership";
import { ControlClient } from "../controlplane";
import { ControlPlaneLock, FencedKv, fencedUpdate } from "../lock";
import { startRecoveryAgent } from "./agent";

interface AgentMainConfig {
  servers: string[];
  nodeId: string;
  roles?: string[];
  singletonRoles?: string[];
  replaceableRoles?: string[];
  leaseTtlMs?: number;
  heartbeatIntervalMs?: number;
  resources?: NodeResources;
  fencedWriter?: { role: string; bucket: string; key: string; intervalMs: number; zombieWriteAfterLoss?: boolean };
}

const config = JSON.parse(process.argv[2] ?? "{}") as AgentMainConfig;
const out = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ node: config.nodeId, t: Date.now(), ...o })}\n`);
};

const nc = await connect({ servers: config.servers, name: `recovery-${config.nodeId}`, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
const lock = new ControlPlaneLock({
  propose: new ControlClient(nc, { clientId: `recovery-${config.nodeId}`, timeoutMs: 3000, attemptTimeoutMs: 1000 }).proposer(),
  ownerId: config.nodeId,
});
const fw = config.fencedWriter;
const fenced = fw ? new FencedKv<{ n: number }>(await new Kvm(nc).open(fw.bucket, { bindOnly: true }), { fence: { check: lock, lockName: fw.role } }) : undefined;
let writerToken: number | undefined;
/** Version of the resource this holder last wrote: a zombie's next write carries it. */
let lastVersion = 0;

const agent = startRecoveryAgent({
  nc, nodeId: config.nodeId, lock,
  roles: config.roles ?? [], singletonRoles: config.singletonRoles ?? [], replaceableRoles: config.replaceableRoles ?? [],
  leaseTtlMs: config.leaseTtlMs ?? 2000, heartbeatIntervalMs: config.heartbeatIntervalMs ?? 200,
  ...(config.resources ? { resources: () => config.resources! } : {}),
  onSingletonActivate: (role, token) => {
    out({ event: "activate", role, token });
    if (role === fw?.role) writerToken = token;
  },
  onSingletonDeactivate: async (role, token, reason) => {
    out({ event: "deactivate", role, token, reason });
    if (role !== fw?.role) return;
    writerToken = undefined;
    // Models a write that was under way when the process was paused: it
    // carries the token it started with. The resource must refuse it.
    if (fw.zombieWriteAfterLoss && fenced) {
      const result = await fenced.compareAndSet(fw.key, token, lastVersion, config.nodeId, { n: -1 });
      out({ event: "zombie-write", token, result });
    }
  },
  startRole: async (role, key) => out({ event: "role-started", role, key }),
  log: (m) => process.stderr.write(`${m}\n`),
});
agent.membership.onStatus((e) => out({ event: "member", ...e }));
agent.history.onRecord((e) => { if (e.recordedBy === config.nodeId) out({ event: "history", entry: e }); });

if (fw && fenced) {
  setInterval(() => {
    const token = writerToken;
    const holder = agent.holders.get(fw.role);
    if (token === undefined || !holder?.isActive()) return;
    // A read-modify-write (a counter) through the fenced compare-and-set.
    void fencedUpdate(fenced, fw.key, token, config.nodeId, (v) => ({ n: (v?.n ?? 0) + 1 })).then(
      (result) => {
        if (result.ok) lastVersion = result.version;
        out({ event: "write", token, result });
      },
      (e: unknown) => process.stderr.write(`write failed: ${String(e)}\n`),
    );
  }, fw.intervalMs);
}

const shutdown = async (): Promise<void> => {
  await agent.stop();
  await nc.drain();
  process.exit(0);
};
process.once("SIGTERM", () => void shutdown());
process.once("SIGINT", () => void shutdown());
out({ event: "ready" });
