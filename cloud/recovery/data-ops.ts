// Backup and restore as the product runs them (the `xsfleet backup` and
// `xsfleet restore` commands and the scheduled-backup singleton): one home
// for what surrounds backup.ts's file format.
//
//  - Mutual exclusion: every backup and every restore holds the data-ops
//    lock (cloud/lock: the Raft control plane's by default, Redis when
//    configured) for its whole run, extended every TTL/3; a restore never
//    runs beside a backup or another restore, and two backups never race
//    for the catalog. A lost lock (extension refused) aborts the run at its
//    next step. A restore takes the lock on the target control plane; the
//    restore keeps live locks (cloud/control/restore.ts), so it still holds
//    it afterwards.
//  - The catalog (backup-catalog.ts) is written with the lock's fencing
//    token through the fenced compare-and-set.
//  - The control plane's state comes from a linearizable snapshot read
//    through its API (ControlClient.readSnapshot) and goes back through its
//    log (ControlClient.restoreSnapshot).

import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { commandsBucket } from "../commands";
import type { ControlClient } from "../controlplane";
import type { DistributedLock } from "../lock";
import type { RecoveryHistory } from "../membership";
import { registryBucket } from "../registry";
import { deviceStateBucket } from "../state";
import { shadowBucket } from "../shadow";
import { backupCluster, readBackup, restoreCluster, type BackupManifest, type RestoreReport } from "./backup";
import type { BackupCatalog, BackupRecord } from "./backup-catalog";

/** The lock every backup and restore holds. */
export const DATA_OPS_LOCK = "ops/backup-restore";
export const DATA_OPS_LOCK_TTL_MS = 30_000;

/** The buckets a backup covers by default (those that exist). */
export const DEFAULT_BACKUP_BUCKETS: readonly string[] = Object.freeze([deviceStateBucket, registryBucket, commandsBucket, shadowBucket]);

export type Progress = (p: { source: string; done: number; total: number }) => void;

/** Another backup or restore holds the lock. */
export class DataOpsBusyError extends Error {
  override readonly name = "DataOpsBusyError";
  constructor(readonly holder: string | undefined, waitedMs: number) {
    super(`another backup or restore is running${holder ? ` (lock ${DATA_OPS_LOCK} held by ${holder})` : ""}; waited ${waitedMs} ms`);
  }
}

/** A lock held for a long operation: extended every TTL/3; `check()` throws once it was lost. */
export class LockKeeper {
  #lost: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(readonly lock: DistributedLock, readonly name: string, readonly token: number, readonly ttlMs: number) {}

  static async acquire(lock: DistributedLock, name: string, o: { ttlMs: number; waitMs: number }): Promise<LockKeeper> {
    const r = await lock.acquire(name, { ttlMs: o.ttlMs, timeoutMs: o.waitMs });
    if (!r.ok) throw new DataOpsBusyError(r.holder, r.waitedMs);
    const k = new LockKeeper(lock, name, r.lock.token, o.ttlMs);
    k.#timer = setInterval(() => void k.#extend(), Math.max(10, Math.floor(o.ttlMs / 3)));
    return k;
  }

  async #extend(): Promise<void> {
    if (this.#lost) return;
    try {
      const r = await this.lock.extend(this.name, this.token, this.ttlMs);
      if (!r.ok) this.#lose(`lock ${this.name} lost: ${r.message}`);
    } catch {
      // Unknown outcome (lock service unreachable): the next extension tries again; if the lease
      // runs out meanwhile, that one is refused, and the fencing token guards the catalog.
    }
  }

  #lose(why: string): void {
    this.#lost = why;
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Throws when the lock was lost (call between steps of the operation). */
  check(): void {
    if (this.#lost) throw new Error(this.#lost);
  }

  async release(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#lost === undefined) await this.lock.release(this.name, this.token).catch(() => undefined);
    this.#lost ??= "released";
  }
}

/** Of `candidates`, the KV buckets that exist on this NATS. */
export async function existingBuckets(nc: NatsConnection, candidates: readonly string[] = DEFAULT_BACKUP_BUCKETS): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const out: string[] = [];
  for (const b of candidates) {
    try {
      await jsm.streams.info(`KV_${b}`);
      out.push(b);
    } catch {
      // Not created on this cluster (its role never ran): nothing to back up.
    }
  }
  return out;
}

/** Directory name of a backup taken at `atMs` by `node`: sortable, one path segment. */
export function backupName(atMs: number, node: string): string {
  return `backup-${new Date(atMs).toISOString().replace(/[:.]/g, "-")}-${node}`;
}

