// The cloud-nodes panel, from three witnesses that each know part of it:
//  - heartbeats on xsfleet.v1.cluster.hb.* (cloud/membership): roles and
//    held leases, and whether the node still speaks;
//  - nats-server /connz: the node's NATS connections (client ip:port and
//    the server it is connected to);
//  - the host's supervised processes (`xsfleet up`): the exit code or signal
//    of a node that died, seen at once.
// A dead process wins over a fresh heartbeat (its last one may be < 1 s
// old); without a process view, a node whose heartbeats stopped is suspect
// after `heartbeatSuspectMs` and down after `heartbeatDownMs`.
import type { ClusterHeartbeat } from "../membership";
import { CloudNodeHealth, type CloudNodeRow, type ProcessRow } from "./types";

export interface CloudNodeTimings {
  heartbeatSuspectMs: number;
  heartbeatDownMs: number;
  /** Heartbeat entries older than this are forgotten (a node removed for good). */
  heartbeatForgetMs: number;
}

/** Cloud nodes beat every second (orchestration role): 3 missed = suspect, 10 = down. */
export const defaultCloudNodeTimings: CloudNodeTimings = {
  heartbeatSuspectMs: 3_000,
  heartbeatDownMs: 10_000,
  heartbeatForgetMs: 10 * 60_000,
};

/** Cloud nodes remembered from heartbeats; more are counted, not kept. */
export const heartbeatNodesMax = 256;

export interface HeartbeatSeen {
  nodeId: string;
  roles: string[];
  leases: string[];
  /** Local receive time (ms since epoch): senders' clocks are not trusted. */
  receivedMs: number;
}

/** Latest heartbeat per node, bounded. */
export class HeartbeatTable {
  /** Invariant: size <= heartbeatNodesMax. */
  readonly #nodes = new Map<string, HeartbeatSeen>();
  #ignored = 0;

  record(hb: ClusterHeartbeat, nowMs: number): void {
    if (!this.#nodes.has(hb.nodeId) && this.#nodes.size >= heartbeatNodesMax) {
      this.#ignored++;
      return;
    }
    this.#nodes.set(hb.nodeId, { nodeId: hb.nodeId, roles: [...hb.roles], leases: [...hb.leases], receivedMs: nowMs });
  }

  /** Current entries; forgets those older than forgetMs. */
  list(nowMs: number, forgetMs: number): HeartbeatSeen[] {
    for (const [id, e] of this.#nodes) if (nowMs - e.receivedMs > forgetMs) this.#nodes.delete(id);
    return [...this.#nodes.values()];
  }

  get ignored(): number {
    return this.#ignored;
  }
}

/** One NATS client connection as /connz shows it. */
export interface NatsClient {
  /** The connection's name (e.g. xsfleet-cloud-1#0). */
  name: string;
  /** Client address as the server sees it, "ip:port". */
  address: string;
  /** Name of the server it is connected to. */
  server: string;
}

type Json = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Named client connections from each server's /connz answer. Pure. */
export function natsClientsFromConnz(connzByServer: ReadonlyArray<{ server: string; connz: Json }>): NatsClient[] {
  const out: NatsClient[] = [];
  for (const { server, connz } of connzByServer) {
    const conns = Array.isArray(connz.connections) ? (connz.connections as unknown[]) : [];
    for (const c of conns) {
      if (typeof c !== "object" || c === null) continue;
      const o = c as Json;
      const name = str(o.name);
      if (name === "") continue;
      const port = typeof o.port === "number" ? o.port : 0;
      out.push({ name, address: `${str(o.ip) || "?"}:${port}`, server });
    }
  }
  return out;
}

/** "127.0.0.1:53122 → xsfleet-n0" */
export function clientLabel(c: NatsClient): string {
  return `${c.address} → ${c.server}`;
}

export interface CloudNodeInputs {
  heartbeats: readonly HeartbeatSeen[];
  /** Connections of cloud nodes, already mapped to node ids. */
  clients: ReadonlyMap<string, readonly NatsClient[]>;
  /** Supervised cloud-node processes by node id (empty when nobody supervises them here). */
  processes: ReadonlyMap<string, ProcessRow>;
  nowMs: number;
  timings?: CloudNodeTimings;
}

function secs(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))} s`;
}

/** The panel's rows, sorted by node id. Pure. */
export function cloudNodeRows(i: CloudNodeInputs): CloudNodeRow[] {
  const t = i.timings ?? defaultCloudNodeTimings;
  const hbs = new Map(i.heartbeats.map((h) => [h.nodeId, h]));
  const ids = new Set<string>([...hbs.keys(), ...i.clients.keys(), ...i.processes.keys()]);
  return [...ids].sort().map((nodeId) => {
    const hb = hbs.get(nodeId);
    const proc = i.processes.get(nodeId) ?? null;
    const clients = i.clients.get(nodeId) ?? [];
    const hbAgeMs = hb ? i.nowMs - hb.receivedMs : null;
    let health: CloudNodeHealth;
    let detail: string;
    if (proc && !proc.running) {
      health = CloudNodeHealth.Down;
      const when = proc.lastExitMs !== null ? ` ${secs(i.nowMs - proc.lastExitMs)} ago` : "";
      detail = `process ${proc.lastExit ?? "not running"}${when}; ${proc.state === "restarting" ? "restarting" : proc.state === "failed" ? "not restarted (gave up)" : proc.state}`;
    } else if (hbAgeMs !== null && hbAgeMs > t.heartbeatSuspectMs) {
      health = hbAgeMs > t.heartbeatDownMs ? CloudNodeHealth.Down : CloudNodeHealth.Suspect;
      detail = `no heartbeat for ${secs(hbAgeMs)}`;
    } else if (hbAgeMs !== null) {
      health = CloudNodeHealth.Up;
      detail = "heartbeating";
    } else if (clients.length > 0) {
      health = CloudNodeHealth.Up;
      detail = "connected; sends no heartbeats (no orchestration role)";
    } else {
      health = CloudNodeHealth.Unknown;
      detail = proc ? "starting: not connected to NATS yet" : "no heartbeat, no connection";
    }
    if (proc && proc.running && proc.pid !== null) detail += ` · pid ${proc.pid}${proc.restarts ? ` · restarted ${proc.restarts}×, last: ${proc.lastExit ?? "?"}` : ""}`;
    return {
      nodeId,
      roles: hb ? hb.roles : [],
      health,
      lastSeenMs: hb ? hb.receivedMs : clients.length > 0 ? i.nowMs : null,
      detail,
      natsClients: proc && !proc.running ? [] : clients.map(clientLabel),
      // A dead node's last heartbeat still lists its leases; they are another node's (or free) by now.
      leases: hb && health !== CloudNodeHealth.Down ? hb.leases : [],
      process: proc,
    };
  });
}
