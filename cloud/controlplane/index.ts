// Public entry of the Raft control plane: a replica (RaftNode + NATS
// service, main.ts is its process) and the client every other process uses.
export { ControlClient, ControlTimeoutError, type ControlClientOptions } from "./client";
export { RaftNode, NodeError, NODE_LIMITS, type RaftNodeOptions, type NodeStatus, type NodeOutcome } from "./raft-node";
export {
  startControlService, COMMAND_ENDPOINTS, ADMIN_ENDPOINTS, ServiceError, HEADER_CLIENT_ID, HEADER_SEQ, CONTROL_QUEUE, CONTROL_SERVICE_NAME,
  type ControlService, type ControlServiceOptions, type CommandEndpoint, type AdminEndpoint, type Endpoint, type NodeFailure,
} from "./service";
