// Public entry of the failure-detection capability.
export * from "./types";
export { TimeoutDetector } from "./timeout-detector";
export { PhiAccrualDetector, HeartbeatHistory, phiOf, AKKA_CLUSTER_DEFAULTS } from "./phi-accrual";
export { createDetector, describeDetector } from "./detectors";
export {
  HeartbeatManager,
  Liveness,
  HeartbeatRejection,
  RegisterRejection,
  type HeartbeatManagerConfig,
  type NodeClassConfig,
  type LivenessEvent,
} from "./heartbeat-manager";
