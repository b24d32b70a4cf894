// Prometheus view of IngestStats (optional): registers collectors that read
// the role's counters at scrape time, so the hot path pays nothing for them.
// One exception, a histogram fed live: the processing seconds of each
// device batch (one observe per device batch, not per message), with an
// exemplar naming the batch's trace when the trace is kept and the registry
// speaks OpenMetrics (prom-client keeps exemplars only there).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { registerStatCounters } from "../metrics";
import type { BatchTrace } from "./pipeline";
import type { IngestStats } from "./types";

/** Buckets of a device batch's processing: 0.5 ms to 5 s. */
export const processingBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Feeds the processing histogram: pass as the role's onDeviceBatch. */
export type ProcessingObserver = (seconds: number, trace: BatchTrace | null) => void;

type CounterKey =
  | "messages" | "applied" | "points" | "duplicates" | "foreignWrites" | "batchFailures" | "partitionsAcquired" | "partitionsReleased" | "willsRelayed"
  | "redeliveries" | "historyPublished" | "outPublished" | "eventsPublished"
  | "settled" | "retiredEpoch" | "epochChanges" | "dedupOverflow" | "rateLimited" | "receiptsPublished" | "shadowReports" | "shadowReportsRejected";

const counters: Array<[CounterKey, string, string]> = [
  ["messages", "xsfleet_ingest_messages_total", "Device messages taken from the ingest consumers"],
  ["applied", "xsfleet_ingest_applied_total", "Device messages whose effect was applied (first delivery of a seq)"],
  ["points", "xsfleet_ingest_points_total", "Telemetry points applied exactly once"],
  ["duplicates", "xsfleet_ingest_duplicates_total", "Device messages recognised as already applied"],
  ["foreignWrites", "xsfleet_ingest_foreign_writes_total", "Device-state writes by another writer found by the partition owner's compare-and-set (0 in normal operation)"],
  ["partitionsAcquired", "xsfleet_ingest_partitions_acquired_total", "Partition leases this node acquired"],
  ["partitionsReleased", "xsfleet_ingest_partitions_released_total", "Partitions this node handed off or lost"],
  ["willsRelayed", "xsfleet_ingest_wills_relayed_total", "MQTT wills republished into their partition"],
  ["batchFailures", "xsfleet_ingest_batch_failures_total", "Device batches left for redelivery after an error"],
  ["redeliveries", "xsfleet_ingest_redeliveries_total", "Messages the server redelivered"],
  ["historyPublished", "xsfleet_ingest_history_records_total", "History records published"],
  ["outPublished", "xsfleet_ingest_out_messages_total", "Integrator out messages published"],
  ["eventsPublished", "xsfleet_ingest_events_total", "Device events published"],
  ["settled", "xsfleet_ingest_settled_total", "Device messages at or below their device's floor (settled_below): no new effect"],
  ["retiredEpoch", "xsfleet_ingest_retired_epoch_total", "Device messages of a retired epoch, ignored without receipt"],
  ["epochChanges", "xsfleet_ingest_epoch_changes_total", "Devices that started a new epoch"],
  ["dedupOverflow", "xsfleet_ingest_dedup_overflow_total", "Dedup ranges merged into a floor because a device's record was full"],
  ["rateLimited", "xsfleet_ingest_rate_limited_total", "Device messages over their device's rate limit: acked, no effect, no receipt"],
  ["receiptsPublished", "xsfleet_ingest_receipts_total", "Receipts sent to devices"],
  ["shadowReports", "xsfleet_ingest_shadow_reports_total", "Device shadow reports joined into the reported documents (at least once; a join)"],
  ["shadowReportsRejected", "xsfleet_ingest_shadow_reports_rejected_total", "Malformed device shadow reports, counted and skipped"],
];

