// Public entry of the recovery strategies: failover (leases + fencing),
// restart (supervisor with backoff), data restore (backup/restore), and
// service replacement (placement on reported resources).
export * from "./types";
export { FailoverCore, FailoverState, failoverConfig, type FailoverConfig, type FailoverAction, type DeactivateReason } from "./failover";
export { RoleHolder, type RoleHolderOptions } from "./role-holder";
export { RestartPolicy, restartConfig, backoffCeilingMs, DEFAULT_RESTART_CONFIG, type RestartConfig, type RestartDecision } from "./restart";
export { Supervisor, SupervisorState, childProcessUnit, type SupervisorOptions } from "./supervisor";
export { backupCluster, restoreCluster, readBackup, digestKv, digestMessages, writeFileAtomic, type BackupManifest, type BackupFile, type RestoreReport } from "./backup";
export { placeRoles, scoreCandidate, isPlacement, DEFAULT_PLACEMENT_LIMITS, type Candidate, type RoleDemand, type PlacementLimits, type Placement, type PlacementResult } from "./placement";
export { planReplacements, replacementKey, ReplacementCoordinator, serveAssignments, COORDINATOR_LEASE, DEFAULT_ROLE_DEMAND, type ReplacementPlan, type AssignRequest } from "./replacement";
export { startRecoveryAgent, type RecoveryAgent, type RecoveryAgentOptions } from "./agent";