export interface BackupRun {
  nc: NatsConnection;
  /** Where the backup directory goes (created; must not exist). */
  dir: string;
  /** Source of the control-plane snapshot; null: no control plane to back up. */
  control: ControlClient | null;
  kvBuckets: readonly string[];
  streams?: readonly string[];
  lock: DistributedLock;
  /** How long to wait for another backup or restore to finish. */
  lockWaitMs: number;
  /** Who writes (node id or operator host), for the catalog. */
  writer: string;
  catalog?: BackupCatalog;
  /** Scheduled backups are pruned to `retain` (see backup-catalog.ts); by-hand ones never are. */
  scheduled?: { retain: number };
  /** Also called between steps; throwing aborts (e.g. the work was stopped). */
  checkpoint?: () => void;
  onProgress?: Progress;
  history?: RecoveryHistory;
  log?: (msg: string) => void;
}

export interface BackupRunResult {
  manifest: BackupManifest;
  record: BackupRecord;
  /** Scheduled backups dropped by retention (their directories deleted). */
  pruned: readonly BackupRecord[];
}

export async function runBackup(o: BackupRun): Promise<BackupRunResult> {
  const keeper = await LockKeeper.acquire(o.lock, DATA_OPS_LOCK, { ttlMs: DATA_OPS_LOCK_TTL_MS, waitMs: o.lockWaitMs });
  try {
    const checkpoint = (): void => {
      o.checkpoint?.();
      keeper.check();
    };
    const control = o.control;
    const manifest = await backupCluster({
      nc: o.nc, dir: o.dir, kvBuckets: o.kvBuckets, streams: o.streams ?? [], checkpoint,
      ...(control ? {
        controlSnapshot: async () => (await control.readSnapshot((p) => o.onProgress?.({ source: "control", ...p }))).bytes,
      } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}), ...(o.history ? { history: o.history } : {}),
    });
    const record: BackupRecord = {
      name: path.basename(o.dir), dir: path.resolve(o.dir), node: o.writer, createdAtMs: manifest.createdAtMs, scheduled: o.scheduled !== undefined,
      bytes: manifest.files.reduce((n, f) => n + f.bytes, 0), sources: manifest.files.map((f) => f.source),
    };
    let pruned: BackupRecord[] = [];
    if (o.catalog) {
      const r = await o.catalog.record(keeper.token, o.writer, record, o.scheduled?.retain);
      if (!r.ok) throw new Error(`backup ${record.name} written, but the catalog refused it: a newer holder of ${DATA_OPS_LOCK} (token ${r.highestToken} > ${keeper.token}) wrote it`);
      pruned = r.pruned;
      // Only after the catalog write: a refused write must not delete what the newer holder still lists.
      for (const b of pruned) await removeBackupDir(b, o.log);
    }
    return { manifest, record, pruned };
  } finally {
    await keeper.release();
  }
}

/** Names backupName() gives. */
const BACKUP_NAME_PATTERN = /^backup-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[A-Za-z0-9_-]{1,64}$/;

/** Deletes a pruned backup's directory — only one that looks like a backup (its name, a manifest): the catalog is data, not a command. */
async function removeBackupDir(b: BackupRecord, log: ((msg: string) => void) | undefined): Promise<void> {
  const dir = path.resolve(b.dir);
  if (!BACKUP_NAME_PATTERN.test(path.basename(dir)) || path.basename(dir) !== b.name || !existsSync(path.join(dir, "manifest.json"))) {
    if (existsSync(dir)) log?.(`backup retention: left ${dir} alone (not a backup directory this catalog entry names)`);
    return;
  }
  await rm(dir, { recursive: true, force: true });
  log?.(`backup retention: removed ${dir}`);
}

export interface RestoreRun {
  nc: NatsConnection;
  dir: string;
  /** The target control plane; null: leave the control snapshot out. */
  control: ControlClient | null;
  /** The lock on the target (its control plane's, or Redis). */
  lock: DistributedLock;
  lockWaitMs: number;
  replicas?: number;
  counterGap?: number;
  onProgress?: Progress;
  history?: RecoveryHistory;
}

export async function runRestore(o: RestoreRun): Promise<RestoreReport> {
  // Check every file before taking the lock or touching the target (restoreCluster checks again, under the lock).
  await readBackup(o.dir);
  const control = o.control;
  const keeper = await LockKeeper.acquire(o.lock, DATA_OPS_LOCK, { ttlMs: DATA_OPS_LOCK_TTL_MS, waitMs: o.lockWaitMs });
  try {
    return await restoreCluster({
      nc: o.nc, dir: o.dir, checkpoint: () => keeper.check(),
      skip: (f) => f.kind === "control" && control === null,
      ...(control ? {
        restoreControl: async (bytes: Uint8Array) => {
          await control.restoreSnapshot(bytes, {
            ...(o.counterGap !== undefined ? { counterGap: o.counterGap } : {}),
            onProgress: (p) => o.onProgress?.({ source: "control", ...p }),
          });
        },
      } : {}),
      ...(o.replicas !== undefined ? { replicas: o.replicas } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}), ...(o.history ? { history: o.history } : {}),
    });
  } finally {
    await keeper.release();
  }
}
