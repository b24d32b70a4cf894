// The control-plane state machine: what every Raft replica applies, in log
// order. Pure and deterministic: no clock, no randomness, no I/O, no
// iteration-order dependence (snapshots sort every map). Time is the running
// maximum of the `nowMs` stamps in applied envelopes.
//
// Expected failures (bad bytes, CAS conflicts, held locks, limits) are
// returned as typed results and still consume the entry's index; broken
// invariants throw, because a replica that diverged must stop, not guess.

import { canonicalBytes, parseBoundedJson } from "./canonical-json";
import { decodeEnvelope, readApplyResult, readCommand, validateEnvelope } from "./codec";
import { Fields, FieldError, NAME_PATTERN } from "./fields";
import { Leases } from "./leases";
import { resolveLimits, type ControlLimits } from "./limits";
import { Locks } from "./locks";
import { Membership } from "./membership";
import { DeviceRegistry } from "./registry";
import { RestoreStaging, mergeForRestore, readStaging, type StateDumps } from "./restore";
import { RuleTable } from "./rules";
import { Sessions } from "./sessions";
import {
  CONTROL_FORMAT_VERSION,
  CommandKind,
  RetiredCommandKind,
  ControlError,
  failure,
  invariant,
  success,
  type ApplyResult,
  type Command,
  type Envelope,
  type ReadCommand,
  type RestoreChunkCommand,
  type RestoreCommitCommand,
  type StateMachine,
} from "./types";

/** Thrown by restore() for bytes that are not a valid snapshot; state is unchanged. */
export class SnapshotError extends Error {
  override readonly name = "SnapshotError";
}

const READ_KINDS: ReadonlySet<string> = new Set<ReadCommand["kind"]>([
  CommandKind.DeviceGet, CommandKind.DeviceList,
  CommandKind.RoleGet, CommandKind.LockCheckFence, CommandKind.MemberList, CommandKind.RuleList,
]);

export function isReadCommand(cmd: Command): cmd is ReadCommand {
  return READ_KINDS.has(cmd.kind);
}

interface Parts {
  registry: DeviceRegistry;
  restore: RestoreStaging;
  leases: Leases;
  locks: Locks;
  members: Membership;
  rules: RuleTable;
  sessions: Sessions<ApplyResult>;
}

function emptyParts(limits: ControlLimits): Parts {
  const registry = new DeviceRegistry(limits);
  return {
    registry,
    restore: new RestoreStaging(limits.restoreStagingBytesMax),
    leases: new Leases(limits),
    locks: new Locks(limits),
    members: new Membership(limits),
    rules: new RuleTable(limits),
    sessions: new Sessions<ApplyResult>(limits, readApplyResult),
  };
}

export class ControlStateMachine implements StateMachine<Envelope, ApplyResult> {
  readonly limits: ControlLimits;
  #parts: Parts;
  /** Invariant: never decreases. */
  #timeMs = 0;
  /** Invariant: strictly increases with every apply. */
  #appliedIndex = 0;

  constructor(opts: { limits?: Partial<ControlLimits> } = {}) {
    this.limits = resolveLimits(opts.limits);
    this.#parts = emptyParts(this.limits);
  }

  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  get timeMs(): number {
    return this.#timeMs;
  }

  /** Sizes, for metrics and tests. */
  get counts(): { devices: number; leases: number; locks: number; members: number; sessions: number } {
    const p = this.#parts;
    return { devices: p.registry.size, leases: p.leases.size, locks: p.locks.size, members: p.members.size, sessions: p.sessions.size };
  }

