// Replication modes and the data sets they apply to (docs/data-plane.md
// "Replication"). Pure: a data set, the mode asked for and the cluster's
// replica count in; the JetStream layout that gives that mode out.
//
//   sync       one stream with num_replicas = R (R3 in a 3-server cluster): a
//              publish is acknowledged after a quorum of the stream's Raft
//              group stored it; a leader's loss loses nothing acknowledged.
//   async      an R1 primary (acknowledged by the server that holds it) and
//              an R1 mirror stream placed on another server that copies it
//              later; loss on the primary's loss is bounded by the mirror's lag.
//   semi-sync  the async layout, but the writer (SemiSyncGate) waits until
//              the mirror holds the message's sequence, at most a timeout;
//              past it the gate degrades to async (counted) until the mirror
//              has caught up again.
//
// With one server (R = 1) there is nothing to replicate to: every data set
// is "single". KV buckets (device state, control-plane buckets) are sync
// only: a compare-and-set is only safe against one quorum-replicated stream.

export const ReplicationMode = {
  Sync: "sync",
  SemiSync: "semi-sync",
  Async: "async",
} as const;
export type ReplicationMode = (typeof ReplicationMode)[keyof typeof ReplicationMode];
export const replicationModes: readonly ReplicationMode[] = Object.freeze(Object.values(ReplicationMode));

/** What a data set actually runs with: its mode, or "single" on a one-server deployment. */
export type EffectiveReplication = ReplicationMode | "single";

export const DataSet = {
  /** Device uplinks XSF_UP: a device's PUBACK promises the message is kept. */
  Uplinks: "uplinks",
  /** Device state KV (dedup watermarks, counters, presence). */
  DeviceState: "device-state",
  /** Control-plane data in JetStream: commands, registry (kv mode), backup catalog buckets
   *  (the Raft control plane replicates itself: a majority of its 3 replicas). */
  ControlPlane: "control-plane",
  /** Decoded telemetry history XSF_HIST. */
  History: "history",
  /** Analytics results: the integrator outputs XSF_OUT (derived, can be recomputed from history). */
  Analytics: "analytics",
} as const;
export type DataSet = (typeof DataSet)[keyof typeof DataSet];

/** Data sets stored as KV buckets: sync only. */
export const kvDataSets: ReadonlySet<DataSet> = new Set([DataSet.DeviceState, DataSet.ControlPlane]);
/** Data sets whose mode is fixed to sync by a promise made elsewhere (the PUBACK). */
const syncOnly: ReadonlySet<DataSet> = new Set([...kvDataSets, DataSet.Uplinks]);

/** Defaults and why (docs/data-plane.md "Replication"). */
export const defaultReplication: Readonly<Record<DataSet, ReplicationMode>> = Object.freeze({
  // The device deletes a message from its outbox on the PUBACK: losing it then is silent data loss.
  uplinks: ReplicationMode.Sync,
  // Dedup watermarks: a lost write would re-apply or drop device messages; CAS needs one quorum.
  "device-state": ReplicationMode.Sync,
  // Leases, commands, registry: correctness state, small and rarely written.
  "control-plane": ReplicationMode.Sync,
  // History and analytics results could give up some durability for latency, but ingest writes
  // both before it acks the device's uplink: with an R1 primary (async, semi-sync) the loss of
  // that primary's server stalls ingest until the server is back (nats-server 2.9 cannot promote
  // a mirror; test/cloud/ingest/cluster.test.ts dead-letters under it). Sync by default; semi-sync
  // (history) and async (analytics) are one setting away where the write latency matters more
  // (bench:replication measures the trade).
  history: ReplicationMode.Sync,
  analytics: ReplicationMode.Sync,
});

/** How long a semi-sync write waits for the mirror before degrading. */
export const semiSyncTimeoutDefaultMs = 2_000;
export const semiSyncTimeoutMaxMs = 60_000;

export interface ReplicationPlan {
  dataSet: DataSet;
  mode: ReplicationMode;
  effective: EffectiveReplication;
  /** num_replicas of the primary stream. */
  primaryReplicas: number;
  /** Whether a mirror stream on another server copies the primary. */
  mirror: boolean;
}

/** The layout of `dataSet` in `mode` on a cluster whose streams may have up to `clusterReplicas` replicas. */
export function planReplication(dataSet: DataSet, mode: ReplicationMode, clusterReplicas: number): ReplicationPlan {
  if (!Number.isInteger(clusterReplicas) || clusterReplicas < 1 || clusterReplicas > 5) throw new Error(`replicas must be 1..5, got ${clusterReplicas}`);
  if (mode !== ReplicationMode.Sync && syncOnly.has(dataSet)) {
    throw new Error(`replication of ${dataSet} must be sync (${kvDataSets.has(dataSet) ? "a KV bucket: compare-and-set needs one quorum-replicated stream" : "devices delete a message on its PUBACK"}), got ${mode}`);
  }
  if (clusterReplicas === 1) return { dataSet, mode, effective: "single", primaryReplicas: 1, mirror: false };
  if (mode === ReplicationMode.Sync) return { dataSet, mode, effective: mode, primaryReplicas: clusterReplicas, mirror: false };
  return { dataSet, mode, effective: mode, primaryReplicas: 1, mirror: true };
}

/** The mirror stream of a primary. */
export function mirrorStreamName(primary: string): string {
  return `${primary}_MIRROR`;
}

const descriptionPattern = /\bxsf-replication=(sync|semi-sync|async|single)\b/;

/** Stream description carrying the mode, so a status reader sees what the writer set up. */
export function replicationDescription(p: ReplicationPlan): string {
  return `xsfleet ${p.dataSet}; xsf-replication=${p.effective}`;
}

export function modeFromDescription(description: string | undefined): EffectiveReplication | null {
  const m = descriptionPattern.exec(description ?? "");
  return m ? (m[1] as EffectiveReplication) : null;
}

/** Checks a mode setting; returns the problem or null. */
export function replicationProblem(key: string, dataSet: DataSet, v: unknown): string | null {
  if (typeof v !== "string" || !(replicationModes as readonly string[]).includes(v)) return `${key}: expected one of ${replicationModes.join(", ")}, got ${JSON.stringify(v)}`;
  try {
    planReplication(dataSet, v as ReplicationMode, 3);
    return null;
  } catch (e) {
    return `${key}: ${(e as Error).message}`;
  }
}
