// Phi-accrual failure detector (Hayashibara et al., "The phi accrual failure
// detector", SRDS 2004) computed exactly as Akka's PhiAccrualFailureDetector:
//
//   phi = -log10(1 - F(timeSinceLastHeartbeat))
//
// where F is the CDF of a normal distribution whose mean is the mean
// inter-arrival time plus the acceptable heartbeat pause, and whose standard
// deviation is the window's, floored at minStdDeviation. F is Akka's logistic
// approximation 1 / (1 + exp(-y (1.5976 + 0.070566 y^2))) (error 0.00014 at
// +-3.16), evaluated on the side that keeps precision for large y.
//
// Like Akka: the first heartbeat bootstraps the window with two samples
// (estimate -+ estimate/4); the first heartbeat after a suspected failure is
// not sampled (a long pause would skew the statistics); nodes with no
// heartbeat yet have phi 0.

import { assertTimeMs, DETECTOR_NODES_MAX, PHI_SAMPLE_SIZE_MAX, requireConfig } from "./limits";
import {
  DetectorKind,
  HeartbeatOutcome,
  type FailureDetector,
  type NodeId,
  type PhiAccrualConfig,
} from "./types";

/** Akka cluster defaults (akka.cluster.failure-detector, reference.conf). */
export const AKKA_CLUSTER_DEFAULTS: PhiAccrualConfig = Object.freeze({
  kind: DetectorKind.PhiAccrual,
  threshold: 8,
  maxSampleSize: 1000,
  minStdDeviationMs: 100,
  acceptableHeartbeatPauseMs: 3000,
  firstHeartbeatEstimateMs: 1000,
  nodesMax: 10_000,
});

export function validatePhiConfig(config: PhiAccrualConfig): void {
  // The same requirements as Akka's constructor, plus our own limits.
  requireConfig(config.threshold > 0, `threshold must be > 0, got ${config.threshold}`);
  requireConfig(
    Number.isSafeInteger(config.maxSampleSize) && config.maxSampleSize > 0 && config.maxSampleSize <= PHI_SAMPLE_SIZE_MAX,
    `maxSampleSize must be an integer in 1..${PHI_SAMPLE_SIZE_MAX}, got ${config.maxSampleSize}`,
  );
  requireConfig(config.minStdDeviationMs > 0, `minStdDeviationMs must be > 0, got ${config.minStdDeviationMs}`);
  requireConfig(
    Number.isSafeInteger(config.acceptableHeartbeatPauseMs) && config.acceptableHeartbeatPauseMs >= 0,
    `acceptableHeartbeatPauseMs must be an integer >= 0, got ${config.acceptableHeartbeatPauseMs}`,
  );
  requireConfig(
    Number.isSafeInteger(config.firstHeartbeatEstimateMs) && config.firstHeartbeatEstimateMs > 0,
    `firstHeartbeatEstimateMs must be an integer > 0, got ${config.firstHeartbeatEstimateMs}`,
  );
  requireConfig(
    Number.isSafeInteger(config.nodesMax) && config.nodesMax > 0 && config.nodesMax <= DETECTOR_NODES_MAX,
    `nodesMax must be an integer in 1..${DETECTOR_NODES_MAX}, got ${config.nodesMax}`,
  );
}

/**
 * phi for `timeDiffMs` elapsed, given the (pause-shifted) mean and standard
 * deviation. Akka's `phi(timeDiff, mean, stdDeviation)`.
 */
export function phiOf(timeDiffMs: number, meanMs: number, stdDeviationMs: number): number {
  const y = (timeDiffMs - meanMs) / stdDeviationMs;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  const phi = timeDiffMs > meanMs ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e));
  // -log10(1) is -0 in IEEE; report it as 0.
  return phi === 0 ? 0 : phi;
}

/**
 * Bounded window of inter-arrival samples with running sums, Akka's
 * HeartbeatHistory. Samples are integer ms, so the sums are exact.
 */
export class HeartbeatHistory {
  readonly maxSampleSize: number;
  readonly #samples: Float64Array;
  // Invariant: 0 <= #count <= maxSampleSize; #head is the oldest sample.
  #head = 0;
  #count = 0;
  #sum = 0;
  #sumSquares = 0;

  constructor(maxSampleSize: number) {
    if (!(Number.isSafeInteger(maxSampleSize) && maxSampleSize >= 1 && maxSampleSize <= PHI_SAMPLE_SIZE_MAX)) {
      throw new Error(`HeartbeatHistory: maxSampleSize must be in 1..${PHI_SAMPLE_SIZE_MAX}, got ${maxSampleSize}`);
    }
    this.maxSampleSize = maxSampleSize;
    this.#samples = new Float64Array(maxSampleSize);
  }

  get count(): number {
    return this.#count;
  }

