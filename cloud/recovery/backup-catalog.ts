// The backup catalog: which backups exist, where, by whom, and when the
// next scheduled one is due, shared by every node. One key in a fenced
// store (cloud/lock/fence.ts) — NATS KV bucket `xsfleet_ops` by default,
// Redis when the lock service is Redis — written only under the data-ops
// lock (data-ops.ts) with that lock's fencing token, through the fenced
// compare-and-set: a backup whose holder paused past its lease cannot
// overwrite a newer holder's entries, and two writers never lose each
// other's (a version conflict re-reads and re-applies).
//
// Retention: when a scheduled backup is recorded, the oldest scheduled
// entries beyond `retain` leave the catalog in the same write; the caller
// deletes their directories only after that write succeeded. Backups taken
// by hand (`xsfleet backup`) are listed but never pruned.

import type { NatsConnection } from "@nats-io/transport-node";
import { StorageType, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { FencedKv, FencedRedis, fencedUpdate, type FencedStore, type RedisPool } from "../lock";

export const BACKUP_CATALOG_BUCKET = "xsfleet_ops";
export const BACKUP_CATALOG_KEY = "backups";
/** Entries kept in the catalog; older ones leave it (their directories stay). */
export const BACKUP_CATALOG_ENTRIES_MAX = 200;

export interface BackupRecord {
  /** Directory name, e.g. backup-2026-11-26T10-00-00-000Z-cloud-1. */
  readonly name: string;
  /** Absolute path on the node that wrote it. */
  readonly dir: string;
  /** Node (or operator host) that wrote it. */
  readonly node: string;
  readonly createdAtMs: number;
  /** Taken by the scheduled-backup singleton (subject to retention) or by hand. */
  readonly scheduled: boolean;
  readonly bytes: number;
  /** Sources in the backup: "control", bucket and stream names. */
  readonly sources: readonly string[];
}

export interface CatalogValue {
  readonly v: 1;
  /** Oldest first. */
  readonly backups: readonly BackupRecord[];
}

export type RecordResult = { ok: true; pruned: BackupRecord[] } | { ok: false; highestToken: number };

export class BackupCatalog {
  readonly #store: FencedStore<CatalogValue>;

  constructor(store: FencedStore<CatalogValue>) {
    this.#store = store;
  }

  /** The catalog in NATS KV; the bucket is created (with `replicas`) when missing. */
  static async openKv(nc: NatsConnection, replicas: number): Promise<BackupCatalog> {
    const existing = await BackupCatalog.bindKv(nc);
    if (existing) return existing;
    const kv = await new Kvm(nc).create(BACKUP_CATALOG_BUCKET, {
      history: 4, replicas, storage: StorageType.File, description: "xsfleet operations: backup catalog (fenced, see cloud/recovery/backup-catalog.ts)",
    });
    return new BackupCatalog(new FencedKv<CatalogValue>(kv));
  }

  /** The catalog in NATS KV if its bucket exists (an orchestration node creates it). */
  static async bindKv(nc: NatsConnection): Promise<BackupCatalog | undefined> {
    try {
      await (await jetstreamManager(nc)).streams.info(`KV_${BACKUP_CATALOG_BUCKET}`);
    } catch {
      return undefined;
    }
    return new BackupCatalog(new FencedKv<CatalogValue>(await new Kvm(nc).open(BACKUP_CATALOG_BUCKET, { bindOnly: true })));
  }

  static redis(pool: RedisPool, keyPrefix: string): BackupCatalog {
    return new BackupCatalog(new FencedRedis<CatalogValue>({ pool, keyPrefix }));
  }

  async list(): Promise<readonly BackupRecord[]> {
    return (await this.#store.read(BACKUP_CATALOG_KEY))?.value.backups ?? [];
  }

  async latestScheduled(): Promise<BackupRecord | undefined> {
    return (await this.list()).filter((b) => b.scheduled).at(-1);
  }

  /**
   * Adds `rec` under the data-ops lock's `token`; a scheduled record prunes
   * scheduled entries beyond `retain`. Refused (ok false) when a newer
   * token has written: the caller lost the lock and must not delete anything.
   */
  async record(token: number, writer: string, rec: BackupRecord, retain: number | undefined): Promise<RecordResult> {
    if (retain !== undefined && (!Number.isSafeInteger(retain) || retain < 1)) throw new RangeError(`retain must be a positive integer, got ${retain}`);
    let pruned: BackupRecord[] = [];
    const r = await fencedUpdate(this.#store, BACKUP_CATALOG_KEY, token, writer, (cur) => {
      const all = [...(cur?.backups ?? []), rec].sort((a, b) => a.createdAtMs - b.createdAtMs);
      const scheduled = all.filter((b) => b.scheduled);
      const drop = new Set(rec.scheduled && retain !== undefined ? scheduled.slice(0, Math.max(0, scheduled.length - retain)) : []);
      let kept = all.filter((b) => !drop.has(b));
      if (kept.length > BACKUP_CATALOG_ENTRIES_MAX) kept = kept.slice(kept.length - BACKUP_CATALOG_ENTRIES_MAX);
      pruned = [...drop];
      return { v: 1 as const, backups: kept };
    });
    return r.ok ? { ok: true, pruned } : { ok: false, highestToken: r.highestToken };
  }
}