  apply(command: Uint8Array | Envelope, index: number): ApplyResult {
    invariant(Number.isSafeInteger(index) && index > this.#appliedIndex, `apply index ${index} after ${this.#appliedIndex}`);
    this.#appliedIndex = index;
    const decoded = command instanceof Uint8Array ? decodeEnvelope(command, this.limits) : validateEnvelope(command, this.limits);
    if (!decoded.ok) return failure(ControlError.InvalidCommand, decoded.message);
    const { nowMs, session, cmd } = decoded.envelope;
    this.#timeMs = Math.max(this.#timeMs, nowMs);
    if (!session || isReadCommand(cmd)) return this.#dispatch(cmd);
    const seen = this.#parts.sessions.check(session, this.#timeMs);
    if (seen.kind === "duplicate") return seen.result;
    if (seen.kind === "stale") {
      return failure(ControlError.StaleSession, `seq ${session.seq} of client ${session.clientId} is too old: its response was discarded`, { current: seen.floorSeq });
    }
    const result = this.#dispatch(cmd);
    this.#parts.sessions.record(session, result, this.#timeMs);
    return result;
  }

  /**
   * Serves a read without the log (after ReadIndex or under a leader lease).
   * Judged at max(state time, nowMs) so an expired lock is not reported
   * live just because no entry advanced time; state is not changed.
   */
  read(cmd: ReadCommand, nowMs = this.#timeMs): ApplyResult {
    let checked: Command;
    try {
      checked = readCommand(cmd, this.limits);
    } catch (err) {
      if (err instanceof FieldError) return failure(ControlError.InvalidCommand, err.message);
      throw err;
    }
    if (!isReadCommand(checked)) return failure(ControlError.InvalidCommand, `${checked.kind} is not a read`);
    return this.#dispatchRead(checked, Math.max(this.#timeMs, nowMs));
  }

  #dispatch(cmd: Command): ApplyResult {
    const p = this.#parts;
    const t = this.#timeMs;
    switch (cmd.kind) {
      case CommandKind.Tick:
        p.leases.sweep(t);
        p.locks.sweep(t);
        p.sessions.sweep(t);
        return success(CommandKind.Tick, { timeMs: t });
      case CommandKind.DeviceRegister: return p.registry.register(cmd, t);
      case CommandKind.DeviceUpdateMetadata: return p.registry.updateMetadata(cmd, t);
      case CommandKind.DeviceDecommission: return p.registry.decommission(cmd, t);
      case RetiredCommandKind.ConfigSet:
      case RetiredCommandKind.ConfigGet:
        // Entries of an older release's log: nothing to change (docs/shadow.md, "Configuration").
        return failure(ControlError.InvalidCommand, `${cmd.kind} is retired: a device's desired config moved to the device shadow (devices.config.set writes it there)`);
      case CommandKind.LeaseGrant: return p.leases.grant(cmd, t);
      case CommandKind.LeaseKeepAlive: return p.leases.keepAlive(cmd, t);
      case CommandKind.LeaseRevoke: return p.leases.revoke(cmd, t);
      case CommandKind.RoleAcquire: return p.leases.acquireRole(cmd, t);
      case CommandKind.RoleRelease: return p.leases.releaseRole(cmd, t);
      case CommandKind.LockTryAcquire: return p.locks.tryAcquire(cmd, t);
      case CommandKind.LockRelease: return p.locks.release(cmd, t);
      case CommandKind.LockExtend: return p.locks.extend(cmd, t);
      case CommandKind.MemberJoin: return p.members.join(cmd, t);
      case CommandKind.MemberHeartbeat: return p.members.heartbeat(cmd, t);
      case CommandKind.MemberLeave: return p.members.leave(cmd);
      case CommandKind.RulePut: return p.rules.put(cmd, t);
      case CommandKind.RuleDelete: return p.rules.delete(cmd);
      case CommandKind.RestoreChunk: return this.#restoreChunk(cmd);
      case CommandKind.RestoreCommit: return this.#restoreCommit(cmd);
      default: return this.#dispatchRead(cmd, t);
    }
  }

