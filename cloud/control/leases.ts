// Leases with a TTL, and singleton roles held through them.
//
// A lease lives while state-machine time < expiresAtMs; keepalive pushes
// expiresAtMs to time + ttlMs. Expired leases are treated as absent the
// moment time passes their expiry and are removed lazily (on access, on a
// tick, or when a limit is reached) — removal timing does not change any
// result, and it is a pure function of the log, so replicas agree.
//
// A role ("scheduler", "shard/7", ...) is held by at most one node, through
// a lease dedicated to it. The role's epoch comes from one counter that
// only grows (and survives in snapshots), so each new holder of a role gets
// a strictly larger epoch: a fencing token for whatever the role guards.

import { Fields, FieldError, NAME_PATTERN } from "./fields";
import type { ControlLimits } from "./limits";
import {
  CommandKind,
  ControlError,
  failure,
  invariant,
  success,
  type LeaseGrantCommand,
  type LeaseKeepAliveCommand,
  type LeaseRecord,
  type LeaseRevokeCommand,
  type ResultFor,
  type RoleAcquireCommand,
  type RoleGetCommand,
  type RoleRecord,
  type RoleReleaseCommand,
} from "./types";

interface RoleEntry {
  readonly role: string;
  readonly holder: string;
  readonly leaseId: number;
  readonly epoch: number;
}

export interface LeasesDump {
  leaseIdLast: number;
  roleEpochLast: number;
  leases: LeaseRecord[];
  roles: RoleEntry[];
}

export class Leases {
  readonly #limits: ControlLimits;
  /** Invariant: every key <= #leaseIdLast. */
  readonly #leases = new Map<number, LeaseRecord>();
  /** Invariant: every entry's lease exists in #leases and is dedicated to it (#roleByLease). */
  readonly #roles = new Map<string, RoleEntry>();
  readonly #roleByLease = new Map<number, string>();
  #leaseIdLast = 0;
  #roleEpochLast = 0;

  constructor(limits: ControlLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#leases.size;
  }

  grant(cmd: LeaseGrantCommand, timeMs: number): ResultFor<typeof CommandKind.LeaseGrant> {
    const lease = this.#newLease(cmd.holder, cmd.ttlMs, timeMs);
    if (!lease) return failure(ControlError.LimitExceeded, `too many leases (leasesMax ${this.#limits.leasesMax})`);
    return success(CommandKind.LeaseGrant, lease);
  }

  keepAlive(cmd: LeaseKeepAliveCommand, timeMs: number): ResultFor<typeof CommandKind.LeaseKeepAlive> {
    const lease = this.#liveLease(cmd.leaseId, timeMs);
    if (!lease) return failure(ControlError.Expired, `lease ${cmd.leaseId} does not exist or expired`);
    if (lease.holder !== cmd.holder) return failure(ControlError.NotHolder, `lease ${cmd.leaseId} is held by ${lease.holder}`, { holder: lease.holder });
    const renewed: LeaseRecord = { ...lease, expiresAtMs: timeMs + lease.ttlMs };
    this.#leases.set(lease.leaseId, renewed);
    return success(CommandKind.LeaseKeepAlive, renewed);
  }

  revoke(cmd: LeaseRevokeCommand, timeMs: number): ResultFor<typeof CommandKind.LeaseRevoke> {
    const lease = this.#liveLease(cmd.leaseId, timeMs);
    if (!lease) return failure(ControlError.Expired, `lease ${cmd.leaseId} does not exist or expired`);
    if (lease.holder !== cmd.holder) return failure(ControlError.NotHolder, `lease ${cmd.leaseId} is held by ${lease.holder}`, { holder: lease.holder });
    this.#drop(lease.leaseId);
    return success(CommandKind.LeaseRevoke, lease);
  }

