// The control plane as a NATS micro service. Every node registers the same
// endpoints twice:
//
//   xsfleet.v1.control.<endpoint>             queue group: any node answers
//   xsfleet.v1.control.node.<id>.<endpoint>   this node only
//
// Writes are Raft proposals and reads are ReadIndex reads, both served by
// the leader only. A follower answers `not-leader` with the leader's id and
// the client re-sends to `…node.<leader>.…` (a redirect, so the leader's
// answer never takes an extra hop). `raft.status` is served by any node.
//
// Request body: the command's fields as JSON (without `kind`). A write may
// carry a client session in headers (Xsfleet-Client-Id, Xsfleet-Seq) so a
// retry applies once. Response: the state machine's ApplyResult as JSON, or
// `{ ok: false, code, message, leader }` for a node-level failure.

import { Svcm, type Service, type ServiceMsg } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import { isReadCommand } from "../control";
import { CommandKind, type ApplyResult, type Command, type SessionRef } from "../control";
import { ConfChangeType, type ConfChange, type ConfState, type NodeId } from "../raft";
import { controlNodeSubjectRoot, controlSubjectRoot } from "../subjects";
import { NodeError, type NodeOutcome, type RaftNode } from "./raft-node";
import { SnapshotExport } from "./snapshot-export";
import { startServeSpan } from "./spans";
import type { Tracer } from "@opentelemetry/api";
import { newProposalClock, type ProposalClock } from "./stage-timings";

export const CONTROL_QUEUE = "xsfleet-control";
export const CONTROL_SERVICE_NAME = "xsfleet-control";
export const CONTROL_SERVICE_VERSION = "1.0.0";
export const HEADER_CLIENT_ID = "Xsfleet-Client-Id";
export const HEADER_SEQ = "Xsfleet-Seq";
/** Request bodies larger than this are refused before parsing. */
export const REQUEST_BYTES_MAX = 256 << 10;
/** Requests being served at once by one node. */
export const REQUESTS_IN_FLIGHT_MAX = 32_768;

/** Endpoint (subject suffix) → command kind, for state-machine commands. */
export const COMMAND_ENDPOINTS = {
  "device.register": CommandKind.DeviceRegister,
  "device.update-metadata": CommandKind.DeviceUpdateMetadata,
  "device.decommission": CommandKind.DeviceDecommission,
  "device.get": CommandKind.DeviceGet,
  "device.list": CommandKind.DeviceList,
  "lease.grant": CommandKind.LeaseGrant,
  "lease.renew": CommandKind.LeaseKeepAlive,
  "lease.revoke": CommandKind.LeaseRevoke,
  "role.acquire": CommandKind.RoleAcquire,
  "role.release": CommandKind.RoleRelease,
  "role.get": CommandKind.RoleGet,
  "lock.acquire": CommandKind.LockTryAcquire,
  "lock.release": CommandKind.LockRelease,
  "lock.extend": CommandKind.LockExtend,
  "lock.check-fence": CommandKind.LockCheckFence,
  "member.join": CommandKind.MemberJoin,
  "member.heartbeat": CommandKind.MemberHeartbeat,
  "member.leave": CommandKind.MemberLeave,
  "member.list": CommandKind.MemberList,
  "rule.put": CommandKind.RulePut,
  "rule.delete": CommandKind.RuleDelete,
  "rule.list": CommandKind.RuleList,
  "restore.chunk": CommandKind.RestoreChunk,
  "restore.commit": CommandKind.RestoreCommit,
} as const satisfies Record<string, CommandKind>;
export type CommandEndpoint = keyof typeof COMMAND_ENDPOINTS;

/** Cluster administration. */
export const ADMIN_ENDPOINTS = [
  "raft.status",
  "raft.add-learner",
  "raft.promote",
  "raft.add-node",
  "raft.remove-node",
  "raft.replace-node",
  "raft.transfer-leader",
] as const;
export type AdminEndpoint = (typeof ADMIN_ENDPOINTS)[number];
/** Backups: a linearizable snapshot read in chunks (snapshot-export.ts). */
export const SNAPSHOT_ENDPOINTS = ["snapshot.begin", "snapshot.chunk"] as const;
export type SnapshotEndpoint = (typeof SNAPSHOT_ENDPOINTS)[number];
export type Endpoint = CommandEndpoint | AdminEndpoint | SnapshotEndpoint;

/** Node-level failure codes besides the state machine's ControlError codes. */
export const ServiceError = { ...NodeError, BadRequest: "bad-request", NotFound: "not-found" } as const;

export interface NodeFailure {
  readonly ok: false;
  readonly code: string;
  readonly message: string;
  readonly leader?: NodeId;
}

export interface ControlServiceOptions {
  readonly nc: NatsConnection;
  readonly node: RaftNode;
  /** How long add-node waits for a learner to catch up before promoting it. */
  readonly catchUpTimeoutMs?: number;
  /** Spans of traced requests (spans.ts); null/absent: tracing off. */
  readonly tracer?: Tracer | null;
}

export interface ControlService {
  readonly service: Service;
  stop(): Promise<void>;
}

