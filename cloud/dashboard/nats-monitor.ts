// nats-server's HTTP monitoring endpoints (/varz, /jsz, /routez; /connz in cloud-nodes.ts):
// bounded fetches with a timeout, and pure parsers from their JSON to the
// dashboard's rows. Fields are read defensively: the endpoints differ a
// little between server versions, and a missing field shows as 0/"" rather
// than failing the whole panel.
import { CloudNodeHealth, type CloudNodeRow, type NatsServerRow } from "./types";

export const monitorResponseBytesMax = 4 * 1024 * 1024;
/** Connections listed per server when looking for cloud nodes. */
export const connzLimitMax = 1024;

type Json = Record<string, unknown>;

function obj(v: unknown): Json {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {};
}
function n(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}
function s(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** GET a monitoring endpoint as JSON; throws with the URL in the message. */
export async function fetchMonitorJson(url: string, timeoutMs: number, okStatuses: readonly number[] = []): Promise<Json> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const why = (e as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (e as Error).message;
    throw new Error(`${url}: ${why}`);
  }
  // A node's /healthz answers 503 with a JSON body while starting or draining.
  if (!res.ok && !okStatuses.includes(res.status)) throw new Error(`${url}: HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > monitorResponseBytesMax) throw new Error(`${url}: response over ${monitorResponseBytesMax} bytes`);
  try {
    return obj(JSON.parse(text));
  } catch {
    throw new Error(`${url}: not JSON`);
  }
}

export function monitorEndpoint(monitorUrl: string, path: string): string {
  return monitorUrl.replace(/\/+$/, "") + path;
}

/** One server row from its /varz, /jsz and /routez answers (jsz/routez may be missing). */
export function serverRow(monitorUrl: string, varz: Json, jsz: Json | null, routez: Json | null): NatsServerRow {
  const jsEnabled = jsz !== null && jsz.disabled !== true;
  return {
    monitorUrl,
    ok: true,
    error: null,
    name: s(varz.server_name) || s(varz.server_id).slice(0, 8),
    version: s(varz.version),
    uptime: s(varz.uptime),
    connections: n(varz.connections),
    inMsgs: n(varz.in_msgs),
    outMsgs: n(varz.out_msgs),
    inBytes: n(varz.in_bytes),
    outBytes: n(varz.out_bytes),
    memBytes: n(varz.mem),
    cpuPct: n(varz.cpu),
    routes: routez ? n(routez.num_routes) : n(varz.routes),
    jetstream: jsEnabled && jsz
      ? {
        streams: n(jsz.streams),
        consumers: n(jsz.consumers),
        messages: n(jsz.messages),
        bytes: n(jsz.bytes),
        metaLeader: s(obj(jsz.meta_cluster).leader),
      }
      : null,
  };
}

export function unreachableServerRow(monitorUrl: string, error: string): NatsServerRow {
  return {
    monitorUrl, ok: false, error, name: "", version: "", uptime: "", connections: 0, inMsgs: 0, outMsgs: 0,
    inBytes: 0, outBytes: 0, memBytes: 0, cpuPct: 0, routes: 0, jetstream: null,
  };
}

/** A cloud node's /healthz answer (cloud/metrics endpoint) → row; unreachable → "down". */
export function cloudNodeFromHealth(url: string, body: Json | null, error: string | null, nowMs: number): CloudNodeRow {
  if (body === null) {
    return { nodeId: url, roles: [], health: CloudNodeHealth.Down, lastSeenMs: null, detail: error ?? "unreachable" };
  }
  const status = s(body.status);
  const health = status === "ok" ? CloudNodeHealth.Up
    : status === "starting" || status === "draining" ? CloudNodeHealth.Suspect
    : status === "disconnected" ? CloudNodeHealth.Down : CloudNodeHealth.Unknown;
  const roles = Array.isArray(body.roles) ? body.roles.filter((r): r is string => typeof r === "string").slice(0, 16) : [];
  const server = s(obj(body.nats).server);
  return {
    nodeId: s(body.nodeId) || url,
    roles,
    health,
    lastSeenMs: nowMs,
    detail: `${status || "no status"}${server ? ` · NATS ${server}` : ""}`,
  };
}

/** Rows from health probes win over the other rows (cloud-nodes.ts). */
export function mergeCloudNodes(fromHealth: readonly CloudNodeRow[], fromConnz: readonly CloudNodeRow[]): CloudNodeRow[] {
  const byId = new Map<string, CloudNodeRow>();
  for (const r of fromConnz) byId.set(r.nodeId, r);
  for (const r of fromHealth) byId.set(r.nodeId, r);
  return [...byId.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId));
}
