// Edge placement, pure: which gateway or processing device runs each edge
// job (shared/edge-jobs.ts), from what the devices report in Hello and
// heartbeats (free heap, free flash, CPU load, RSSI) and the capabilities
// they announce. The edge counterpart of placement.ts (cloud roles on cloud
// nodes), with the same shape of answer: one decision per job, every
// candidate's verdict, ties broken by device id, so any orchestrator with the
// same inputs computes the same plan.
//
// A device fits a job when it is online, announces the job kind's capability,
// runs fewer than jobsPerDeviceMax jobs, and after adding the job's demand
// keeps `heapReserveBytes` free heap, has the flash the job needs, stays at
// or under `cpuCentiPctMax` load and hears at `rssiMinDbm` or better. Among
// fitting devices the score prefers free heap and CPU, a better link, and
// affinity (the share of the job's source devices that are the candidate's
// children: an aggregate job belongs on the gateway its sensors talk to);
// each job already placed on a device costs `jobPenalty` (spread), and the
// current owner gets `stickyBonus`, so jobs do not flap between devices
// whose readings wobble. Jobs are placed in id order, each charging its
// demand to the chosen device.
import { edgeJobCapability, jobsPerDeviceMax, type EdgeJobKind } from "../../shared/edge-jobs";
import { bestFitting, type ScoredCandidate } from "./placement";

export interface EdgeDemand {
  readonly heapBytes: number;
  readonly flashBytes: number;
  /** CPU load the job adds, percent × 100 (100 % = 10000). */
  readonly cpuCentiPct: number;
}

export interface EdgeJobSpec {
  readonly id: string;
  readonly kind: EdgeJobKind;
  readonly demand: EdgeDemand;
  /** Devices whose data the job works on (affinity); may be empty. */
  readonly sources: readonly string[];
}

/** One gateway/processing device as its device state shows it. */
export interface EdgeNode {
  readonly deviceId: string;
  readonly online: boolean;
  readonly capabilities: readonly string[];
  readonly freeHeapBytes: number;
  readonly flashFreeBytes: number;
  readonly cpuLoadCentiPct: number;
  readonly rssiDbm: number;
  /** Devices whose uplinks currently come through this one (their `via`). */
  readonly children: readonly string[];
}

export interface EdgePlacementLimits {
  readonly heapReserveBytes: number;
  readonly cpuCentiPctMax: number;
  readonly rssiMinDbm: number;
  /** Free heap at which the heap term saturates (1.0). */
  readonly heapScaleBytes: number;
  readonly heapWeight: number;
  readonly cpuWeight: number;
  readonly linkWeight: number;
  readonly affinityWeight: number;
  readonly jobPenalty: number;
  readonly stickyBonus: number;
  readonly nodesMax: number;
  readonly jobsMax: number;
}

export const DEFAULT_EDGE_PLACEMENT_LIMITS: EdgePlacementLimits = Object.freeze({
  heapReserveBytes: 16 * 1024,
  cpuCentiPctMax: 8_000,
  rssiMinDbm: -85,
  heapScaleBytes: 128 * 1024,
  heapWeight: 1,
  cpuWeight: 1,
  linkWeight: 0.5,
  affinityWeight: 2,
  jobPenalty: 0.1,
  stickyBonus: 0.5,
  nodesMax: 1024,
  jobsMax: 256,
});

/** RSSI mapped to 0..1: -90 dBm and below is 0, -30 dBm and above is 1. */
export function linkQuality(rssiDbm: number): number {
  return Math.max(0, Math.min(1, (rssiDbm + 90) / 60));
}

export interface EdgeAssignment {
  readonly jobId: string;
  readonly deviceId: string;
  readonly score: number;
  /** The owner before this plan (null: none). */
  readonly previous: string | null;
  readonly considered: readonly ScoredCandidate[];
}

export interface EdgeUnplaced {
  readonly jobId: string;
  readonly previous: string | null;
  readonly reason: string;
  readonly considered: readonly ScoredCandidate[];
}

export interface EdgePlan {
  /** One entry per job, in job id order. */
  readonly decisions: readonly (EdgeAssignment | EdgeUnplaced)[];
  /** Jobs whose owner changes (placed, moved, or left without one). */
  readonly changes: readonly (EdgeAssignment | EdgeUnplaced)[];
}

export function isEdgeAssignment(d: EdgeAssignment | EdgeUnplaced): d is EdgeAssignment {
  return "deviceId" in d;
}

interface Load {
  freeHeapBytes: number;
  flashFreeBytes: number;
  cpuLoadCentiPct: number;
  jobs: number;
}

