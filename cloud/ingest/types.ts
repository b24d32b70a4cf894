// Contracts of the ingest role: its statistics.
// Its settings live in settings.ts; why a message is dead-lettered is part
// of the device-message contract (cloud/records).

import type { DlqReason } from "../records";
import type { EffectiveReplication, GateStats } from "../replication";


export interface IngestStats {
  nodeId: string;
  /** Device shadow reports (Envelope.shadow_report) joined into the reported documents; rejected: malformed, counted and skipped. */
  shadowReports: number;
  shadowReportsRejected: number;
  /** Messages taken from the partition consumers. */
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
  /** Device-state compare-and-set conflicts: another writer slipped in
   *  although this node owns the partition (a lapsed owner's late write, the
   *  nats-server 2.9 CAS race); reloaded and reapplied. 0 in normal operation. */
  foreignWrites: number;
  /** Device batches left unacked after an error (they will be redelivered). */
  batchFailures: number;
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
  /** Per consumer this node reads (xsf-ingest-p<N>, xsf-ingest-wills): messages still pending at its last delivery. */
  consumerLag: Record<string, number>;
  /** Partitions this node owns now (sorted). */
  partitionsOwned: number[];
  /** Partition leases acquired and lost (or handed off) by this node. */
  partitionsAcquired: number;
  partitionsReleased: number;
  /** MQTT wills republished into their partition. */
  willsRelayed: number;
  /** Devices held in this node's state cache. */
  cachedDevices: number;
  compression: CompressionStats;
  /** Modes of the streams ingest writes, and the semi-sync writer's counts (null: history is not semi-sync). */
  replication: {
    history: EffectiveReplication;
    out: EffectiveReplication;
    semiSync: (GateStats & { degraded: boolean; mirrorSeq: number }) | null;
  };
}

/** Bytes of the compressed paths (publisher.ts): before (raw) and after (stored / sent). */
export interface CompressionStats {
  historyRawBytes: number;
  historyStoredBytes: number;
  historyCompressed: number;
  outRawBytes: number;
  outSentBytes: number;
  outCompressed: number;
}

export function emptyIngestStats(nodeId: string): IngestStats {
  return {
    nodeId, shadowReports: 0, shadowReportsRejected: 0, messages: 0, applied: 0, points: 0, duplicates: 0, deadLetters: 0, deadLettersByReason: {}, foreignWrites: 0,
    batchFailures: 0, redeliveries: 0, historyPublished: 0, outPublished: 0, eventsPublished: 0,
    settled: 0, retiredEpoch: 0, epochChanges: 0, dedupOverflow: 0, rateLimited: 0, receiptsPublished: 0,
    consumerLag: {}, partitionsOwned: [], partitionsAcquired: 0, partitionsReleased: 0, willsRelayed: 0, cachedDevices: 0,
    replication: { history: "single", out: "single", semiSync: null },
    compression: { historyRawBytes: 0, historyStoredBytes: 0, historyCompressed: 0, outRawBytes: 0, outSentBytes: 0, outCompressed: 0 },
  };
}
