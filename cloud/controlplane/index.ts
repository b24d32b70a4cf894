// Public entry of the Raft control plane: a replica (RaftNode + NATS
// service, main.ts is its process) and the client every other process uses.
export { ControlClient, ControlTimeoutError, type ControlClientOptions } from "./client";
export { RaftNode, NodeError, NODE_LIMITS, type RaftNodeOptions, type NodeStatus, type NodeOutcome, type ProposeOptions } from "./raft-node";
export { StageTimings, STAGES, LEADER_STAGES, STAGE_WINDOW, type Stage, type StageStats, type StageSummary, type ProposalClock } from "./stage-timings";
export { SnapshotExport, SNAPSHOT_EXPORT_LIMITS, type SnapshotInfo } from "./snapshot-export";
export {
  startControlService, COMMAND_ENDPOINTS, ADMIN_ENDPOINTS, SNAPSHOT_ENDPOINTS, ServiceError, HEADER_CLIENT_ID, HEADER_SEQ, CONTROL_QUEUE, CONTROL_SERVICE_NAME,
  type ControlService, type ControlServiceOptions, type CommandEndpoint, type AdminEndpoint, type SnapshotEndpoint, type Endpoint, type NodeFailure,
} from "./service";
