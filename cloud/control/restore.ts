// Restoring a backup into a fresh control plane, through the log.
//
// A snapshot can be far larger than one command (commandBytesMax) or one
// Raft message, so it travels as `restore.chunk` commands (base64, in order,
// under one restoreId) and is applied by `restore.commit`. Every replica
// applies the same entries, so every replica restores the same state; the
// staged chunks are part of the snapshot until the commit (a replica that
// installs a snapshot in the middle of a restore still has them).
//
// What a commit does, and why:
//  - registry, leases/roles and members come from the
//    backup; the target must be fresh (no devices), so nothing is silently
//    overwritten;
//  - locks: the backup's, plus every lock live on the target now (the
//    restorer's own lock among them; a live lock wins a name clash);
//  - counters that fencing relies on (fence tokens, role epochs, lease ids,
//    member incarnations) continue from max(target, backup) + counterGap:
//    tokens were issued after the backup was taken and resources remember
//    them (fence.ts), so a restored counter must jump past them or new
//    holders would be refused as stale. The gap is the operator's bound on
//    grants between the backup and the restore (default one million);
//  - sessions stay the target's (its clients are the live ones); time is
//    max(target, backup), so expiries never move backwards.
// A commit whose bytes do not hash to the announced SHA-256, or do not
// load, changes nothing but the staging (cleared).

import { createHash } from "node:crypto";
import { FieldError } from "./fields";
import type { LeasesDump } from "./leases";
import type { LocksDump } from "./locks";
import type { RulesDump } from "./rules";
import { CommandKind, type Command, type MemberRecord } from "./types";

/** Fencing counters jump this far past the backup's (and the target's) on restore. */
export const RESTORE_COUNTER_GAP_DEFAULT = 1_000_000;
export const RESTORE_COUNTER_GAP_MAX = 1_000_000_000_000;
/** Raw bytes per restore.chunk: its base64 fits a command with room to spare (commandBytesMax 64 KiB). */
export const RESTORE_CHUNK_BYTES = 36 * 1024;

/** The state a snapshot holds, as loaded (everything but sessions and the applied index). */
export interface StateDumps {
  devices: unknown[];
  leases: LeasesDump;
  locks: LocksDump;
  members: { incarnationLast: number; members: MemberRecord[] };
  /** The analytics rules (rules.ts); absent in snapshots that never held one. */
  rules?: RulesDump;
  timeMs: number;
}

/** Chunks of one restore received so far. Invariant: chunks.length <= total; bytes = sum of their lengths. */
export interface StagingDump {
  restoreId: string;
  total: number;
  sha256: string;
  chunks: string[];
}

export class RestoreStaging {
  #s: StagingDump | undefined;
  #bytes = 0;

  constructor(readonly bytesMax: number) {}

  get current(): StagingDump | undefined {
    return this.#s;
  }