export function scoreEdgeCandidate(job: EdgeJobSpec, n: EdgeNode, load: Load, sticky: boolean, l: EdgePlacementLimits): ScoredCandidate {
  const nodeId = n.deviceId;
  const no = (why: string): ScoredCandidate => ({ nodeId, fits: false, score: 0, why });
  if (!n.online) return no("offline");
  const cap = edgeJobCapability[job.kind];
  if (n.capabilities.indexOf(cap) < 0) return no(`no capability ${cap}`);
  if (load.jobs >= jobsPerDeviceMax) return no(`runs ${load.jobs} jobs (max ${jobsPerDeviceMax})`);
  const heapAfter = load.freeHeapBytes - job.demand.heapBytes;
  if (heapAfter < l.heapReserveBytes) return no(`heap: ${heapAfter} bytes would be free, reserve is ${l.heapReserveBytes}`);
  if (load.flashFreeBytes < job.demand.flashBytes) return no(`flash: ${load.flashFreeBytes} bytes free, job needs ${job.demand.flashBytes}`);
  const cpuAfter = load.cpuLoadCentiPct + job.demand.cpuCentiPct;
  if (cpuAfter > l.cpuCentiPctMax) return no(`cpu: load would be ${(cpuAfter / 100).toFixed(1)} % > ${l.cpuCentiPctMax / 100} %`);
  if (n.rssiDbm < l.rssiMinDbm) return no(`link: ${n.rssiDbm} dBm below ${l.rssiMinDbm}`);
  let local = 0;
  for (const s of job.sources) if (n.children.indexOf(s) >= 0) local++;
  const affinity = job.sources.length > 0 ? local / job.sources.length : 0;
  const score = l.heapWeight * Math.min(1, heapAfter / l.heapScaleBytes) + l.cpuWeight * (1 - cpuAfter / 10_000) +
    l.linkWeight * linkQuality(n.rssiDbm) + l.affinityWeight * affinity - l.jobPenalty * load.jobs + (sticky ? l.stickyBonus : 0);
  return { nodeId, fits: true, score: Math.round(score * 1e6) / 1e6 };
}

/**
 * Plans the owner of every job. `current` maps job id → device that holds
 * it now (from the control plane); a job whose owner is missing from
 * `nodes`, offline or no longer fitting moves (or is left unplaced).
 */
export function placeEdgeJobs(
  jobs: readonly EdgeJobSpec[],
  nodes: readonly EdgeNode[],
  current: ReadonlyMap<string, string>,
  limits: EdgePlacementLimits = DEFAULT_EDGE_PLACEMENT_LIMITS,
): EdgePlan {
  if (nodes.length > limits.nodesMax) throw new Error(`placeEdgeJobs: ${nodes.length} devices exceed nodesMax ${limits.nodesMax}`);
  if (jobs.length > limits.jobsMax) throw new Error(`placeEdgeJobs: ${jobs.length} jobs exceed jobsMax ${limits.jobsMax}`);
  const byId = (a: { readonly deviceId: string }, b: { readonly deviceId: string }): number => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0);
  const sorted = [...nodes].sort(byId);
  const loads = new Map<string, Load>(sorted.map((n) => [n.deviceId, {
    freeHeapBytes: n.freeHeapBytes, flashFreeBytes: n.flashFreeBytes, cpuLoadCentiPct: n.cpuLoadCentiPct, jobs: 0,
  }]));
  // What the devices already run is already in what they report: charge only a count for spreading.
  for (const owner of current.values()) {
    const l = loads.get(owner);
    if (l) l.jobs++;
  }
  const ordered = [...jobs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const decisions: (EdgeAssignment | EdgeUnplaced)[] = [];
  const changes: (EdgeAssignment | EdgeUnplaced)[] = [];
  for (const job of ordered) {
    const previous = current.get(job.id) ?? null;
    const prevLoad = previous === null ? undefined : loads.get(previous);
    // The owner is judged without its own share of the job it already runs (its reports include it).
    if (prevLoad) {
      prevLoad.freeHeapBytes += job.demand.heapBytes;
      prevLoad.flashFreeBytes += job.demand.flashBytes;
      prevLoad.cpuLoadCentiPct -= job.demand.cpuCentiPct;
      prevLoad.jobs--;
    }
    const considered = sorted.map((n) => scoreEdgeCandidate(job, n, loads.get(n.deviceId)!, n.deviceId === previous, limits));
    const best = bestFitting(considered);
    let d: EdgeAssignment | EdgeUnplaced;
    if (!best) {
      d = { jobId: job.id, previous, reason: sorted.length === 0 ? "no edge device" : "no device fits", considered };
    } else {
      const load = loads.get(best.nodeId)!;
      load.freeHeapBytes -= job.demand.heapBytes;
      load.flashFreeBytes -= job.demand.flashBytes;
      load.cpuLoadCentiPct += job.demand.cpuCentiPct;
      load.jobs++;
      d = { jobId: job.id, deviceId: best.nodeId, score: best.score, previous, considered };
    }
    decisions.push(d);
    const owner = isEdgeAssignment(d) ? d.deviceId : null;
    if (owner !== previous) changes.push(d);
  }
  return { decisions, changes };
}