  acquireRole(cmd: RoleAcquireCommand, timeMs: number): ResultFor<typeof CommandKind.RoleAcquire> {
    const held = this.#liveRole(cmd.role, timeMs);
    if (held) {
      const lease = this.#leases.get(held.leaseId)!;
      if (held.holder !== cmd.nodeId) {
        return failure(ControlError.Held, `role ${cmd.role} is held by ${held.holder}`, { holder: held.holder, expiresAtMs: lease.expiresAtMs });
      }
      // The holder asking again renews (and may change its TTL).
      const renewed: LeaseRecord = { ...lease, ttlMs: cmd.ttlMs, expiresAtMs: timeMs + cmd.ttlMs };
      this.#leases.set(lease.leaseId, renewed);
      return success(CommandKind.RoleAcquire, view(held, renewed));
    }
    if (this.#roles.size >= this.#limits.rolesMax) {
      this.sweep(timeMs);
      if (this.#roles.size >= this.#limits.rolesMax) return failure(ControlError.LimitExceeded, `too many roles (rolesMax ${this.#limits.rolesMax})`);
    }
    const lease = this.#newLease(cmd.nodeId, cmd.ttlMs, timeMs);
    if (!lease) return failure(ControlError.LimitExceeded, `too many leases (leasesMax ${this.#limits.leasesMax})`);
    const entry: RoleEntry = { role: cmd.role, holder: cmd.nodeId, leaseId: lease.leaseId, epoch: ++this.#roleEpochLast };
    this.#roles.set(cmd.role, entry);
    this.#roleByLease.set(lease.leaseId, cmd.role);
    return success(CommandKind.RoleAcquire, view(entry, lease));
  }

  releaseRole(cmd: RoleReleaseCommand, timeMs: number): ResultFor<typeof CommandKind.RoleRelease> {
    const held = this.#liveRole(cmd.role, timeMs);
    if (!held) return failure(ControlError.NotFound, `role ${cmd.role} is not held`);
    const lease = this.#leases.get(held.leaseId)!;
    if (held.holder !== cmd.nodeId) return failure(ControlError.NotHolder, `role ${cmd.role} is held by ${held.holder}`, { holder: held.holder, expiresAtMs: lease.expiresAtMs });
    this.#drop(held.leaseId);
    return success(CommandKind.RoleRelease, view(held, lease));
  }

  getRole(cmd: RoleGetCommand, timeMs: number): ResultFor<typeof CommandKind.RoleGet> {
    const held = this.#liveRole(cmd.role, timeMs, false);
    if (!held) return failure(ControlError.NotFound, `role ${cmd.role} is not held`);
    return success(CommandKind.RoleGet, view(held, this.#leases.get(held.leaseId)!));
  }

  /** Removes every lease (and role) expired at `timeMs`. */
  sweep(timeMs: number): void {
    for (const lease of [...this.#leases.values()]) {
      if (lease.expiresAtMs <= timeMs) this.#drop(lease.leaseId);
    }
  }

  #newLease(holder: string, ttlMs: number, timeMs: number): LeaseRecord | undefined {
    if (this.#leases.size >= this.#limits.leasesMax) {
      this.sweep(timeMs);
      if (this.#leases.size >= this.#limits.leasesMax) return undefined;
    }
    const lease: LeaseRecord = { leaseId: ++this.#leaseIdLast, holder, ttlMs, grantedAtMs: timeMs, expiresAtMs: timeMs + ttlMs };
    this.#leases.set(lease.leaseId, lease);
    return lease;
  }

  #liveLease(leaseId: number, timeMs: number): LeaseRecord | undefined {
    const lease = this.#leases.get(leaseId);
    if (!lease) return undefined;
    if (lease.expiresAtMs <= timeMs) {
      this.#drop(leaseId);
      return undefined;
    }
    return lease;
  }

  /** `evict` false for reads: a read must not change state (ReadIndex serves it off the log). */
  #liveRole(role: string, timeMs: number, evict = true): RoleEntry | undefined {
    const entry = this.#roles.get(role);
    if (!entry) return undefined;
    const lease = this.#leases.get(entry.leaseId);
    invariant(lease, `role ${role} without its lease ${entry.leaseId}`);
    if (lease.expiresAtMs > timeMs) return entry;
    if (evict) this.#drop(entry.leaseId);
    return undefined;
  }

  #drop(leaseId: number): void {
    this.#leases.delete(leaseId);
    const role = this.#roleByLease.get(leaseId);
    if (role !== undefined) {
      this.#roleByLease.delete(leaseId);
      this.#roles.delete(role);
    }
  }

  dump(): LeasesDump {
    return {
      leaseIdLast: this.#leaseIdLast,
      roleEpochLast: this.#roleEpochLast,
      leases: [...this.#leases.keys()].sort((a, b) => a - b).map((id) => this.#leases.get(id)!),
      roles: [...this.#roles.keys()].sort().map((r) => this.#roles.get(r)!),
    };
  }

  load(v: unknown): void {
    const f = new Fields(v, "snapshot.leases");
    const leaseIdLast = f.int("leaseIdLast", 0, Number.MAX_SAFE_INTEGER);
    const roleEpochLast = f.int("roleEpochLast", 0, Number.MAX_SAFE_INTEGER);
    const leases = f.array("leases", this.#limits.leasesMax).map((x, i) => readLease(x, `snapshot.leases.leases[${i}]`, this.#limits));
    const roles = f.array("roles", this.#limits.rolesMax).map((x, i) => readRole(x, `snapshot.leases.roles[${i}]`, this.#limits));
    f.done();
    this.#leases.clear();
    this.#roles.clear();
    this.#roleByLease.clear();
    for (const l of leases) {
      if (l.leaseId > leaseIdLast || this.#leases.has(l.leaseId)) throw new FieldError(`snapshot.leases: bad lease id ${l.leaseId}`);
      this.#leases.set(l.leaseId, l);
    }
    for (const r of roles) {
      const lease = this.#leases.get(r.leaseId);
      if (!lease || lease.holder !== r.holder || this.#roleByLease.has(r.leaseId) || this.#roles.has(r.role) || r.epoch > roleEpochLast) {
        throw new FieldError(`snapshot.leases: inconsistent role ${r.role}`);
      }
      this.#roles.set(r.role, r);
      this.#roleByLease.set(r.leaseId, r.role);
    }
    this.#leaseIdLast = leaseIdLast;
    this.#roleEpochLast = roleEpochLast;
  }
}

function view(entry: RoleEntry, lease: LeaseRecord): RoleRecord {
  return { role: entry.role, holder: entry.holder, leaseId: entry.leaseId, epoch: entry.epoch, expiresAtMs: lease.expiresAtMs };
}

function readLease(v: unknown, path: string, limits: ControlLimits): LeaseRecord {
  const f = new Fields(v, path);
  const l: LeaseRecord = {
    leaseId: f.int("leaseId", 1, Number.MAX_SAFE_INTEGER),
    holder: f.str("holder", limits.nameBytesMax, NAME_PATTERN),
    ttlMs: f.int("ttlMs", limits.ttlMsMin, limits.ttlMsMax),
    grantedAtMs: f.int("grantedAtMs", 0, Number.MAX_SAFE_INTEGER),
    expiresAtMs: f.int("expiresAtMs", 0, Number.MAX_SAFE_INTEGER),
  };
  f.done();
  return l;
}

function readRole(v: unknown, path: string, limits: ControlLimits): RoleEntry {
  const f = new Fields(v, path);
  const r: RoleEntry = {
    role: f.str("role", limits.nameBytesMax, NAME_PATTERN),
    holder: f.str("holder", limits.nameBytesMax, NAME_PATTERN),
    leaseId: f.int("leaseId", 1, Number.MAX_SAFE_INTEGER),
    epoch: f.int("epoch", 1, Number.MAX_SAFE_INTEGER),
  };
  f.done();
  return r;
}
