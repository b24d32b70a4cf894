// Settings of the orchestration role (config file section `orchestration`,
// flags --lease-ttl-ms, --backup-dir, --backup-interval-ms, --backup-retain):
// singleton leases and scheduled backups. Read and checked here;
// cloud/node/config.ts composes them with the rest of the node's settings.
import type { IntRanges, SettingsReader } from "../base";
import { edgeJobDef, edgeJobsMax, type EdgeJobDef } from "./edge-scheduler";

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
  /** Edge jobs the scheduler places on gateway/processing devices (docs/edge.md, "Edge scheduling"). */
  edge: EdgeSettings;
}

export interface EdgeSettings {
  /** Flag --edge-jobs: a JSON array of { id, spec, sources? } (config file: the array itself); none = no edge scheduler. */
  jobs: EdgeJobDef[];
  /** Planning interval: part of the bound on moving a failed device's jobs. */
  tickMs: number;
}

export function defaultOrchestrationSettings(): OrchestrationSettings {
  return { leaseTtlMs: 10_000, heartbeatIntervalMs: 1_000, backup: { dir: "", intervalMs: 3_600_000, retain: 24 }, edge: { jobs: [], tickMs: 1_000 } };
}

/** The edge job definitions: a JSON string (flag, environment) or an array (config file). */
function readEdgeJobs(c: SettingsReader, v: unknown): EdgeJobDef[] {
  if (v === undefined || v === "") return [];
  let raw: unknown = v;
  if (typeof v === "string") {
    try {
      raw = JSON.parse(v);
    } catch {
      c.fail("orchestration.edge.jobs", "is not JSON");
      return [];
    }
  }
  if (!Array.isArray(raw) || raw.length > edgeJobsMax) {
    c.fail("orchestration.edge.jobs", `must be an array of at most ${edgeJobsMax} { id, spec, sources? }`);
    return [];
  }
  const out: EdgeJobDef[] = [];
  raw.forEach((j: unknown, i) => {
    const o = (typeof j === "object" && j !== null ? j : {}) as { id?: unknown; spec?: unknown; sources?: unknown };
    const sources = Array.isArray(o.sources) && o.sources.every((s) => typeof s === "string") ? (o.sources as string[]) : o.sources === undefined ? [] : null;
    if (typeof o.id !== "string" || typeof o.spec !== "string" || sources === null) {
      c.fail(`orchestration.edge.jobs[${i}]`, "must be { id: string, spec: string, sources?: string[] }");
      return;
    }
    try {
      out.push(edgeJobDef({ id: o.id, spec: o.spec, sources }));
    } catch (e) {
      c.fail(`orchestration.edge.jobs[${i}]`, (e as Error).message);
    }
  });
  return out;
}

const ranges: IntRanges<Omit<OrchestrationSettings, "backup" | "edge">> = Object.freeze({
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
  const e = c.obj("orchestration.edge", raw.edge);
  const s: OrchestrationSettings = {
    leaseTtlMs: c.int("orchestration.leaseTtlMs", raw.leaseTtlMs, d.leaseTtlMs, ...ranges.leaseTtlMs),
    heartbeatIntervalMs: c.int("orchestration.heartbeatIntervalMs", raw.heartbeatIntervalMs, d.heartbeatIntervalMs, ...ranges.heartbeatIntervalMs),
    backup: {
      dir: c.str("orchestration.backup.dir", b.dir, d.backup.dir),
      intervalMs: c.int("orchestration.backup.intervalMs", b.intervalMs, d.backup.intervalMs, ...backupRanges.intervalMs),
      retain: c.int("orchestration.backup.retain", b.retain, d.backup.retain, ...backupRanges.retain),
    },
    edge: { jobs: readEdgeJobs(c, e.jobs), tickMs: c.int("orchestration.edge.tickMs", e.tickMs, d.edge.tickMs, 100, 60_000) },
  };
  if (s.heartbeatIntervalMs * 2 > s.leaseTtlMs) c.fail("orchestration.leaseTtlMs", `must be at least twice orchestration.heartbeatIntervalMs (${s.heartbeatIntervalMs})`);
  return s;
}
