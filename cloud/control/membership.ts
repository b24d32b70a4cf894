// Membership of cloud nodes: join with roles and resources, heartbeat,
// leave. This is the authoritative list the orchestrator uses for failover
// and replacement; fast failure *suspicion* comes from cloud/health (SWIM,
// phi-accrual) and is turned into control-plane facts here.
//
// A member whose last heartbeat is ttlMs or more in the past (state-machine
// time) is "expired". An expired member may not heartbeat its way back: it
// must rejoin, which bumps its incarnation. Heartbeats and leaves carry the
// incarnation they joined with, so a zombie from an older incarnation (a
// paused process that resumes after being replaced) is rejected instead of
// reviving a slot someone else took over. Expired members stay listed (as
// "expired") until they leave or rejoin: the failover logic decides, not a
// sweep.

import { readCloudRoles, readResources } from "./codec";
import { Fields, FieldError, NAME_PATTERN } from "./fields";
import type { ControlLimits } from "./limits";
import {
  CommandKind,
  ControlError,
  MemberRecordStatus,
  failure,
  success,
  type MemberHeartbeatCommand,
  type MemberJoinCommand,
  type MemberLeaveCommand,
  type MemberRecord,
  type MemberView,
  type ResultFor,
} from "./types";

export class Membership {
  readonly #limits: ControlLimits;
  /** Invariant: incarnation >= 1; lastHeartbeatMs >= joinedAtMs. */
  readonly #members = new Map<string, MemberRecord>();
  /** One counter for all joins: a rejoin always gets a larger incarnation, with
   * nothing to remember about nodes that left. Invariant: >= every incarnation. */
  #incarnationLast = 0;

  constructor(limits: ControlLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#members.size;
  }

  join(cmd: MemberJoinCommand, timeMs: number): ResultFor<typeof CommandKind.MemberJoin> {
    if (!this.#members.has(cmd.nodeId) && this.#members.size >= this.#limits.membersMax) {
      return failure(ControlError.LimitExceeded, `cluster is full (membersMax ${this.#limits.membersMax})`);
    }
    const incarnation = ++this.#incarnationLast;
    const record: MemberRecord = {
      nodeId: cmd.nodeId, address: cmd.address, roles: [...cmd.roles], resources: { ...cmd.resources },
      incarnation, ttlMs: cmd.ttlMs, joinedAtMs: timeMs, lastHeartbeatMs: timeMs,
    };
    this.#members.set(cmd.nodeId, record);
    return success(CommandKind.MemberJoin, viewOf(record, timeMs));
  }

  heartbeat(cmd: MemberHeartbeatCommand, timeMs: number): ResultFor<typeof CommandKind.MemberHeartbeat> {
    const m = this.#members.get(cmd.nodeId);
    if (!m) return failure(ControlError.NotFound, `node ${cmd.nodeId} is not a member: join first`);
    if (m.incarnation !== cmd.incarnation) {
      return failure(ControlError.Conflict, `node ${cmd.nodeId} is at incarnation ${m.incarnation}, not ${cmd.incarnation}`, { current: m.incarnation });
    }
    if (statusOf(m, timeMs) === MemberRecordStatus.Expired) {
      return failure(ControlError.Expired, `node ${cmd.nodeId} expired: rejoin`, { current: m.incarnation });
    }
    const record: MemberRecord = { ...m, lastHeartbeatMs: timeMs, resources: cmd.resources ? { ...cmd.resources } : m.resources };
    this.#members.set(cmd.nodeId, record);
    return success(CommandKind.MemberHeartbeat, viewOf(record, timeMs));
  }

  leave(cmd: MemberLeaveCommand): ResultFor<typeof CommandKind.MemberLeave> {
    const m = this.#members.get(cmd.nodeId);
    if (!m) return failure(ControlError.NotFound, `node ${cmd.nodeId} is not a member`);
    if (m.incarnation !== cmd.incarnation) {
      return failure(ControlError.Conflict, `node ${cmd.nodeId} is at incarnation ${m.incarnation}, not ${cmd.incarnation}`, { current: m.incarnation });
    }
    this.#members.delete(cmd.nodeId);
    return success(CommandKind.MemberLeave, m);
  }

  list(timeMs: number): ResultFor<typeof CommandKind.MemberList> {
    const members = [...this.#members.keys()].sort().map((id) => viewOf(this.#members.get(id)!, timeMs));
    return success(CommandKind.MemberList, { members });
  }

  dump(): { incarnationLast: number; members: MemberRecord[] } {
    return { incarnationLast: this.#incarnationLast, members: [...this.#members.keys()].sort().map((id) => this.#members.get(id)!) };
  }

  load(v: unknown): void {
    const f = new Fields(v, "snapshot.members");
    const incarnationLast = f.int("incarnationLast", 0, Number.MAX_SAFE_INTEGER);
    const members = f.array("members", this.#limits.membersMax).map((x, i) => this.#readMember(x, `snapshot.members.members[${i}]`));
    f.done();
    this.#members.clear();
    for (const m of members) {
      if (this.#members.has(m.nodeId) || m.incarnation > incarnationLast) throw new FieldError(`snapshot.members: inconsistent member ${m.nodeId}`);
      this.#members.set(m.nodeId, m);
    }
    this.#incarnationLast = incarnationLast;
  }

  #readMember(v: unknown, path: string): MemberRecord {
    const f = new Fields(v, path);
    const m: MemberRecord = {
      nodeId: f.str("nodeId", this.#limits.nameBytesMax, NAME_PATTERN),
      address: f.str("address", this.#limits.nameBytesMax, NAME_PATTERN),
      roles: readCloudRoles(f.array("roles", this.#limits.memberRolesMax), f.at("roles")),
      resources: readResources(f.raw("resources"), f.at("resources")),
      incarnation: f.int("incarnation", 1, Number.MAX_SAFE_INTEGER),
      ttlMs: f.int("ttlMs", this.#limits.ttlMsMin, this.#limits.ttlMsMax),
      joinedAtMs: f.int("joinedAtMs", 0, Number.MAX_SAFE_INTEGER),
      lastHeartbeatMs: f.int("lastHeartbeatMs", 0, Number.MAX_SAFE_INTEGER),
    };
    f.done();
    if (m.lastHeartbeatMs < m.joinedAtMs) throw new FieldError(`${path}: lastHeartbeatMs before joinedAtMs`);
    return m;
  }
}

function statusOf(m: MemberRecord, timeMs: number): MemberRecordStatus {
  return timeMs - m.lastHeartbeatMs >= m.ttlMs ? MemberRecordStatus.Expired : MemberRecordStatus.Alive;
}

function viewOf(m: MemberRecord, timeMs: number): MemberView {
  return { ...m, status: statusOf(m, timeMs) };
}