  #dispatchRead(cmd: ReadCommand, t: number): ApplyResult {
    const p = this.#parts;
    switch (cmd.kind) {
      case CommandKind.DeviceGet: return p.registry.get(cmd);
      case CommandKind.DeviceList: return p.registry.list(cmd);
      case CommandKind.RoleGet: return p.leases.getRole(cmd, t);
      case CommandKind.LockCheckFence: return p.locks.checkFence(cmd, t);
      case CommandKind.MemberList: return p.members.list(t);
      case CommandKind.RuleList: return p.rules.list();
    }
  }

  snapshot(): Uint8Array {
    const p = this.#parts;
    const staging = p.restore.dump();
    const bytes = canonicalBytes({
      v: CONTROL_FORMAT_VERSION,
      appliedIndex: this.#appliedIndex,
      timeMs: this.#timeMs,
      ...this.#stateDumps(),
      sessions: p.sessions.dump(),
      // Only while a restore is being staged (restore.ts); absent otherwise, so older snapshots load.
      ...(staging ? { restoreStaging: staging } : {}),
    });
    invariant(bytes.byteLength <= this.limits.snapshotBytesMax, `snapshot of ${bytes.byteLength} bytes exceeds snapshotBytesMax`);
    return bytes;
  }

  #stateDumps(): Omit<StateDumps, "timeMs"> {
    const p = this.#parts;
    const rules = p.rules.dump();
    return {
      devices: p.registry.dump(), leases: p.leases.dump(), locks: p.locks.dump(), members: p.members.dump(),
      // Absent while no rule was ever stored, so snapshots of older releases and their bytes stay as they were.
      ...(rules.tableVersion > 0 ? { rules } : {}),
    };
  }

  restore(bytes: Uint8Array): void {
    const loaded = this.#load(bytes);
    this.#parts = loaded.parts;
    this.#appliedIndex = loaded.appliedIndex;
    this.#timeMs = loaded.timeMs;
  }

  /** Loads snapshot bytes into fresh parts (all-or-nothing); throws SnapshotError. */
  #load(bytes: Uint8Array): { parts: Parts; appliedIndex: number; timeMs: number } {
    const parsed = parseBoundedJson(bytes, this.limits.snapshotBytesMax);
    if (!parsed.ok) throw new SnapshotError(`control snapshot: ${parsed.message}`);
    const parts = emptyParts(this.limits);
    try {
      const f = new Fields(parsed.value, "snapshot");
      const v = f.int("v", 0, 255);
      if (v !== CONTROL_FORMAT_VERSION) throw new FieldError(`snapshot.v: unsupported version ${v}`);
      const appliedIndex = f.int("appliedIndex", 0, Number.MAX_SAFE_INTEGER);
      const timeMs = f.int("timeMs", 0, Number.MAX_SAFE_INTEGER);
      parts.registry.load(f.array("devices", this.limits.devicesMax));
      // Snapshots of older releases carry the retired desired configs: accepted and ignored.
      if (f.has("configs")) f.array("configs", this.limits.devicesMax);
      parts.leases.load(f.raw("leases"));
      parts.locks.load(f.raw("locks"));
      parts.members.load(f.raw("members"));
      if (f.has("rules")) parts.rules.load(f.raw("rules"));
      parts.sessions.load(f.array("sessions", this.limits.sessionsMax));
      if (f.has("restoreStaging")) parts.restore.load(readStaging(f.raw("restoreStaging"), "snapshot.restoreStaging", (n) => NAME_PATTERN.test(n) && n.length <= this.limits.nameBytesMax));
      f.done();
      return { parts, appliedIndex, timeMs };
    } catch (err) {
      if (err instanceof FieldError) throw new SnapshotError(`control snapshot: ${err.message}`);
      throw err;
    }
  }

  #restoreChunk(cmd: RestoreChunkCommand): ApplyResult {
    const p = this.#parts;
    if (cmd.index === 0 && p.registry.size > 0) {
      return failure(ControlError.Conflict, `restore loads into a fresh control plane; this one holds ${p.registry.size} devices`);
    }
    const problem = p.restore.add(cmd.restoreId, cmd.index, cmd.total, cmd.sha256, cmd.data);
    if (problem) return failure(problem.includes("restoreStagingBytesMax") ? ControlError.LimitExceeded : ControlError.Conflict, problem);
    return success(CommandKind.RestoreChunk, { restoreId: cmd.restoreId, received: cmd.index + 1, total: cmd.total });
  }

  #restoreCommit(cmd: RestoreCommitCommand): ApplyResult {
    const p = this.#parts;
    const taken = p.restore.take(cmd.restoreId);
    if (!taken.ok) return failure(ControlError.Conflict, taken.message);
    if (p.registry.size > 0) return failure(ControlError.Conflict, `restore loads into a fresh control plane; this one holds ${p.registry.size} devices`);
    let backup: { parts: Parts; appliedIndex: number; timeMs: number };
    try {
      backup = this.#load(taken.bytes);
    } catch (err) {
      if (err instanceof SnapshotError) return failure(ControlError.InvalidCommand, `restore ${cmd.restoreId}: ${err.message}`);
      throw err;
    }
    const dumpsOf = (parts: Parts, timeMs: number): StateDumps => ({
      devices: parts.registry.dump(), leases: parts.leases.dump(), locks: parts.locks.dump(), members: parts.members.dump(),
      rules: parts.rules.dump(), timeMs,
    });
    const merged = mergeForRestore(dumpsOf(p, this.#timeMs), dumpsOf(backup.parts, backup.timeMs), cmd.counterGap);
    // Load the merged state through the snapshot loaders: every invariant is checked again.
    const next = emptyParts(this.limits);
    try {
      next.registry.load(merged.devices);
      next.leases.load(merged.leases);
      next.locks.load(merged.locks);
      next.members.load(merged.members);
      if (merged.rules) next.rules.load(merged.rules);
    } catch (err) {
      if (err instanceof FieldError) return failure(ControlError.InvalidCommand, `restore ${cmd.restoreId}: ${err.message}`);
      throw err;
    }
    next.sessions = p.sessions;
    this.#parts = next;
    this.#timeMs = merged.timeMs;
    return success(CommandKind.RestoreCommit, {
      restoreId: cmd.restoreId, backupAppliedIndex: backup.appliedIndex, devices: next.registry.size,
      locks: next.locks.size, fenceTokenLast: next.locks.fenceTokenLast,
    });
  }
}
