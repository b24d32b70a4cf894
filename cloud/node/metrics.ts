// Prometheus metrics of one cloud node, in its own registry (several nodes
// may share a process in tests). Role components keep plain counters in
// `stats` objects; the gauges/counters here read them at scrape time, so the
// hot paths never touch prom-client.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface NodeMetrics {
  registry: Registry;
  apiRequest(endpoint: string, status: number, durationMs: number): void;
  natsReconnect(): void;
  /** Exposes a number read at scrape time as a counter (monotonic sources only). */
  counterFrom(name: string, help: string, read: () => number): void;
  gaugeFrom(name: string, help: string, read: () => number): void;
  /** Exposes every numeric field of a stats object as one labelled gauge. */
  statsGauge(name: string, help: string, read: () => Record<string, unknown>): void;
}

export function createNodeMetrics(nodeId: string, roles: readonly string[], opts: { processMetrics?: boolean } = {}): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "xsfleet_" });
  new Gauge({ name: "xsfleet_node_info", help: "Cloud node identity and roles (always 1)", labelNames: ["roles"], registers: [registry] }).set({ roles: roles.join(",") }, 1);
  const requests = new Counter({ name: "xsfleet_api_requests_total", help: "API requests by endpoint and reply status", labelNames: ["endpoint", "status"], registers: [registry] });
  const duration = new Histogram({
    name: "xsfleet_api_request_duration_seconds", help: "API request handling time (commands.send includes waiting for the ack)",
    labelNames: ["endpoint"], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120], registers: [registry],
  });
  const reconnects = new Counter({ name: "xsfleet_nats_reconnects_total", help: "NATS reconnections", registers: [registry] });
  return {
    registry,
    apiRequest: (endpoint, status, durationMs) => {
      requests.inc({ endpoint, status: String(status) });
      duration.observe({ endpoint }, durationMs / 1000);
    },
    natsReconnect: () => reconnects.inc(),
    counterFrom: (name, help, read) => {
      new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(read()); } });
    },
    gaugeFrom: (name, help, read) => {
      new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
    },
    statsGauge: (name, help, read) => {
      new Gauge({
        name, help, labelNames: ["stat"], registers: [registry],
        collect() {
          for (const [k, v] of Object.entries(read())) if (typeof v === "number") this.set({ stat: k }, v);
        },
      });
    },
  };
}