  /** Adds chunk `index` of restore `restoreId`; index 0 starts it (dropping any other staging). Returns an error text or undefined. */
  add(restoreId: string, index: number, total: number, sha256: string, data: string): string | undefined {
    if (index === 0) {
      this.#s = { restoreId, total, sha256, chunks: [] };
      this.#bytes = 0;
    }
    const s = this.#s;
    if (!s || s.restoreId !== restoreId) return `no restore ${restoreId} in progress (send chunk 0 first)`;
    if (s.total !== total || s.sha256 !== sha256) return `restore ${restoreId}: chunk ${index} announces another total or checksum than chunk 0`;
    if (index !== s.chunks.length) return `restore ${restoreId}: expected chunk ${s.chunks.length}, got ${index}`;
    if (index >= total) return `restore ${restoreId}: chunk ${index} beyond total ${total}`;
    if (this.#bytes + data.length > this.bytesMax) return `restore ${restoreId}: more than restoreStagingBytesMax (${this.bytesMax}) staged`;
    s.chunks.push(data);
    this.#bytes += data.length;
    return undefined;
  }

  /** The complete snapshot bytes of `restoreId`, checked against its SHA-256; clears the staging either way. */
  take(restoreId: string): { ok: true; bytes: Uint8Array } | { ok: false; message: string } {
    const s = this.#s;
    if (!s || s.restoreId !== restoreId) return { ok: false, message: `no restore ${restoreId} in progress` };
    if (s.chunks.length !== s.total) return { ok: false, message: `restore ${restoreId}: ${s.chunks.length} of ${s.total} chunks received` };
    this.clear();
    const bytes = new Uint8Array(Buffer.concat(s.chunks.map((c) => Buffer.from(c, "base64"))));
    const sha = createHash("sha256").update(bytes).digest("hex");
    if (sha !== s.sha256) return { ok: false, message: `restore ${restoreId}: the snapshot's SHA-256 is ${sha}, announced ${s.sha256}` };
    return { ok: true, bytes };
  }

  clear(): void {
    this.#s = undefined;
    this.#bytes = 0;
  }

  dump(): StagingDump | undefined {
    return this.#s ? { ...this.#s, chunks: [...this.#s.chunks] } : undefined;
  }

  load(d: StagingDump | undefined): void {
    this.#s = d ? { ...d, chunks: [...d.chunks] } : undefined;
    this.#bytes = d ? d.chunks.reduce((n, c) => n + c.length, 0) : 0;
    if (this.#bytes > this.bytesMax) throw new FieldError(`snapshot.restoreStaging: ${this.#bytes} bytes exceed restoreStagingBytesMax`);
  }
}

/** The state after a restore: the backup's, with the target's live locks and counters raised (see the header). */
export function mergeForRestore(target: StateDumps, backup: StateDumps, counterGap: number): StateDumps {
  const raise = (a: number, b: number): number => Math.max(a, b) + counterGap;
  const locks = new Map(backup.locks.locks.map((l) => [l.name, l]));
  for (const l of target.locks.locks) if (l.expiresAtMs > target.timeMs) locks.set(l.name, l);
  return {
    devices: backup.devices,
    leases: {
      ...backup.leases,
      leaseIdLast: raise(target.leases.leaseIdLast, backup.leases.leaseIdLast),
      roleEpochLast: raise(target.leases.roleEpochLast, backup.leases.roleEpochLast),
    },
    locks: { fenceTokenLast: raise(target.locks.fenceTokenLast, backup.locks.fenceTokenLast), locks: [...locks.keys()].sort().map((n) => locks.get(n)!) },
    members: { ...backup.members, incarnationLast: raise(target.members.incarnationLast, backup.members.incarnationLast) },
    ...(backup.rules ? { rules: backup.rules } : {}),
    timeMs: Math.max(target.timeMs, backup.timeMs),
  };
}

/** Reads a staging dump from a snapshot (validated; undefined when absent). */
export function readStaging(v: unknown, path: string, nameOk: (s: string) => boolean): StagingDump | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new FieldError(`${path}: expected an object`);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(",");
  if (keys !== "chunks,restoreId,sha256,total") throw new FieldError(`${path}: unexpected fields ${keys}`);
  if (typeof o.restoreId !== "string" || !nameOk(o.restoreId)) throw new FieldError(`${path}.restoreId: not a name`);
  if (typeof o.sha256 !== "string" || !SHA256_PATTERN.test(o.sha256)) throw new FieldError(`${path}.sha256: not a SHA-256`);
  if (!Number.isSafeInteger(o.total) || (o.total as number) < 1) throw new FieldError(`${path}.total: not a positive integer`);
  if (!Array.isArray(o.chunks) || o.chunks.length > (o.total as number) || o.chunks.some((c) => typeof c !== "string" || !BASE64_PATTERN.test(c))) {
    throw new FieldError(`${path}.chunks: expected at most total base64 strings`);
  }
  return { restoreId: o.restoreId, total: o.total as number, sha256: o.sha256, chunks: o.chunks as string[] };
}

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
export const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;

/** The commands that restore `snapshot` under `restoreId`: its chunks in order, then the commit. */
export function restoreCommands(snapshot: Uint8Array, restoreId: string, counterGap: number, chunkBytes = RESTORE_CHUNK_BYTES): Command[] {
  const sha256 = createHash("sha256").update(snapshot).digest("hex");
  const total = Math.max(1, Math.ceil(snapshot.byteLength / chunkBytes));
  const cmds: Command[] = [];
  for (let i = 0; i < total; i++) {
    const data = Buffer.from(snapshot.subarray(i * chunkBytes, (i + 1) * chunkBytes)).toString("base64");
    cmds.push({ kind: CommandKind.RestoreChunk, restoreId, index: i, total, sha256, data });
  }
  cmds.push({ kind: CommandKind.RestoreCommit, restoreId, counterGap });
  return cmds;
}
