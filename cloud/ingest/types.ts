// Contracts of the ingest role: the sources it consumes and its statistics.
// Its settings live in settings.ts; why a message is dead-lettered is part
// of the device-message contract (cloud/records).

import { Uplink } from "../../shared/topics";
import type { DlqReason } from "../records";

/** Stream groups the role consumes; each has one durable pull consumer. */
export const IngestSource = Object.freeze({
  Telemetry: "tele",
  Heartbeat: "hb",
  Presence: "presence",
  Counters: "ctr",
} as const);
export type IngestSource = (typeof IngestSource)[keyof typeof IngestSource];

const sourceOfKind: Readonly<Partial<Record<Uplink, IngestSource>>> = Object.freeze({
  [Uplink.Telemetry]: IngestSource.Telemetry,
  [Uplink.Heartbeat]: IngestSource.Heartbeat,
  [Uplink.Hello]: IngestSource.Presence,
  [Uplink.Status]: IngestSource.Presence,
  [Uplink.Counters]: IngestSource.Counters,
});

/** The source (and dedup window) a decoded uplink kind belongs to. */
export function ingestSourceOf(kind: Uplink): IngestSource {
  const s = sourceOfKind[kind];
  if (s === undefined) throw new Error(`uplink kind ${kind} is not ingested`);
  return s;
}

export interface IngestStats {
  nodeId: string;
  /** Messages taken from the consumers (all sources). */
  messages: number;
  /** Messages whose effect was applied (first delivery of a device seq). */
  applied: number;
  /** Telemetry points applied (exactly once). */
  points: number;
  /** Messages recognised as already applied (device retransmit or redelivery). */
  duplicates: number;
  /** Dead letters, total and by reason. */
  deadLetters: number;
  deadLettersByReason: Partial<Record<DlqReason, number>>;
  /** KV compare-and-set conflicts that forced a reload and retry. */
  casRetries: number;
  /** Device batches left unacked after an error (they will be redelivered). */
  batchFailures: number;
  /** Concurrent device-state writes (a nats-server 2.9 CAS race) detected and merged back. */
  lostUpdatesRepaired: number;
  /** Of the duplicates, those at or below their device's floor (settled_below). */
  settled: number;
  /** Messages of a retired epoch: acked, ignored, no receipt. */
  retiredEpoch: number;
  /** Devices that started a new epoch (or carried 0 over to one). */
  epochChanges: number;
  /** Ranges merged into a floor because a device's record was full. */
  dedupOverflow: number;
  /** Messages over their device's rate limit: acked, no effect, no receipt. */
  rateLimited: number;
  /** Receipts sent to devices. */
  receiptsPublished: number;
  /** Messages the server says are redeliveries. */
  redeliveries: number;
  /** Outputs published: history records, out messages, device events. */
  historyPublished: number;
  outPublished: number;
  eventsPublished: number;
  /** Per source: messages still pending in the consumer at the last delivery. */
  consumerLag: Record<IngestSource, number>;
  /** Devices held in this node's state cache. */
  cachedDevices: number;
}

export function emptyIngestStats(nodeId: string): IngestStats {
  return {
    nodeId, messages: 0, applied: 0, points: 0, duplicates: 0, deadLetters: 0, deadLettersByReason: {}, casRetries: 0,
    batchFailures: 0, lostUpdatesRepaired: 0,
    settled: 0, retiredEpoch: 0, epochChanges: 0, dedupOverflow: 0, rateLimited: 0, receiptsPublished: 0, redeliveries: 0, historyPublished: 0, outPublished: 0, eventsPublished: 0,
    consumerLag: { tele: 0, hb: 0, presence: 0, ctr: 0 }, cachedDevices: 0,
  };
}
