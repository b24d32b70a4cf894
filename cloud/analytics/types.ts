// Contracts of the analytics role: its statistics, the JSON records it
// publishes (window results, alert events) and the alert lifecycle record.
import type { ProcessorStats } from "./processor";

export interface AnalyticsStats {
  nodeId: string;
  partitionsOwned: number[];
  partitionsAcquired: number;
  partitionsReleased: number;
  /** Activations restarted from their checkpoint after a failed batch. */
  restarts: number;
  checkpoints: number;
  /** Checkpoints refused by the fence (a newer owner): the partition was given up. */
  checkpointsRefused: number;
  /** Messages already in the checkpointed state (replay overlap, redelivery). */
  skipped: number;
  /** Messages pending on the last consumer this node read. */
  lag: number;
  /** Totals of this node's processing (counters; replayed messages count again). */
  messages: number;
  points: number;
  duplicates: number;
  rejected: number;
  lateDropped: number;
  /** Per owned partition, the processor's counters of its current activation. */
  processors: Record<number, ProcessorStats>;
  resultsPublished: number;
  /** Results the stream had already (a replay's copies, dropped by Nats-Msg-Id). */
  resultsDuplicate: number;
  transitionsPublished: number;
  transitionsDuplicate: number;
  alertsRaised: number;
  alertsCleared: number;
  actionsRun: number;
  actionsFailed: number;
  webhookAttempts: number;
  /** Rule sets applied from the control plane. */
  rulesUpdates: number;
}

export function emptyAnalyticsStats(nodeId: string): AnalyticsStats {
  return {
    nodeId, partitionsOwned: [], partitionsAcquired: 0, partitionsReleased: 0, restarts: 0, checkpoints: 0, checkpointsRefused: 0,
    skipped: 0, lag: 0, messages: 0, points: 0, duplicates: 0, rejected: 0, lateDropped: 0, processors: {}, resultsPublished: 0, resultsDuplicate: 0, transitionsPublished: 0, transitionsDuplicate: 0,
    alertsRaised: 0, alertsCleared: 0, actionsRun: 0, actionsFailed: 0, webhookAttempts: 0, rulesUpdates: 0,
  };
}

/** Alert lifecycle: raised → acknowledged → cleared (acknowledging is optional). */
export const AlertState = Object.freeze({ Raised: "raised", Acknowledged: "acknowledged", Cleared: "cleared" } as const);
export type AlertState = (typeof AlertState)[keyof typeof AlertState];

/** One alert (one episode of one rule on one key), as kept in XSF_ALERT_STATE. */
export interface AlertRecord {
  ruleId: string;
  key: string;
  episode: number;
  state: AlertState;
  reason: string;
  value?: number;
  raisedAtMs: number;
  ackedAtMs?: number;
  ackedBy?: string;
  clearedAtMs?: number;
  /** Transition ids (the Nats-Msg-Id of each event). */
  raiseId: string;
  clearId?: string;
}

/** What XSF_ALERTS carries on `xsfleet.v1.alerts.<rule>.<key>`. */
export interface AlertEvent {
  id: string;
  ruleId: string;
  key: string;
  episode: number;
  state: AlertState;
  t: number;
  reason: string;
  value?: number;
  by?: string;
}
