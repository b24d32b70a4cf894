// Placement, pure: where to start roles of a failed node, from the resources
// live nodes report in their heartbeats. A node fits a role if, after adding
// the role's demand, it keeps `memoryReserveBytes` free and its CPU load per
// core stays <= `cpuLoadPerCoreMax`. Among fitting nodes the score prefers
// free capacity (memory and CPU, as fractions) and spreading (nodes already
// running the same role, then many roles, score lower); ties break on node
// id, so every node computing the same inputs gets the same answer. Roles are
// placed one after another, each charging its demand to the chosen node.

import type { NodeResources } from "../membership";

export interface Candidate {
  readonly nodeId: string;
  readonly resources: NodeResources;
  readonly roles: readonly string[];
}

export interface RoleDemand {
  readonly role: string;
  readonly memoryBytes: number;
  /** Expected load added, in cores (1 = one busy core). */
  readonly cpu: number;
}

export interface PlacementLimits {
  readonly memoryReserveBytes: number;
  readonly cpuLoadPerCoreMax: number;
  /** Score weights. */
  readonly memoryWeight: number;
  readonly cpuWeight: number;
  /** Subtracted per role the node already runs (spread). */
  readonly rolePenalty: number;
  /** Subtracted when the node already runs this very role (anti-affinity). */
  readonly sameRolePenalty: number;
  readonly candidatesMax: number;
  readonly demandsMax: number;
}

export const DEFAULT_PLACEMENT_LIMITS: PlacementLimits = Object.freeze({
  memoryReserveBytes: 64 * 1024 * 1024,
  cpuLoadPerCoreMax: 0.9,
  memoryWeight: 1,
  cpuWeight: 1,
  rolePenalty: 0.05,
  sameRolePenalty: 1,
  candidatesMax: 1024,
  demandsMax: 256,
});

export interface ScoredCandidate {
  readonly nodeId: string;
  readonly fits: boolean;
  readonly score: number;
  readonly why?: string;
}

export interface Placement {
  readonly role: string;
  readonly nodeId: string;
  readonly score: number;
  /** Every candidate's verdict, for the recorded decision. */
  readonly considered: readonly ScoredCandidate[];
}

export interface Unplaced {
  readonly role: string;
  readonly reason: string;
  readonly considered: readonly ScoredCandidate[];
}

export interface PlacementResult {
  /** One entry per demand, in input order. */
  readonly decisions: readonly (Placement | Unplaced)[];
  readonly placements: readonly Placement[];
  readonly unplaced: readonly Unplaced[];
}

export function isPlacement(d: Placement | Unplaced): d is Placement {
  return "nodeId" in d;
}

interface Load {
  freeMemoryBytes: number;
  cpuLoad: number;
  roles: string[];
}

export function scoreCandidate(demand: RoleDemand, nodeId: string, r: NodeResources, load: Load, l: PlacementLimits): ScoredCandidate {
  const memAfter = load.freeMemoryBytes - demand.memoryBytes;
  const cpuAfter = (load.cpuLoad + demand.cpu) / r.cpus;
  if (memAfter < l.memoryReserveBytes) return { nodeId, fits: false, score: 0, why: `memory: ${memAfter} bytes would be free, reserve is ${l.memoryReserveBytes}` };
  if (cpuAfter > l.cpuLoadPerCoreMax) return { nodeId, fits: false, score: 0, why: `cpu: load per core would be ${cpuAfter.toFixed(2)} > ${l.cpuLoadPerCoreMax}` };
  const memFree = r.totalMemoryBytes > 0 ? memAfter / r.totalMemoryBytes : 0;
  const cpuFree = Math.max(0, 1 - cpuAfter);
  const same = load.roles.includes(demand.role) ? l.sameRolePenalty : 0;
  const score = l.memoryWeight * memFree + l.cpuWeight * cpuFree - l.rolePenalty * load.roles.length - same;
  return { nodeId, fits: true, score: Math.round(score * 1e6) / 1e6 };
}

/** The fitting candidate with the highest score; on equal scores the first (callers sort by id). */
export function bestFitting(considered: readonly ScoredCandidate[]): ScoredCandidate | undefined {
  let best: ScoredCandidate | undefined;
  // Strictly greater: on equal scores the first (smallest node id) stays.
  for (const s of considered) if (s.fits && (best === undefined || s.score > best.score)) best = s;
  return best;
}

export function placeRoles(demands: readonly RoleDemand[], candidates: readonly Candidate[], limits: PlacementLimits = DEFAULT_PLACEMENT_LIMITS): PlacementResult {
  if (candidates.length > limits.candidatesMax) throw new Error(`placeRoles: ${candidates.length} candidates exceed candidatesMax ${limits.candidatesMax}`);
  if (demands.length > limits.demandsMax) throw new Error(`placeRoles: ${demands.length} roles exceed demandsMax ${limits.demandsMax}`);
  const sorted = [...candidates].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  const loads = new Map<string, Load>(sorted.map((c) => [c.nodeId, { freeMemoryBytes: c.resources.freeMemoryBytes, cpuLoad: c.resources.cpuLoad1, roles: [...c.roles] }]));
  const decisions: (Placement | Unplaced)[] = [];
  for (const demand of demands) {
    const considered = sorted.map((c) => scoreCandidate(demand, c.nodeId, c.resources, loads.get(c.nodeId)!, limits));
    const best = bestFitting(considered);
    if (!best) {
      decisions.push({ role: demand.role, reason: sorted.length === 0 ? "no live candidate" : "no candidate fits", considered });
      continue;
    }
    const load = loads.get(best.nodeId)!;
    load.freeMemoryBytes -= demand.memoryBytes;
    load.cpuLoad += demand.cpu;
    load.roles.push(demand.role);
    decisions.push({ role: demand.role, nodeId: best.nodeId, score: best.score, considered });
  }
  return {
    decisions,
    placements: decisions.filter(isPlacement),
    unplaced: decisions.filter((d): d is Unplaced => !isPlacement(d)),
  };
}
