// Scheduled backups as singleton work (singletons.ts): the node holding the
// `singleton/backup` lease takes a backup (data-ops.ts: the control plane's
// snapshot and the KV buckets, under the data-ops lock, recorded in the
// catalog) every `intervalMs`, keeping the newest `retain`.
//
// When the next one is due comes from the catalog, shared by all nodes: a
// new holder after a failover continues the schedule instead of starting
// it over (or taking one at once). A backup that fails is a crash of the
// work: the supervisor retries it with backoff, and after repeated failures
// the node gives the lease up so another node (another disk, another
// network path) takes over. Another backup or restore holding the data-ops
// lock is not a failure: the run waits for it and tries again.

import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ControlClient } from "../controlplane";
import type { DistributedLock } from "../lock";
import type { RecoveryHistory } from "../membership";
import type { BackupCatalog } from "./backup-catalog";
import { DataOpsBusyError, backupName, existingBuckets, runBackup, type BackupRunResult } from "./data-ops";
import type { BackupSchedule } from "./settings";
import { loopHandle, sleepUnlessAborted, type SingletonWork } from "./singletons";

export const BACKUP_LEASE = "singleton/backup";
/** How long a scheduled run waits for another backup or restore before trying again later. */
const busyWaitMs = 10_000;

export interface ScheduledBackupOptions {
  nc: NatsConnection;
  nodeId: string;
  /** The control plane to snapshot; null when the cluster runs without one. */
  control: ControlClient | null;
  /** The data-ops lock service (the node's lock). */
  lock: DistributedLock;
  catalog: BackupCatalog;
  schedule: BackupSchedule;
  history?: RecoveryHistory;
  /** Each backup taken by this node (for logs and tests). */
  onBackup?: (r: BackupRunResult) => void;
  log?: (msg: string) => void;
}

export function scheduledBackupWork(o: ScheduledBackupOptions): SingletonWork {
  if (o.schedule.dir === "") throw new Error("scheduled backups need a directory (orchestration.backup.dir)");
  const dir = path.resolve(o.schedule.dir);
  return {
    lease: BACKUP_LEASE,
    start: async () => loopHandle(async (signal) => {
      const stopped = (): void => { if (signal.aborted) throw new Error("scheduled backup stopped"); };
      for (;;) {
        const last = await o.catalog.latestScheduled();
        const dueMs = last ? last.createdAtMs + o.schedule.intervalMs : Date.now();
        if (!(await sleepUnlessAborted(dueMs - Date.now(), signal))) return;
        const atMs = Date.now();
        try {
          const r = await runBackup({
            nc: o.nc, dir: path.join(dir, backupName(atMs, o.nodeId)), control: o.control, kvBuckets: await existingBuckets(o.nc),
            lock: o.lock, lockWaitMs: busyWaitMs, writer: o.nodeId, catalog: o.catalog, scheduled: { retain: o.schedule.retain },
            checkpoint: stopped, ...(o.history ? { history: o.history } : {}), ...(o.log ? { log: o.log } : {}),
          });
          o.log?.(`scheduled backup ${r.record.name}: ${r.record.bytes} bytes of ${r.record.sources.join(", ")} in ${Date.now() - atMs} ms` +
            (r.pruned.length ? `; retention removed ${r.pruned.length}` : ""));
          o.onBackup?.(r);
        } catch (e) {
          if (signal.aborted) return;
          if (!(e instanceof DataOpsBusyError)) throw e;
          o.log?.(`scheduled backup waits: ${e.message}`);
          if (!(await sleepUnlessAborted(busyWaitMs, signal))) return;
        }
      }
    }),
  };
}
