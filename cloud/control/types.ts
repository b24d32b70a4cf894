// Contracts of the control plane: the commands the replicated state machine
// applies, the results it returns, and the StateMachine seam Raft drives.
//
// The state machine is pure and deterministic. It owns no clock: every
// command travels in an envelope stamped with `nowMs` by the leader when it
// proposes, and the state machine's notion of time is the running maximum of
// the stamps it has applied (leader changes may step a stamp backwards; time
// never does). Expiry of leases, locks, members and sessions is judged
// against that time only, so every replica reaches the same verdicts.
//
// Raft drives it in cloud/controlplane/raft-node.ts: each committed Normal
// entry's `data` goes to `apply(data, entry.index)`, and snapshot()/restore()
// carry the state across InstallSnapshot.

import type { DeviceRole } from "../../shared/device-role";
import type { CloudRole } from "../base";

/** Typed replicated state machine (the control plane implements it). */
export interface StateMachine<Cmd, Res> {
  /** Applies one committed entry; `index` must exceed every index applied before. */
  apply(command: Uint8Array | Cmd, index: number): Res;
  /** Canonical bytes of the whole state, including the applied index and time. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot; throws SnapshotError on bad bytes. */
  restore(bytes: Uint8Array): void;
  readonly appliedIndex: number;
}

/** Version of the command encoding and of the snapshot format. */
export const CONTROL_FORMAT_VERSION = 1;

export const CommandKind = {
  /** Advances time and sweeps expired leases, locks, members and sessions. */
  Tick: "tick",
  DeviceRegister: "device.register",
  DeviceUpdateMetadata: "device.update-metadata",
  DeviceDecommission: "device.decommission",
  DeviceGet: "device.get",
  DeviceList: "device.list",
  LeaseGrant: "lease.grant",
  LeaseKeepAlive: "lease.keepalive",
  LeaseRevoke: "lease.revoke",
  RoleAcquire: "role.acquire",
  RoleRelease: "role.release",
  RoleGet: "role.get",
  LockTryAcquire: "lock.try-acquire",
  LockRelease: "lock.release",
  LockExtend: "lock.extend",
  LockCheckFence: "lock.check-fence",
  MemberJoin: "member.join",
  MemberHeartbeat: "member.heartbeat",
  MemberLeave: "member.leave",
  MemberList: "member.list",
  /** Alert rules of the analytics role (rules.ts; shared/stream validates them). */
  RulePut: "rule.put",
  RuleDelete: "rule.delete",
  RuleList: "rule.list",
  /** One piece of a backup's snapshot being restored (restore.ts). */
  RestoreChunk: "restore.chunk",
  /** Replaces the state with the restored snapshot (restore.ts). */
  RestoreCommit: "restore.commit",
} as const;
export type CommandKind = (typeof CommandKind)[keyof typeof CommandKind];

/** Kinds of earlier releases that persisted logs and snapshots may still
 *  hold: they decode, and apply as a failure that changes nothing (the
 *  desired config moved to the device shadow, docs/shadow.md). Never reused. */
export const RetiredCommandKind = {
  ConfigSet: "config.set",
  ConfigGet: "config.get",
} as const;
export type RetiredCommandKind = (typeof RetiredCommandKind)[keyof typeof RetiredCommandKind];
/** A retired command as decoded: its old fields kept opaque (a log entry must re-encode to its own bytes), never used. */
export interface RetiredCommand {
  readonly kind: RetiredCommandKind;
  readonly deviceId?: unknown;
  readonly config?: unknown;
  readonly expectedVersion?: unknown;
}

export const DeviceStatus = {
  Active: "active",
  Decommissioned: "decommissioned",
} as const;
export type DeviceStatus = (typeof DeviceStatus)[keyof typeof DeviceStatus];

/** TTL state of a control-plane membership record (not cloud/membership's
 *  MemberStatus, which is what the failure detectors see). */
export const MemberRecordStatus = {
  Alive: "alive",
  /** No heartbeat within its TTL: failover may replace it; it must rejoin. */
  Expired: "expired",
} as const;
export type MemberRecordStatus = (typeof MemberRecordStatus)[keyof typeof MemberRecordStatus];

/** Flat string map; keys match KEY_PATTERN. */
export type Metadata = Readonly<Record<string, string>>;

