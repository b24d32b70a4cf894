// The node's own capacity, as reported in its heartbeats (node:os).

import { availableParallelism, freemem, loadavg, totalmem } from "node:os";
import type { NodeResources } from "./types";

export function localResources(): NodeResources {
  return {
    freeMemoryBytes: freemem(),
    totalMemoryBytes: totalmem(),
    cpuLoad1: Math.round(loadavg()[0]! * 100) / 100,
    cpus: Math.max(1, availableParallelism()),
  };
}
