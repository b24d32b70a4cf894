// Contracts of the failure-detection capability. Implementations live apart
// (timeout-detector.ts, phi-accrual.ts, swim/); the heartbeat manager selects
// one per class of node through `DetectorConfig`.
//
// Time is always an explicit integer millisecond input supplied by the caller
// (monotonic clock); randomness is injected. Nothing here owns a timer.

export type NodeId = string;

/** Result of feeding one heartbeat arrival to a detector. */
export const HeartbeatOutcome = {
  /** Recorded (first heartbeat of a node, or a new inter-arrival sample). */
  Accepted: "accepted",
  /** Recorded as the latest arrival, but not used as a sample (Akka: the first
   * heartbeat after a suspected failure would skew the statistics). */
  AcceptedNotSampled: "accepted-not-sampled",
  /** Arrival older than the latest one seen for that node: ignored. */
  RejectedStale: "rejected-stale",
  /** A new node while `nodesMax` nodes are already monitored: ignored. */
  RejectedNodesMax: "rejected-nodes-max",
} as const;
export type HeartbeatOutcome = (typeof HeartbeatOutcome)[keyof typeof HeartbeatOutcome];

/**
 * One failure detector monitoring many nodes. A node that never sent a
 * heartbeat is not monitored and counts as available (as in Akka): whoever
 * expects a first heartbeat (the heartbeat manager) applies its own deadline.
 */
export interface FailureDetector {
  readonly kind: DetectorKind;
  /** Record a heartbeat arrival from `nodeId` at `nowMs`. */
  heartbeat(nodeId: NodeId, nowMs: number): HeartbeatOutcome;
  /** False once the suspicion level reaches the detector's threshold. */
  isAvailable(nodeId: NodeId, nowMs: number): boolean;
  /** Detector-specific suspicion level, 0 = healthy, non-decreasing with the
   * time since the last heartbeat (phi for phi-accrual, elapsed/timeout for
   * the timeout detector). `threshold` is where `isAvailable` flips. */
  suspicion(nodeId: NodeId, nowMs: number): number;
  readonly threshold: number;
  /** True once at least one heartbeat of `nodeId` was recorded. */
  isMonitoring(nodeId: NodeId): boolean;
  /** Time of the latest recorded heartbeat, or undefined. */
  lastHeartbeatMs(nodeId: NodeId): number | undefined;
  /** Forget a node (decommissioned, or left the cluster). */
  remove(nodeId: NodeId): boolean;
  /** Number of monitored nodes (always <= nodesMax). */
  readonly size: number;
}

export const DetectorKind = {
  Timeout: "timeout",
  PhiAccrual: "phi-accrual",
} as const;
export type DetectorKind = (typeof DetectorKind)[keyof typeof DetectorKind];

export interface TimeoutDetectorConfig {
  kind: typeof DetectorKind.Timeout;
  /** A node is unavailable once `timeoutMs` elapsed since its last heartbeat. */
  timeoutMs: number;
  nodesMax: number;
}

export interface PhiAccrualConfig {
  kind: typeof DetectorKind.PhiAccrual;
  /** Akka `threshold`: phi at which a node is considered unavailable. */
  threshold: number;
  /** Akka `max-sample-size`: window of inter-arrival samples per node. */
  maxSampleSize: number;
  /** Akka `min-std-deviation`, in ms. */
  minStdDeviationMs: number;
  /** Akka `acceptable-heartbeat-pause`, in ms: added to the mean. */
  acceptableHeartbeatPauseMs: number;
  /** Akka `heartbeat-interval`: bootstraps the statistics on the first heartbeat. */
  firstHeartbeatEstimateMs: number;
  nodesMax: number;
}

export type DetectorConfig = TimeoutDetectorConfig | PhiAccrualConfig;

