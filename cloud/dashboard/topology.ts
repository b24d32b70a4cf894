// The dashboard's topology view (docs/edge.md, docs/dashboard.md): which
// gateway each child uses (children listed under their gateway, from each
// device's `via`), the mesh counters merged across their reporters
// (cloud/state mergeMeshCounters) with how many reporters agree with the
// merged value, the local mesh's convergence when the host runs it
// (`xsfleet up`), and which node runs which edge job (the API's `edge.jobs`,
// when some node answers it; null otherwise, and the page hides the part).
//
// Pure: a fleet snapshot and the edge extras in, the view out. Bounds:
// `gatewaysListedMax` gateways, `childrenListedMax` children per gateway
// (the counts stay exact), `edgeJobsListedMax` jobs.
import type { MeshCounters } from "../state";
import type { DeviceRow, FleetSnapshot } from "./types";

export const gatewaysListedMax = 64;
export const childrenListedMax = 64;
export const edgeJobsListedMax = 200;

export interface TopologyChild {
  deviceId: string;
  presence: string;
}

export interface GatewayView {
  gatewayId: string;
  /** "unknown" when the gateway has no state (children name it, it never spoke itself). */
  presence: string;
  children: TopologyChild[];
  childCount: number;
  childrenOnline: number;
}

export interface MeshCounterRow {
  name: string;
  value: number;
  /** Replicas (peers) in the merged state. */
  peers: number;
  reporters: string[];
  reporterCount: number;
  /** Reporters whose own report equals the merged value. */
  reportersAgreeing: number;
  /** What adding up the reports would claim. */
  reportedSum: number;
}

/** The mesh the host runs itself (`xsfleet up`): peers holding every event counted so far. */
export interface LocalMesh {
  peers: number;
  converged: number;
  events: number;
}

export interface EdgeJobRow {
  job: string;
  kind: string;
  owner: string;
  sinceMs: number | null;
}

export interface EdgeExtras {
  /** null: no node answered `edge.jobs`. */
  jobs: EdgeJobRow[] | null;
  meshLocal: LocalMesh | null;
}

export interface TopologyView {
  generatedMs: number;
  gateways: GatewayView[];
  gatewaysTruncated: boolean;
  mesh: MeshCounterRow[];
  meshLocal: LocalMesh | null;
  jobs: EdgeJobRow[] | null;
}

export function topologyView(snap: FleetSnapshot, extras: EdgeExtras): TopologyView {
  const byId = new Map<string, DeviceRow>();
  for (const d of snap.devices) byId.set(d.deviceId, d);
  const kids = new Map<string, DeviceRow[]>();
  for (const d of snap.devices) if (d.role === "gateway" && !kids.has(d.deviceId)) kids.set(d.deviceId, []);
  for (const d of snap.devices) {
    if (d.via === "") continue;
    let list = kids.get(d.via);
    if (list === undefined) kids.set(d.via, (list = []));
    list.push(d);
  }
  const ids = [...kids.keys()].sort();
  const gateways: GatewayView[] = ids.slice(0, gatewaysListedMax).map((gatewayId) => {
    const children = kids.get(gatewayId)!.sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1));
    return {
      gatewayId, presence: byId.get(gatewayId)?.presence ?? "unknown",
      children: children.slice(0, childrenListedMax).map((c) => ({ deviceId: c.deviceId, presence: c.presence })),
      childCount: children.length, childrenOnline: children.filter((c) => c.presence === "online").length,
    };
  });
  const mesh = meshRows(snap.mesh, byId);
  return { generatedMs: snap.generatedMs, gateways, gatewaysTruncated: ids.length > gatewaysListedMax, mesh, meshLocal: extras.meshLocal, jobs: extras.jobs };
}

function meshRows(m: MeshCounters | undefined, byId: ReadonlyMap<string, DeviceRow>): MeshCounterRow[] {
  if (m === undefined) return [];
  return m.counters.map((c) => ({
    name: c.name, value: c.value, peers: c.replicas, reporters: c.reporters, reporterCount: c.reporterCount, reportedSum: c.reportedSum,
    reportersAgreeing: c.reporters.filter((r) => byId.get(r)?.counters[`mesh-${c.name}`] === c.value).length,
  }));
}

/**
 * The reply of `edge.jobs` (`EdgeJobsReply` of cloud/recovery's edge
 * scheduler, docs/edge.md: `{jobs: [{id, kind, owner, sinceMs, …}]}`) as
 * rows; null when the reply has no job list. Read as untrusted JSON.
 */
export function edgeJobRows(reply: unknown): EdgeJobRow[] | null {
  const list = isObj(reply) && Array.isArray(reply.jobs) ? reply.jobs : null;
  if (list === null) return null;
  const rows: EdgeJobRow[] = [];
  for (const j of list.slice(0, edgeJobsListedMax)) {
    if (!isObj(j)) continue;
    const job = str(j.id);
    if (job === undefined) continue;
    rows.push({ job, kind: str(j.kind) ?? "", owner: str(j.owner) ?? "", sinceMs: typeof j.sinceMs === "number" ? j.sinceMs : null });
  }
  return rows;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