export async function startControlService(opts: ControlServiceOptions): Promise<ControlService> {
  const { node } = opts;
  const service = await new Svcm(opts.nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: CONTROL_SERVICE_NAME,
    version: CONTROL_SERVICE_VERSION,
    description: "xsfleet Raft control plane: registry, leases, locks, membership",
    queue: CONTROL_QUEUE,
    metadata: { node: String(node.id) },
  });
  let inFlight = 0;
  const snapshots = new SnapshotExport(node);
  const handle = (endpoint: Endpoint, msg: ServiceMsg): void => {
    if (inFlight >= REQUESTS_IN_FLIGHT_MAX) {
      msg.respond(JSON.stringify(nodeFailure(ServiceError.Overloaded, `${REQUESTS_IN_FLIGHT_MAX} requests in flight`, node.leader)));
      return;
    }
    inFlight++;
    // Stage timings (stage-timings.ts) start when the request is received.
    const clock = newProposalClock();
    const span = opts.tracer ? startServeSpan(opts.tracer, endpoint, msg.headers, node.id, clock) : null;
    serve(endpoint, msg, node, snapshots, opts.catchUpTimeoutMs ?? 30_000, clock)
      .catch((err: unknown) => nodeFailure(ServiceError.Stopped, `internal error: ${(err as Error).message}`, node.leader))
      .then((res) => {
        inFlight--;
        span?.end(res);
        try {
          msg.respond(JSON.stringify(res));
        } catch {
          // Connection closing: the client times out and retries.
        }
        // Timed after the NATS client's socket write, which it queued as a microtask on publish.
        if (clock.appliedAt > 0) queueMicrotask(() => node.proposalReplied(clock));
      });
  };
  const shared = service.addGroup(controlSubjectRoot);
  const own = service.addGroup(controlNodeSubjectRoot(node.id), `${CONTROL_QUEUE}-n${node.id}`);
  for (const endpoint of [...Object.keys(COMMAND_ENDPOINTS), ...ADMIN_ENDPOINTS, ...SNAPSHOT_ENDPOINTS] as Endpoint[]) {
    const name = endpoint.replace(/\./g, "-");
    shared.addEndpoint(name, { subject: endpoint, handler: (err, msg) => { if (!err) handle(endpoint, msg); } });
    own.addEndpoint(`n${node.id}-${name}`, { subject: endpoint, handler: (err, msg) => { if (!err) handle(endpoint, msg); } });
  }
  return {
    service,
    stop: async () => {
      await service.stop().catch(() => undefined);
    },
  };
}

function nodeFailure(code: string, message: string, leader?: NodeId): NodeFailure {
  return { ok: false, code, message, ...(leader !== undefined ? { leader } : {}) };
}

function fromOutcome<T>(o: NodeOutcome<T>, wrap: (v: T) => unknown): unknown {
  return o.ok ? wrap(o.value) : nodeFailure(o.error, o.message, o.leader);
}

