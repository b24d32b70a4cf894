// Prometheus view of AnalyticsStats: collectors read the role's counters at
// scrape time (documented in docs/observability.md).
import { Gauge, type Registry } from "prom-client";
import { registerStatCounters } from "../metrics";
import type { AnalyticsStats } from "./types";

type CounterKey = "messages" | "points" | "duplicates" | "lateDropped" | "resultsPublished" | "resultsDuplicate" | "alertsRaised" | "alertsCleared"
  | "checkpoints" | "restarts" | "actionsRun" | "actionsFailed";

const counters: Array<[CounterKey, string, string]> = [
  ["messages", "xsfleet_analytics_messages_total", "Device messages the analytics role processed (a replay after a takeover counts again)"],
  ["points", "xsfleet_analytics_points_total", "Telemetry points put through the windows and rules"],
  ["duplicates", "xsfleet_analytics_duplicates_total", "Device retransmits and redeliveries recognised by the ingest dedup rules (no effect)"],
  ["lateDropped", "xsfleet_analytics_late_dropped_total", "Points beyond the allowed lateness of every window they fall in"],
  ["resultsPublished", "xsfleet_analytics_results_total", "Window results stored in XSF_ANALYTICS"],
  ["resultsDuplicate", "xsfleet_analytics_results_duplicate_total", "Window results a replay published again, dropped by the stream's duplicate window"],
  ["alertsRaised", "xsfleet_analytics_alerts_raised_total", "Alerts raised (one per episode)"],
  ["alertsCleared", "xsfleet_analytics_alerts_cleared_total", "Alerts cleared"],
  ["checkpoints", "xsfleet_analytics_checkpoints_total", "Partition checkpoints written (fenced compare-and-set)"],
  ["restarts", "xsfleet_analytics_restarts_total", "Partition activations restarted from their checkpoint after a failure"],
  ["actionsRun", "xsfleet_analytics_actions_total", "Rule actions run (command, event, webhook)"],
  ["actionsFailed", "xsfleet_analytics_actions_failed_total", "Rule actions that failed after their retries"],
];

export function registerAnalyticsMetrics(registry: Registry, stats: () => AnalyticsStats): void {
  registerStatCounters(registry, counters, stats);
  new Gauge({
    name: "xsfleet_analytics_lag", help: "Messages pending on the analytics consumer this node read last", labelNames: ["node"], registers: [registry],
    collect() {
      const s = stats();
      this.set({ node: s.nodeId }, s.lag);
    },
  });
  new Gauge({
    name: "xsfleet_analytics_partitions_owned", help: "Partitions this analytics node owns", labelNames: ["node"], registers: [registry],
    collect() {
      const s = stats();
      this.set({ node: s.nodeId }, s.partitionsOwned.length);
    },
  });
}
