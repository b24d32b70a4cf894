// Prometheus metrics of one cloud node, in its own registry (several nodes
// may share a process in tests), labelled with the node id. Role components
// keep plain counters in `stats` objects; the collectors read them at scrape
// time (cloud/metrics), so the hot paths never touch prom-client.
import { Counter, Gauge, Histogram } from "prom-client";
import { createProcessMetrics, type HealthReport as EndpointHealth, type ProcessMetrics } from "../metrics";

/** What a cloud node's /healthz answers. */
export interface HealthReport extends EndpointHealth {
  nodeId: string;
  roles: string[];
  nats: { connected: boolean; server: string };
}

export interface NodeMetrics extends ProcessMetrics {
  apiRequest(endpoint: string, status: number, durationMs: number): void;
  natsReconnect(): void;
}

export function createNodeMetrics(nodeId: string, roles: readonly string[], opts: { processMetrics?: boolean } = {}): NodeMetrics {
  // OpenMetrics: ingest's processing histogram carries exemplars (trace ids).
  const m = createProcessMetrics({ node: nodeId }, { ...opts, openMetrics: true });
  const registry = m.registry;
  new Gauge({ name: "xsfleet_node_info", help: "Cloud node identity and roles (always 1)", labelNames: ["roles"], registers: [registry] }).set({ roles: roles.join(",") }, 1);
  const requests = new Counter({ name: "xsfleet_api_requests_total", help: "API requests by endpoint and reply status", labelNames: ["endpoint", "status"], registers: [registry] });
  const duration = new Histogram({
    name: "xsfleet_api_request_duration_seconds", help: "API request handling time (commands.send includes waiting for the ack)",
    labelNames: ["endpoint"], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120], registers: [registry],
  });
  const reconnects = new Counter({ name: "xsfleet_nats_reconnects_total", help: "NATS reconnections", registers: [registry] });
  return {
    ...m,
    apiRequest: (endpoint, status, durationMs) => {
      requests.inc({ endpoint, status: String(status) });
      duration.observe({ endpoint }, durationMs / 1000);
    },
    natsReconnect: () => reconnects.inc(),
  };
}