function parseBody(msg: ServiceMsg): Record<string, unknown> | NodeFailure {
  if (msg.data.byteLength > REQUEST_BYTES_MAX) return nodeFailure(ServiceError.BadRequest, `request of ${msg.data.byteLength} bytes exceeds ${REQUEST_BYTES_MAX}`);
  if (msg.data.byteLength === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(msg.data));
  } catch (err) {
    return nodeFailure(ServiceError.BadRequest, `request body is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return nodeFailure(ServiceError.BadRequest, "request body must be a JSON object");
  return v as Record<string, unknown>;
}

function parseSession(msg: ServiceMsg): SessionRef | undefined | NodeFailure {
  const clientId = msg.headers?.get(HEADER_CLIENT_ID);
  const seqText = msg.headers?.get(HEADER_SEQ);
  if (!clientId && !seqText) return undefined;
  const seq = Number(seqText);
  if (!clientId || !Number.isSafeInteger(seq) || seq < 1) {
    return nodeFailure(ServiceError.BadRequest, `session needs ${HEADER_CLIENT_ID} and a positive integer ${HEADER_SEQ}`);
  }
  return { clientId, seq };
}

function isFailure(v: unknown): v is NodeFailure {
  return typeof v === "object" && v !== null && (v as { ok?: unknown }).ok === false && typeof (v as { code?: unknown }).code === "string";
}

function nodeIdArg(body: Record<string, unknown>, field: string): NodeId | NodeFailure {
  const v = body[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1 || v > 0xffffffff) {
    return nodeFailure(ServiceError.BadRequest, `${field} must be a node id (positive integer), got ${JSON.stringify(v)}`);
  }
  return v;
}

async function serve(endpoint: Endpoint, msg: ServiceMsg, node: RaftNode, snapshots: SnapshotExport, catchUpTimeoutMs: number, clock: ProposalClock): Promise<unknown> {
  const body = parseBody(msg);
  if (isFailure(body)) return body;
  if (endpoint === "raft.status") return { ok: true, kind: "raft.status", value: node.status() };
  if (endpoint === "snapshot.begin") return fromOutcome(await snapshots.begin(), (v) => ({ ok: true, kind: endpoint, value: v }));
  if (endpoint === "snapshot.chunk") {
    const id = body.id;
    const offset = body.offset;
    if (typeof id !== "string" || typeof offset !== "number") return nodeFailure(ServiceError.BadRequest, "snapshot.chunk needs {id: string, offset: number}");
    const chunk = snapshots.chunk(id, offset);
    return chunk ? { ok: true, kind: endpoint, value: chunk } : nodeFailure(ServiceError.NotFound, `snapshot ${id} is not kept on node ${node.id} (expired, or ask the node snapshot.begin named)`);
  }
  if (endpoint in COMMAND_ENDPOINTS) {
    const kind = COMMAND_ENDPOINTS[endpoint as CommandEndpoint];
    const cmd = { ...body, kind } as unknown as Command;
    if (isReadCommand(cmd)) return fromOutcome(await node.read(cmd), (r: ApplyResult) => r);
    const session = parseSession(msg);
    if (isFailure(session)) return session;
    return fromOutcome(await node.propose(cmd, { session, clock }), (r: ApplyResult) => r);
  }
  return serveAdmin(endpoint as AdminEndpoint, body, node, catchUpTimeoutMs);
}

async function serveAdmin(endpoint: AdminEndpoint, body: Record<string, unknown>, node: RaftNode, catchUpTimeoutMs: number): Promise<unknown> {
  const wrap = (v: unknown): unknown => ({ ok: true, kind: endpoint, value: v });
  const id = nodeIdArg(body, endpoint === "raft.replace-node" ? "newNodeId" : "nodeId");
  if (isFailure(id)) return id;
  switch (endpoint) {
    case "raft.add-learner":
      return fromOutcome(await changeWhenFree(node, { type: ConfChangeType.AddLearner, nodeId: id }, catchUpTimeoutMs), wrap);
    case "raft.promote":
      return fromOutcome(await changeWhenFree(node, { type: ConfChangeType.AddNode, nodeId: id }, catchUpTimeoutMs), wrap);
    case "raft.remove-node":
      return fromOutcome(await changeWhenFree(node, { type: ConfChangeType.RemoveNode, nodeId: id }, catchUpTimeoutMs), wrap);
    case "raft.transfer-leader":
      return fromOutcome(await node.transferLeadership(id), (leader) => wrap({ leader }));
    case "raft.add-node":
      return fromOutcome(await addNode(node, id, catchUpTimeoutMs), wrap);
    case "raft.replace-node": {
      const old = nodeIdArg(body, "oldNodeId");
      if (isFailure(old)) return old;
      const added = await addNode(node, id, catchUpTimeoutMs);
      if (!added.ok) return fromOutcome(added, wrap);
      if (old === node.id) {
        // The leader removes itself last: hand over first so the cluster keeps a leader.
        const moved = await node.transferLeadership(id);
        if (!moved.ok) return fromOutcome(moved, wrap);
        return nodeFailure(ServiceError.NotLeader, `node ${id} added and now leads; send remove-node ${old} to it`, id);
      }
      return fromOutcome(await changeWhenFree(node, { type: ConfChangeType.RemoveNode, nodeId: old }, catchUpTimeoutMs), wrap);
    }
    case "raft.status":
      return wrap(node.status());
  }
}

/**
 * Adds a voter safely: as a learner first, promoted once it has caught up
 * with the leader's commit index (so the new voter does not stall commits).
 */
async function addNode(node: RaftNode, id: NodeId, catchUpTimeoutMs: number): Promise<NodeOutcome<unknown>> {
  const status = node.status();
  if (!status.confState.learners.includes(id) && !status.confState.voters.includes(id)) {
    const added = await changeWhenFree(node, { type: ConfChangeType.AddLearner, nodeId: id }, catchUpTimeoutMs);
    if (!added.ok) return added;
  } else if (status.confState.voters.includes(id)) {
    return { ok: true, value: status.confState };
  }
  const deadline = Date.now() + catchUpTimeoutMs;
  for (;;) {
    const match = node.matchIndex(id) ?? 0;
    const commit = node.status().commit;
    if (match >= commit) break;
    if (!node.isLeader) return { ok: false, error: NodeError.NotLeader, leader: node.leader, message: "lost leadership while learner caught up" };
    if (Date.now() > deadline) {
      return { ok: false, error: NodeError.Unknown, leader: node.leader, message: `learner ${id} at ${match} did not catch up with ${commit} within ${catchUpTimeoutMs} ms (still a learner)` };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return changeWhenFree(node, { type: ConfChangeType.AddNode, nodeId: id }, catchUpTimeoutMs);
}

/**
 * Raft accepts one conf change at a time, and only once the leader has
 * committed an entry of its term: a refusal for those reasons is retried
 * until `timeoutMs`; other failures are returned.
 */
async function changeWhenFree(node: RaftNode, cc: ConfChange, timeoutMs: number): Promise<NodeOutcome<ConfState>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await node.changeMembership(cc);
    if (r.ok || r.error !== NodeError.Rejected || !r.message.includes("conf-change-pending") || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
}
