// Settings of the analytics role: the window operators every partition runs,
// the bounds of its state and of its checkpoints, and the timing of actions.
// The decode and dedup limits and the partition count are ingest's
// (cloud/ingest/settings.ts): analytics reads the same stream with the same
// rules, so it takes them from the ingest section rather than a copy.
import type { WindowOperatorConfig } from "../../shared/stream";

/** Most devices whose dedup record one partition keeps (least recently seen dropped, counted). */
export const dedupDevicesMaxDefault = 100_000;
/** Largest checkpoint (JSON bytes) one partition writes; NATS' default max payload is 1 MiB. */
export const checkpointBytesMax = 900 * 1024;
/** Most window operators one node runs. */
export const operatorsMax = 16;

export interface AnalyticsSettings {
  /** Lease of a partition's analytics owner on the control plane. */
  ownershipTtlMs: number;
  /** Messages pulled per batch; one checkpoint per batch. */
  batchMax: number;
  /** Acks wait this long before the server redelivers (the worker skips what it processed: see docs/analytics.md). */
  ackWaitMs: number;
  /** Devices whose dedup record a partition keeps. */
  dedupDevicesMax: number;
  /** A transition's actions: webhook timeout, attempts and first backoff. */
  webhookTimeoutMs: number;
  webhookAttemptsMax: number;
  webhookBackoffMs: number;
  /** Deadline of commands sent by rules. */
  commandTimeoutMs: number;
  /** Results and alert transitions the streams drop as duplicates within this window (must outlast a takeover). */
  duplicateWindowMs: number;
  /** A partition without messages ticks its rule engine this often at the wall clock (absence rules). These
   *  ticks are the one input not in the stream: outputs they cause are not reproduced by a replay (docs/analytics.md). */
  idleTickMs: number;
  /** Stream and bucket replicas. */
  replicas: number;
}

export const defaultAnalyticsSettings: AnalyticsSettings = {
  ownershipTtlMs: 6_000,
  batchMax: 256,
  ackWaitMs: 30_000,
  dedupDevicesMax: dedupDevicesMaxDefault,
  webhookTimeoutMs: 2_000,
  webhookAttemptsMax: 3,
  webhookBackoffMs: 250,
  commandTimeoutMs: 60_000,
  duplicateWindowMs: 600_000,
  idleTickMs: 1_000,
  replicas: 1,
};

/** The window operators a node runs unless configured otherwise: per device and channel,
 *  one-minute tumbling windows with percentiles, late points accepted for 10 minutes. */
export const defaultOperators: readonly WindowOperatorConfig[] = Object.freeze([
  { id: "1m", spec: { kind: "tumbling", sizeMs: 60_000 }, allowedLatenessMs: 10 * 60_000, aggregates: ["p50", "p90", "p99"] },
]);