  add(intervalMs: number): void {
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 0) {
      throw new Error(`HeartbeatHistory.add: interval must be a non-negative integer, got ${intervalMs}`);
    }
    if (this.#count === this.maxSampleSize) {
      const oldest = this.#samples[this.#head] as number;
      this.#sum -= oldest;
      this.#sumSquares -= oldest * oldest;
      this.#head = (this.#head + 1) % this.maxSampleSize;
      this.#count--;
    }
    this.#samples[(this.#head + this.#count) % this.maxSampleSize] = intervalMs;
    this.#count++;
    this.#sum += intervalMs;
    this.#sumSquares += intervalMs * intervalMs;
    // Exactness of the running sums depends on this.
    if (!Number.isSafeInteger(this.#sumSquares)) {
      throw new Error(`HeartbeatHistory: sum of squares overflowed (interval ${intervalMs} ms)`);
    }
  }

  get mean(): number {
    if (this.#count === 0) throw new Error("HeartbeatHistory: mean of an empty history");
    return this.#sum / this.#count;
  }

  get variance(): number {
    const mean = this.mean;
    // Clamp the rounding residue of E[x^2] - E[x]^2 at 0.
    return Math.max(0, this.#sumSquares / this.#count - mean * mean);
  }

  get stdDeviation(): number {
    return Math.sqrt(this.variance);
  }
}

interface NodeState {
  history: HeartbeatHistory;
  lastMs: number;
}

export class PhiAccrualDetector implements FailureDetector {
  readonly kind = DetectorKind.PhiAccrual;
  readonly config: Readonly<PhiAccrualConfig>;
  // Invariant: #nodes.size <= config.nodesMax.
  readonly #nodes = new Map<NodeId, NodeState>();

  constructor(config: PhiAccrualConfig) {
    validatePhiConfig(config);
    this.config = Object.freeze({ ...config });
  }

  get threshold(): number {
    return this.config.threshold;
  }

  get size(): number {
    return this.#nodes.size;
  }

  heartbeat(nodeId: NodeId, nowMs: number): HeartbeatOutcome {
    assertTimeMs("PhiAccrualDetector.heartbeat", nowMs);
    const state = this.#nodes.get(nodeId);
    if (state === undefined) {
      if (this.#nodes.size >= this.config.nodesMax) return HeartbeatOutcome.RejectedNodesMax;
      this.#nodes.set(nodeId, { history: this.#bootstrapHistory(), lastMs: nowMs });
      return HeartbeatOutcome.Accepted;
    }
    if (nowMs < state.lastMs) return HeartbeatOutcome.RejectedStale;
    // Akka checks availability against the state before this heartbeat.
    const sampled = this.#phiOfState(state, nowMs) < this.config.threshold;
    if (sampled) state.history.add(nowMs - state.lastMs);
    state.lastMs = nowMs;
    return sampled ? HeartbeatOutcome.Accepted : HeartbeatOutcome.AcceptedNotSampled;
  }

  /** phi of `nodeId` at `nowMs`; 0 for a node with no heartbeat yet. */
  suspicion(nodeId: NodeId, nowMs: number): number {
    assertTimeMs("PhiAccrualDetector.suspicion", nowMs);
    const state = this.#nodes.get(nodeId);
    return state === undefined ? 0 : this.#phiOfState(state, nowMs);
  }

  phi(nodeId: NodeId, nowMs: number): number {
    return this.suspicion(nodeId, nowMs);
  }

  isAvailable(nodeId: NodeId, nowMs: number): boolean {
    return this.suspicion(nodeId, nowMs) < this.config.threshold;
  }

  isMonitoring(nodeId: NodeId): boolean {
    return this.#nodes.has(nodeId);
  }

  lastHeartbeatMs(nodeId: NodeId): number | undefined {
    return this.#nodes.get(nodeId)?.lastMs;
  }

  remove(nodeId: NodeId): boolean {
    return this.#nodes.delete(nodeId);
  }

  /** Mean and (floored) standard deviation the next phi would use. */
  statistics(nodeId: NodeId): { meanMs: number; stdDeviationMs: number; samples: number } | undefined {
    const state = this.#nodes.get(nodeId);
    if (state === undefined) return undefined;
    return {
      meanMs: state.history.mean,
      stdDeviationMs: Math.max(state.history.stdDeviation, this.config.minStdDeviationMs),
      samples: state.history.count,
    };
  }

  #phiOfState(state: NodeState, nowMs: number): number {
    const history = state.history;
    const stdDeviation = Math.max(history.stdDeviation, this.config.minStdDeviationMs);
    return phiOf(nowMs - state.lastMs, history.mean + this.config.acceptableHeartbeatPauseMs, stdDeviation);
  }

  #bootstrapHistory(): HeartbeatHistory {
    // Two samples with a rather high deviation, so that a node with a single
    // heartbeat still becomes unavailable. Akka divides Longs: floor.
    const mean = this.config.firstHeartbeatEstimateMs;
    const stdDeviation = Math.floor(mean / 4);
    const history = new HeartbeatHistory(this.config.maxSampleSize);
    history.add(mean - stdDeviation);
    history.add(mean + stdDeviation);
    return history;
  }
}
