// The simplest failure detector: a node is unavailable once `timeoutMs`
// elapsed since its last heartbeat. It is the baseline the benchmark compares
// phi-accrual against, and what battery devices with sparse heartbeats use.

import { assertTimeMs, DETECTOR_NODES_MAX, requireConfig } from "./limits";
import {
  DetectorKind,
  HeartbeatOutcome,
  type FailureDetector,
  type NodeId,
  type TimeoutDetectorConfig,
} from "./types";

export function validateTimeoutConfig(config: TimeoutDetectorConfig): void {
  requireConfig(Number.isSafeInteger(config.timeoutMs) && config.timeoutMs > 0, `timeoutMs must be a positive integer, got ${config.timeoutMs}`);
  requireConfig(
    Number.isSafeInteger(config.nodesMax) && config.nodesMax > 0 && config.nodesMax <= DETECTOR_NODES_MAX,
    `nodesMax must be an integer in 1..${DETECTOR_NODES_MAX}, got ${config.nodesMax}`,
  );
}

export class TimeoutDetector implements FailureDetector {
  readonly kind = DetectorKind.Timeout;
  /** isAvailable flips when elapsed / timeoutMs reaches 1. */
  readonly threshold = 1;
  readonly #timeoutMs: number;
  readonly #nodesMax: number;
  // Invariant: #lastMs.size <= #nodesMax.
  readonly #lastMs = new Map<NodeId, number>();

  constructor(config: TimeoutDetectorConfig) {
    validateTimeoutConfig(config);
    this.#timeoutMs = config.timeoutMs;
    this.#nodesMax = config.nodesMax;
  }

  get size(): number {
    return this.#lastMs.size;
  }

  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  heartbeat(nodeId: NodeId, nowMs: number): HeartbeatOutcome {
    assertTimeMs("TimeoutDetector.heartbeat", nowMs);
    const last = this.#lastMs.get(nodeId);
    if (last === undefined) {
      if (this.#lastMs.size >= this.#nodesMax) return HeartbeatOutcome.RejectedNodesMax;
      this.#lastMs.set(nodeId, nowMs);
      return HeartbeatOutcome.Accepted;
    }
    if (nowMs < last) return HeartbeatOutcome.RejectedStale;
    this.#lastMs.set(nodeId, nowMs);
    return HeartbeatOutcome.Accepted;
  }

  suspicion(nodeId: NodeId, nowMs: number): number {
    assertTimeMs("TimeoutDetector.suspicion", nowMs);
    const last = this.#lastMs.get(nodeId);
    if (last === undefined) return 0;
    return Math.max(0, nowMs - last) / this.#timeoutMs;
  }

  isAvailable(nodeId: NodeId, nowMs: number): boolean {
    return this.suspicion(nodeId, nowMs) < this.threshold;
  }

  isMonitoring(nodeId: NodeId): boolean {
    return this.#lastMs.has(nodeId);
  }

  lastHeartbeatMs(nodeId: NodeId): number | undefined {
    return this.#lastMs.get(nodeId);
  }

  remove(nodeId: NodeId): boolean {
    return this.#lastMs.delete(nodeId);
  }
}
