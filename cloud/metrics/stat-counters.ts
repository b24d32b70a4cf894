// Counters that mirror a role's cumulative stats object at scrape time: one
// `_total` counter per (stats key, name, help) row, labelled by the node.
import { Counter, type Registry } from "prom-client";

/** A row of a role's counter table: the stats field, the metric name, its help. */
export type StatCounter<K extends string> = readonly [key: K, name: string, help: string];

export function registerStatCounters<K extends string, S extends { nodeId: string } & Record<K, number>>(
  registry: Registry, rows: readonly StatCounter<K>[], stats: () => S,
): void {
  for (const [key, name, help] of rows) {
    new Counter({
      name, help, labelNames: ["node"], registers: [registry],
      collect() {
        const s = stats();
        this.reset();
        this.labels({ node: s.nodeId }).inc(s[key]);
      },
    });
  }
}