// ---- records (immutable: modules replace them, never mutate them) --------

export interface DeviceRecord {
  readonly deviceId: string;
  readonly role: DeviceRole;
  readonly metadata: Metadata;
  /** Bumped by every change; update-metadata compares against it. */
  readonly revision: number;
  readonly status: DeviceStatus;
  readonly registeredAtMs: number;
  readonly updatedAtMs: number;
}

export interface LeaseRecord {
  readonly leaseId: number;
  readonly holder: string;
  readonly ttlMs: number;
  readonly grantedAtMs: number;
  readonly expiresAtMs: number;
}

export interface RoleRecord {
  readonly role: string;
  readonly holder: string;
  readonly leaseId: number;
  /** Increments each time the role changes holder: a fencing token for the role. */
  readonly epoch: number;
  readonly expiresAtMs: number;
}

export interface LockRecord {
  readonly name: string;
  readonly holder: string;
  /** Fencing token; strictly increasing across all grants of this lock. */
  readonly token: number;
  readonly ttlMs: number;
  readonly acquiredAtMs: number;
  readonly expiresAtMs: number;
}

export interface MemberResources {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

export interface MemberRecord {
  readonly nodeId: string;
  readonly address: string;
  readonly roles: readonly CloudRole[];
  readonly resources: MemberResources;
  /** Increments on every (re)join, so a replacement is told apart from a zombie. */
  readonly incarnation: number;
  readonly ttlMs: number;
  readonly joinedAtMs: number;
  readonly lastHeartbeatMs: number;
}

export interface MemberView extends MemberRecord {
  readonly status: MemberRecordStatus;
}

// ---- commands -------------------------------------------------------------

export interface TickCommand { readonly kind: typeof CommandKind.Tick }
export interface DeviceRegisterCommand {
  readonly kind: typeof CommandKind.DeviceRegister;
  readonly deviceId: string;
  readonly role: DeviceRole;
  readonly metadata: Metadata;
}
export interface DeviceUpdateMetadataCommand {
  readonly kind: typeof CommandKind.DeviceUpdateMetadata;
  readonly deviceId: string;
  readonly metadata: Metadata;
  readonly expectedRevision: number;
}
export interface DeviceDecommissionCommand {
  readonly kind: typeof CommandKind.DeviceDecommission;
  readonly deviceId: string;
  /** Omitted: decommission whatever the revision. */
  readonly expectedRevision?: number;
}
export interface DeviceGetCommand { readonly kind: typeof CommandKind.DeviceGet; readonly deviceId: string }
export interface DeviceListCommand {
  readonly kind: typeof CommandKind.DeviceList;
  /** Page after this device id (ids sort by code unit). */
  readonly afterDeviceId?: string;
  readonly limit: number;
  readonly includeDecommissioned?: boolean;
}
export interface LeaseGrantCommand { readonly kind: typeof CommandKind.LeaseGrant; readonly holder: string; readonly ttlMs: number }
export interface LeaseKeepAliveCommand { readonly kind: typeof CommandKind.LeaseKeepAlive; readonly leaseId: number; readonly holder: string }
export interface LeaseRevokeCommand { readonly kind: typeof CommandKind.LeaseRevoke; readonly leaseId: number; readonly holder: string }
export interface RoleAcquireCommand {
  readonly kind: typeof CommandKind.RoleAcquire;
  /** Singleton role or shard name, e.g. "scheduler" or "shard/7". */
  readonly role: string;
  readonly nodeId: string;
  readonly ttlMs: number;
}
export interface RoleReleaseCommand { readonly kind: typeof CommandKind.RoleRelease; readonly role: string; readonly nodeId: string }
export interface RoleGetCommand { readonly kind: typeof CommandKind.RoleGet; readonly role: string }
export interface LockTryAcquireCommand {
  readonly kind: typeof CommandKind.LockTryAcquire;
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
}
export interface LockReleaseCommand {
  readonly kind: typeof CommandKind.LockRelease;
  readonly name: string;
  readonly holder: string;
  readonly token: number;
}
export interface LockExtendCommand {
  readonly kind: typeof CommandKind.LockExtend;
  readonly name: string;
  readonly holder: string;
  readonly token: number;
  readonly ttlMs: number;
}
export interface LockCheckFenceCommand { readonly kind: typeof CommandKind.LockCheckFence; readonly name: string; readonly token: number }
export interface MemberJoinCommand {
  readonly kind: typeof CommandKind.MemberJoin;
  readonly nodeId: string;
  readonly address: string;
  readonly roles: readonly CloudRole[];
  readonly resources: MemberResources;
  readonly ttlMs: number;
}
export interface MemberHeartbeatCommand {
  readonly kind: typeof CommandKind.MemberHeartbeat;
  readonly nodeId: string;
  readonly incarnation: number;
  readonly resources?: MemberResources;
}
export interface MemberLeaveCommand { readonly kind: typeof CommandKind.MemberLeave; readonly nodeId: string; readonly incarnation: number }
export interface MemberListCommand { readonly kind: typeof CommandKind.MemberList }
export interface RestoreChunkCommand {
  readonly kind: typeof CommandKind.RestoreChunk;
  readonly restoreId: string;
  /** 0-based; chunk 0 starts the restore. */
  readonly index: number;
  readonly total: number;
  /** SHA-256 (hex) of the whole snapshot. */
  readonly sha256: string;
  /** The chunk's bytes, base64. */
  readonly data: string;
}
export interface RestoreCommitCommand {
  readonly kind: typeof CommandKind.RestoreCommit;
  readonly restoreId: string;
  /** Fencing counters continue this far past the backup's and the target's. */
  readonly counterGap: number;
}

/** Success value per command kind. */
export interface ValueMap {
  [CommandKind.Tick]: { readonly timeMs: number };
  [CommandKind.DeviceRegister]: DeviceRecord;
  [CommandKind.DeviceUpdateMetadata]: DeviceRecord;
  [CommandKind.DeviceDecommission]: DeviceRecord;
  [CommandKind.DeviceGet]: DeviceRecord;
  [CommandKind.DeviceList]: { readonly devices: readonly DeviceRecord[]; readonly nextAfterDeviceId?: string };
  [CommandKind.LeaseGrant]: LeaseRecord;
  [CommandKind.LeaseKeepAlive]: LeaseRecord;
  [CommandKind.LeaseRevoke]: LeaseRecord;
  [CommandKind.RoleAcquire]: RoleRecord;
  [CommandKind.RoleRelease]: RoleRecord;
  [CommandKind.RoleGet]: RoleRecord;
  [CommandKind.LockTryAcquire]: LockRecord;
  [CommandKind.LockRelease]: LockRecord;
  [CommandKind.LockExtend]: LockRecord;
  [CommandKind.LockCheckFence]: LockRecord;
  [CommandKind.MemberJoin]: MemberView;
  [CommandKind.MemberHeartbeat]: MemberView;
  [CommandKind.MemberLeave]: MemberRecord;
  [CommandKind.MemberList]: { readonly members: readonly MemberView[] };
  [CommandKind.RulePut]: RuleRecord;
  [CommandKind.RuleDelete]: RuleRecord;
  /** `tableVersion` grows with every put and delete (watchers compare it). */
  [CommandKind.RuleList]: { readonly rules: readonly RuleRecord[]; readonly tableVersion: number };
  [CommandKind.RestoreChunk]: { readonly restoreId: string; readonly received: number; readonly total: number };
  [CommandKind.RestoreCommit]: {
    readonly restoreId: string;
    /** The backup's applied index (its position in the source's log). */
    readonly backupAppliedIndex: number;
    readonly devices: number;
    readonly locks: number;
    readonly fenceTokenLast: number;
  };
}

export type Command =
  | TickCommand
  | DeviceRegisterCommand
  | DeviceUpdateMetadataCommand
  | DeviceDecommissionCommand
  | DeviceGetCommand
  | DeviceListCommand
  | RetiredCommand
  | LeaseGrantCommand
  | LeaseKeepAliveCommand
  | LeaseRevokeCommand
  | RoleAcquireCommand
  | RoleReleaseCommand
  | RoleGetCommand
  | LockTryAcquireCommand
  | LockReleaseCommand
  | LockExtendCommand
  | LockCheckFenceCommand
  | MemberJoinCommand
  | MemberHeartbeatCommand
  | MemberLeaveCommand
  | MemberListCommand
  | RulePutCommand
  | RuleDeleteCommand
  | RuleListCommand
  | RestoreChunkCommand
  | RestoreCommitCommand;

/** Puts (creates or replaces) one rule; `expectedVersion` 0 = must not exist, absent = any.
 *  The rule travels as JSON text: its thresholds are not integers, and the log's canonical JSON holds only integers. */
export interface RulePutCommand { readonly kind: typeof CommandKind.RulePut; readonly ruleJson: string; readonly expectedVersion?: number }
export interface RuleDeleteCommand { readonly kind: typeof CommandKind.RuleDelete; readonly ruleId: string }
export interface RuleListCommand { readonly kind: typeof CommandKind.RuleList }

/** One stored rule. */
export interface RuleRecord {
  readonly id: string;
  /** 1 on creation, +1 per put. */
  readonly version: number;
  /** shared/stream RuleDef as JSON text, checked by validateRule. */
  readonly ruleJson: string;
  readonly updatedAtMs: number;
}

/** Commands that change nothing but time: servable by ReadIndex without the log. */
export type ReadCommand =
  | DeviceGetCommand
  | DeviceListCommand
  | RoleGetCommand
  | LockCheckFenceCommand
  | MemberListCommand
  | RuleListCommand;

/** Client session reference for exactly-once application of retried proposals. */
export interface SessionRef {
  readonly clientId: string;
  /** Positive, increasing per client; one number per distinct request. */
  readonly seq: number;
}

/** What a Raft entry carries: the command, the leader's time stamp, and an optional session. */
export interface Envelope {
  readonly v: typeof CONTROL_FORMAT_VERSION;
  readonly nowMs: number;
  readonly session?: SessionRef;
  readonly cmd: Command;
}

// ---- results --------------------------------------------------------------

export const ControlError = {
  /** Bytes or fields that do not form a valid command. */
  InvalidCommand: "invalid-command",
  NotFound: "not-found",
  AlreadyExists: "already-exists",
  /** Expected revision/version does not match the current one. */
  Conflict: "conflict",
  /** A named limit (devicesMax, locksMax, ...) is reached. */
  LimitExceeded: "limit-exceeded",
  /** The lock or role is held by someone else (or by the same holder: locks are not reentrant). */
  Held: "held",
  /** The caller is not the (live) holder, or its token is not the current one. */
  NotHolder: "not-holder",
  /** A fencing token that is not the live holder's token. */
  StaleToken: "stale-token",
  /** The member or lease expired; the caller must start over (rejoin, re-grant). */
  Expired: "expired",
  Decommissioned: "decommissioned",
  /** A session seq whose response was already discarded: the request may have been applied. */
  StaleSession: "stale-session",
} as const;
export type ControlError = (typeof ControlError)[keyof typeof ControlError];

export interface ControlFailure {
  readonly ok: false;
  readonly code: ControlError;
  readonly message: string;
  /** Current holder of a held lock/role. */
  readonly holder?: string;
  /** Expiry (state-machine time) of the held lock/role: a retry hint. */
  readonly expiresAtMs?: number;
  /** Current revision/version/token when the caller's expectation failed. */
  readonly current?: number;
}

export type ControlSuccess<K extends CommandKind | RetiredCommandKind = CommandKind> = K extends CommandKind
  ? { readonly ok: true; readonly kind: K; readonly value: ValueMap[K] }
  : never;

export type ApplyResult = ControlSuccess | ControlFailure;
/** A retired kind only ever fails. */
export type ResultFor<K extends CommandKind | RetiredCommandKind> = ControlSuccess<K> | ControlFailure;

export function failure(code: ControlError, message: string, extra: Partial<Omit<ControlFailure, "ok" | "code" | "message">> = {}): ControlFailure {
  return { ok: false, code, message, ...extra };
}

export function success<K extends CommandKind>(kind: K, value: ValueMap[K]): ControlSuccess<K> {
  return { ok: true, kind, value } as ControlSuccess<K>;
}

/**
 * How a client reaches the control plane: the leader stamps `nowMs`, appends
 * the command to the log, and resolves with the result of applying it.
 * cloud/controlplane's ControlClient.proposer() is the product's; tests
 * also use test/harness/local-proposer.ts (the state machine in process).
 */
export type Proposer = (cmd: Command, session?: SessionRef) => Promise<ApplyResult>;

/** Broken invariant (not an expected failure): crash loudly. */
export function invariant(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`control invariant: ${msg}`);
}
