// One process's Prometheus registry and the helpers every process uses to
// expose what it already counts. Components keep plain counters in `stats`
// objects; the collectors here read them at scrape time, so hot paths never
// touch prom-client. Names follow Prometheus conventions (docs/observability.md):
// `xsfleet_<area>_<what>[_unit]`, counters end in `_total`, base units
// (seconds, bytes); each process labels everything with `process` (its name
// on the status line) through the registry's default labels.
import { Counter, Gauge, Registry, collectDefaultMetrics, type RegistryContentType } from "prom-client";

export interface ProcessMetrics {
  readonly registry: Registry;
  /** A counter read at scrape time (monotonic sources only). */
  counterFrom(name: string, help: string, read: () => number): void;
  /** A counter per label value, read at scrape time. */
  labelledCounterFrom(name: string, help: string, label: string, read: () => Record<string, number>): void;
  gaugeFrom(name: string, help: string, read: () => number): void;
  /** Every numeric field of a stats object as one gauge labelled `stat`. */
  statsGauge(name: string, help: string, read: () => Record<string, unknown>): void;
}

/**
 * `labels` become default labels of every series (e.g. { process: "raft-1" }).
 * `openMetrics`: serve the OpenMetrics text format (series names are the
 * same for Prometheus), which is where prom-client keeps exemplars.
 */
export function createProcessMetrics(labels: Record<string, string>, opts: { processMetrics?: boolean; openMetrics?: boolean } = {}): ProcessMetrics {
  const registry = new Registry();
  // The typings bind a registry to one format; the setter accepts both at run time.
  if (opts.openMetrics) (registry as Registry<RegistryContentType>).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  registry.setDefaultLabels(labels);
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "xsfleet_" });
  return {
    registry,
    counterFrom: (name, help, read) => {
      new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(read()); } });
    },
    labelledCounterFrom: (name, help, label, read) => {
      new Counter({
        name, help, labelNames: [label], registers: [registry],
        collect() {
          this.reset();
          for (const [k, v] of Object.entries(read())) this.inc({ [label]: k }, v);
        },
      });
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
