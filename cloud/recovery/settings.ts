// Settings of the orchestration role (config file section `orchestration`,
// flags --lease-ttl-ms, --backup-dir, --backup-interval-ms, --backup-retain):
// singleton leases and scheduled backups. Read and checked here;
// cloud/node/config.ts composes them with the rest of the node's settings.
import type { IntRanges, SettingsReader } from "../base";

export interface BackupSchedule {
  /** Directory the backups go to; "" = no scheduled backups. */
  dir: string;
  intervalMs: number;
  /** Scheduled backups kept (older ones are deleted). */
  retain: number;
}

export interface OrchestrationSettings {
  /** TTL of singleton leases: failover after a holder dies takes about this long. */
  leaseTtlMs: number;
  /** Cloud-node heartbeats (membership, failure detection). */
  heartbeatIntervalMs: number;
  backup: BackupSchedule;
}

export function defaultOrchestrationSettings(): OrchestrationSettings {
  return { leaseTtlMs: 10_000, heartbeatIntervalMs: 1_000, backup: { dir: "", intervalMs: 3_600_000, retain: 24 } };
}

const ranges: IntRanges<Omit<OrchestrationSettings, "backup">> = Object.freeze({
  leaseTtlMs: [500, 600_000],
  heartbeatIntervalMs: [50, 60_000],
});
const backupRanges: IntRanges<Omit<BackupSchedule, "dir">> = Object.freeze({
  intervalMs: [1_000, 7 * 24 * 3_600_000],
  retain: [1, 1000],
});

/** The `orchestration` section; problems go to the reader. */
export function readOrchestrationSettings(c: SettingsReader, raw: Record<string, unknown>): OrchestrationSettings {
  const d = defaultOrchestrationSettings();
  const b = c.obj("orchestration.backup", raw.backup);
  const s: OrchestrationSettings = {
    leaseTtlMs: c.int("orchestration.leaseTtlMs", raw.leaseTtlMs, d.leaseTtlMs, ...ranges.leaseTtlMs),
    heartbeatIntervalMs: c.int("orchestration.heartbeatIntervalMs", raw.heartbeatIntervalMs, d.heartbeatIntervalMs, ...ranges.heartbeatIntervalMs),
    backup: {
      dir: c.str("orchestration.backup.dir", b.dir, d.backup.dir),
      intervalMs: c.int("orchestration.backup.intervalMs", b.intervalMs, d.backup.intervalMs, ...backupRanges.intervalMs),
      retain: c.int("orchestration.backup.retain", b.retain, d.backup.retain, ...backupRanges.retain),
    },
  };
  if (s.heartbeatIntervalMs * 2 > s.leaseTtlMs) c.fail("orchestration.leaseTtlMs", `must be at least twice orchestration.heartbeatIntervalMs (${s.heartbeatIntervalMs})`);
  return s;
}
