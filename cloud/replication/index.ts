// Public entry of replication modes per data set (docs/data-plane.md "Replication").
export {
  DataSet, defaultReplication, kvDataSets, mirrorStreamName, modeFromDescription, planReplication, replicationDescription, replicationModes, replicationProblem,
  ReplicationMode, semiSyncTimeoutDefaultMs, semiSyncTimeoutMaxMs, type EffectiveReplication, type ReplicationPlan,
} from "./modes";
export { SemiSyncGate, semiSyncWaitersMax, type GateOutcome, type GateStats } from "./semi-sync";
export { SemiSyncWriter, type SemiSyncWriterOptions } from "./semi-sync-writer";
export { applyPlan, clusterServers, ensureMirror, type StreamSpec } from "./streams";
export { formatReplication, replicationStatus, type ReplicationStatus } from "./status";