/** Registers ingest metrics on `registry`; `stats` is the role's stats(). Returns the processing histogram's observer. */
export function registerIngestMetrics(registry: Registry, stats: () => IngestStats): ProcessingObserver {
  registerStatCounters(registry, counters, stats);
  new Counter({
    name: "xsfleet_ingest_dead_letters_total", help: "Device messages dead-lettered, by reason", labelNames: ["node", "reason"], registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      for (const [reason, n] of Object.entries(s.deadLettersByReason)) this.labels({ node: s.nodeId, reason }).inc(n ?? 0);
    },
  });
  new Gauge({
    name: "xsfleet_ingest_consumer_lag", help: "Messages pending in the ingest consumer at the last delivery", labelNames: ["node", "consumer"], registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      for (const [consumer, n] of Object.entries(s.consumerLag)) this.set({ node: s.nodeId, consumer }, n);
    },
  });
  new Gauge({
    name: "xsfleet_ingest_partitions_owned", help: "Partitions this ingest node owns", labelNames: ["node"], registers: [registry],
    collect() {
      const s = stats();
      this.set({ node: s.nodeId }, s.partitionsOwned.length);
    },
  });
  new Counter({
    name: "xsfleet_ingest_compression_bytes_total", help: "Bytes of compressed paths before (raw) and after (stored) compression, by path",
    labelNames: ["node", "path", "stage"], registers: [registry],
    collect() {
      const s = stats();
      const c = s.compression;
      this.reset();
      this.labels({ node: s.nodeId, path: "history", stage: "raw" }).inc(c.historyRawBytes);
      this.labels({ node: s.nodeId, path: "history", stage: "stored" }).inc(c.historyStoredBytes);
      this.labels({ node: s.nodeId, path: "out", stage: "raw" }).inc(c.outRawBytes);
      this.labels({ node: s.nodeId, path: "out", stage: "stored" }).inc(c.outSentBytes);
    },
  });
  new Counter({
    name: "xsfleet_ingest_compressed_messages_total", help: "Messages sent compressed (above the path's threshold), by path",
    labelNames: ["node", "path"], registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      this.labels({ node: s.nodeId, path: "history" }).inc(s.compression.historyCompressed);
      this.labels({ node: s.nodeId, path: "out" }).inc(s.compression.outCompressed);
    },
  });
  new Counter({
    name: "xsfleet_replication_semisync_writes_total", help: "Semi-sync history writes by outcome: replicated (the mirror had it in time) or unreplicated (timed out, or written while degraded)",
    labelNames: ["node", "outcome"], registers: [registry],
    collect() {
      const s = stats();
      const g = s.replication.semiSync;
      this.reset();
      if (!g) return;
      this.labels({ node: s.nodeId, outcome: "replicated" }).inc(g.replicated);
      this.labels({ node: s.nodeId, outcome: "unreplicated" }).inc(g.unreplicated);
    },
  });
  new Counter({
    name: "xsfleet_replication_semisync_degradations_total", help: "Times the semi-sync history writer degraded to async (the mirror missed the timeout)",
    labelNames: ["node"], registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      if (s.replication.semiSync) this.labels({ node: s.nodeId }).inc(s.replication.semiSync.degradations);
    },
  });
  new Gauge({
    name: "xsfleet_replication_semisync_degraded", help: "1 while the semi-sync history writer runs degraded (async) until the mirror catches up",
    labelNames: ["node"], registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      if (s.replication.semiSync) this.set({ node: s.nodeId }, s.replication.semiSync.degraded ? 1 : 0);
    },
  });
  new Gauge({
    name: "xsfleet_ingest_cached_devices", help: "Device states cached on this ingest node", labelNames: ["node"], registers: [registry],
    collect() {
      const s = stats();
      this.set({ node: s.nodeId }, s.cachedDevices);
    },
  });
  const node = stats().nodeId;
  const help = "Processing of one device batch (one device's messages of a pull batch): state load, dedup/apply, outputs, state CAS, acks";
  if ((registry.contentType as string) === Registry.OPENMETRICS_CONTENT_TYPE) {
    const h: Histogram<string> = new Histogram<string>({ name: "xsfleet_ingest_processing_seconds", help, labelNames: ["node"], buckets: processingBuckets, registers: [registry], enableExemplars: true });
    return (seconds, trace) => {
      if (trace) h.observe({ labels: { node }, value: seconds, exemplarLabels: { trace_id: trace.traceId, span_id: trace.spanId } });
      else h.observe({ labels: { node }, value: seconds });
    };
  }
  const h = new Histogram({ name: "xsfleet_ingest_processing_seconds", help, labelNames: ["node"], buckets: processingBuckets, registers: [registry] });
  return (seconds) => h.observe({ node }, seconds);
}
