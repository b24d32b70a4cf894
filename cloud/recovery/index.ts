// Public entry of the recovery strategies: failover (leases + fencing),
// restart (supervisor with backoff), singleton work (both together), data
// restore (backup/restore, scheduled backups), and service replacement
// (placement on reported resources).
export * from "./types";
export { FailoverCore, FailoverState, failoverConfig, type FailoverConfig, type FailoverAction, type DeactivateReason } from "./failover";
export { RoleHolder, type RoleHolderOptions } from "./role-holder";
export { LeasedWorker, leaseReleaseWaitMs, leaseMarginRatio, type LeasedWorkerOptions, type WorkerDeactivateReason } from "./leased-worker";
export { RestartPolicy, restartConfig, backoffCeilingMs, DEFAULT_RESTART_CONFIG, type RestartConfig, type RestartDecision } from "./restart";
export { Supervisor, SupervisorState, type SupervisorOptions } from "./supervisor";
export {
  SingletonHost, loopHandle, sleepUnlessAborted, SINGLETON_RESTART_DEFAULTS, SINGLETONS_MAX, type SingletonWork, type SingletonHostOptions,
} from "./singletons";
export { backupCluster, restoreCluster, readBackup, digestKv, digestMessages, writeFileAtomic, type BackupManifest, type BackupFile, type RestoreReport } from "./backup";
export { BackupCatalog, BACKUP_CATALOG_BUCKET, BACKUP_CATALOG_KEY, type BackupRecord, type CatalogValue } from "./backup-catalog";
export {
  runBackup, runRestore, existingBuckets, backupName, DataOpsBusyError, DATA_OPS_LOCK, DATA_OPS_LOCK_TTL_MS, DEFAULT_BACKUP_BUCKETS,
  type BackupRun, type BackupRunResult, type RestoreRun, type Progress,
} from "./data-ops";
export { scheduledBackupWork, BACKUP_LEASE, type ScheduledBackupOptions } from "./scheduled-backup";
export { readOrchestrationSettings, defaultOrchestrationSettings, type OrchestrationSettings, type BackupSchedule } from "./settings";
export { placeRoles, scoreCandidate, bestFitting, isPlacement, DEFAULT_PLACEMENT_LIMITS, type Candidate, type RoleDemand, type PlacementLimits, type Placement, type PlacementResult } from "./placement";
export { planReplacements, replacementKey, ReplacementCoordinator, serveAssignments, COORDINATOR_LEASE, DEFAULT_ROLE_DEMAND, type ReplacementPlan, type AssignRequest } from "./replacement";
export { startRecoveryAgent, type RecoveryAgent, type RecoveryAgentOptions } from "./agent";
export {
  placeEdgeJobs, scoreEdgeCandidate, isEdgeAssignment, linkQuality, DEFAULT_EDGE_PLACEMENT_LIMITS,
  type EdgeJobSpec, type EdgeNode, type EdgeDemand, type EdgePlacementLimits, type EdgePlan, type EdgeAssignment, type EdgeUnplaced,
} from "./edge-placement";
export {
  EdgeScheduler, EDGE_SCHEDULER_LEASE, EDGE_JOB_DEMAND, edgeJobDef, edgeNodesOf, edgeJobsMax, edgeNodesMax,
  type EdgeJobDef, type EdgeSchedulerOptions, type EdgeJobsReply, type EdgeJobView, type EdgeDeviceView, type EdgeSchedulerStats,
} from "./edge-scheduler";
