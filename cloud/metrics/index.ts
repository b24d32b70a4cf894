// Metrics of every xsfleet process: one registry per process, the /metrics endpoint.
export { createProcessMetrics, type ProcessMetrics } from "./registry";
export { startMetricsEndpoint, metricsHandler, metricsFlags, type MetricsEndpoint, type MetricsFlags, type HealthReport } from "./endpoint";
export { registerStatCounters, type StatCounter } from "./stat-counters";
