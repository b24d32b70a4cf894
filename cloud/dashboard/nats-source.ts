// DashboardSource over a running xsfleet system:
//  - devices: a live mirror of the device state bucket (cloud/state's
//    DeviceStateMirror, one KV watch), so a fleet snapshot costs no NATS
//    round trips however many pages are open, and nothing lists keys;
//  - events: a subscription to xsfleet.v1.events.> (ingest presence events,
//    command-acked/expired from cloud/commands, detections from analytics);
//  - cluster: nats-server monitoring endpoints (/varz, /jsz, /routez, /connz)
//    plus stream and consumer info from the JetStream API; cloud nodes from
//    their heartbeats (roles, leases), /connz (client addresses) and, under
//    `xsfleet up`, the supervised processes (cloud-nodes.ts);
//  - history: cloud/history's queryHistory over XSF_HIST, newest points;
//  - alerts and window results: the management API's alerts.list,
//    alerts.ack and analytics.windows (one request each; alerts.ack is the
//    one write, an operator's acknowledgement).
// It never creates streams, buckets or durable consumers.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { deviceRoleFromWire } from "../../shared/device-role";
import { isDeviceId } from "../../shared/topics";
import { queryHistory } from "../history";
import { decodeHeartbeat } from "../membership";
import { allAlertsSubject, allDeviceEventsSubject, allHeartbeatsSubject, apiSubject } from "../subjects";
import { DeviceStateMirror, mergeMeshCounters, type DeviceState } from "../state";
import { edgeJobRows, type EdgeExtras, type EdgeJobRow, type LocalMesh } from "./topology";
import { Kvm } from "@nats-io/kv";
import { ShadowStore, shadowBucket, type ShadowView } from "../shadow";
import {
  cloudNodeRows, clientLabel, defaultCloudNodeTimings, HeartbeatTable, natsClientsFromConnz, type NatsClient,
} from "./cloud-nodes";
import {
  cloudNodeFromHealth, fetchMonitorJson, mergeCloudNodes, monitorEndpoint, serverRow, unreachableServerRow, connzLimitMax,
} from "./nats-monitor";
import { RateMeter, RateMeters } from "./rates";
import { ackedAlert, alertRows, ApiCallError, dashboardStatusOfApiError, windowRows } from "./alerts";
import {
  type ChannelReading, type CloudNodeRow, type ClusterSnapshot, type ConsumerRow, type DashboardEventInput,
  type DashboardEventListener, type DashboardSource, type DeviceRow, type FleetSnapshot, type HistoryPoint, type HistoryQuery,
  type NatsServerRow, type ProcessRow, type StreamRow, type AlertAckInput, type AlertRow, type WindowsQuery, type WindowsView,
} from "./types";

export interface NatsDashboardSourceOptions {
  nc: NatsConnection;
  /** nats-server monitoring base URLs, e.g. http://127.0.0.1:8222 (one per server). */
  monitorUrls: string[];
  /** Devices kept in the mirror; more are counted as truncated. */
  devicesMax?: number;
  /** Readings shown per device. */
  readingsPerDeviceMax?: number;
  streamsMax?: number;
  consumersPerStreamMax?: number;
  monitorTimeoutMs?: number;
  /** Event subscriptions (one per dashboard server, normally). */
  listenersMax?: number;
  /** Largest event payload decoded; larger ones are reported by size only. */
  eventPayloadBytesMax?: number;
  /** Cloud nodes; by default from heartbeats, /connz (connections named `${cloudConnectionPrefix}<nodeId>`) and `processes`. */
  cloudNodes?: () => Promise<CloudNodeRow[]>;
  /** Processes the host supervises (`xsfleet up`): a dead one shows as down at once. */
  processes?: () => ProcessRow[];
  /** The host's own events (process exits and restarts) for the live feed; returns the unsubscribe function. */
  hostEvents?: (listener: DashboardEventListener) => () => void;
  /** The mesh the host runs itself (`xsfleet up`): its peers' convergence, for the topology view. */
  meshLocal?: () => LocalMesh | null;
  /** Cloud nodes' /healthz URLs (cloud/metrics endpoint): adds roles and starting/draining/disconnected. */
  cloudHealthUrls?: string[];
  cloudConnectionPrefix?: string;
  /** Connection names that are not cloud nodes (e.g. a standalone dashboard's own). */
  excludeConnectionNames?: string[];
  deadLetterStream?: string;
  /** Serve /api/history from XSF_HIST (default true). */
  history?: boolean;
  /** Per-request timeout of the management API calls (alerts, windows); default 5 s. */
  apiTimeoutMs?: number;
  /** Alerts one alerts.list asks for (the API allows 1..1000); default 200. */
  alertsMax?: number;
  /** How long to wait before re-opening a missing bucket or a failed watch. */
  retryMs?: number;
  now?: () => number;
}

const dec = new TextDecoder();

/** DeviceState (cloud/state) → dashboard row. Pure. */
export function deviceRow(st: DeviceState, readingsMax: number): DeviceRow {
  const hello = st.hello;
  const order = hello ? hello.channels.map((c) => c.name) : [];
  const readings: ChannelReading[] = Object.entries(st.readings)
    .map(([channel, r]) => ({ channel, unit: r.unit, value: r.v, timeMs: r.t }))
    .sort((a, b) => rank(order, a.channel) - rank(order, b.channel) || a.channel.localeCompare(b.channel))
    .slice(0, readingsMax);
  const counters: Record<string, number> = {};
  for (const [name, c] of Object.entries(st.counters)) counters[name] = c.value;
  const loc = hello?.location;
  return {
    deviceId: st.deviceId,
    role: !hello || hello.role === 0 ? "unknown" : deviceRoleFromWire(hello.role) ?? `role-${hello.role}`,
    presence: st.presence.state,
    presenceSinceMs: st.presence.sinceMs > 0 ? st.presence.sinceMs : null,
    lastSeenMs: st.lastSeenMs > 0 ? st.lastSeenMs : null,
    firmware: hello?.firmwareVersion || null,
    freeHeapBytes: st.heartbeat?.freeHeapBytes ?? hello?.resources?.freeHeapBytes ?? null,
    rssiDbm: st.heartbeat ? st.heartbeat.rssiDbm : null,
    location: loc ? [loc.site, loc.zone].filter((x) => x !== "").join("/") : "",
    via: st.via ?? "",
    readings,
    counters,
  };
}

function rank(order: readonly string[], channel: string): number {
  const i = order.indexOf(channel);
  return i < 0 ? order.length : i;
}

type Json = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** A message on xsfleet.v1.events.<device>.<event> → dashboard event. Pure; null when not ours. */
export function eventFromMessage(subject: string, data: Uint8Array, nowMs: number, payloadBytesMax: number): DashboardEventInput | null {
  const parts = subject.split(".");
  if (parts.length !== 5 || parts[0] !== "xsfleet" || parts[1] !== "v1" || parts[2] !== "events") return null;
  const deviceId = parts[3]!;
  const kind = parts[4]!;
  if (!isDeviceId(deviceId) || !/^[a-z0-9-]{1,64}$/.test(kind)) return null;
  let p: Json = {};
  if (data.length > payloadBytesMax) {
    return { timeMs: nowMs, kind, deviceId, summary: `${kind} (payload of ${data.length} bytes not shown)` };
  }
  if (data.length > 0) {
    try {
      const v: unknown = JSON.parse(dec.decode(data));
      if (typeof v === "object" && v !== null && !Array.isArray(v)) p = v as Json;
    } catch {
      return { timeMs: nowMs, kind, deviceId, summary: `${kind} (payload is not JSON)` };
    }
  }
  const timeMs = num(p.atMs) ?? num(p.timeMs) ?? num(obj(p.ack).ackedMs) ?? num(p.expiredMs) ?? nowMs;
  return { timeMs, kind, deviceId, summary: summarize(kind, p), detail: p };
}

function obj(v: unknown): Json {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {};
}

function summarize(kind: string, p: Json): string {
  const reason = str(p.reason);
  switch (kind) {
    case "online":
    case "offline": {
      const via = str(p.source);
      return `device ${kind}${via ? ` (${via}${reason ? `: ${reason}` : ""})` : reason ? ` (${reason})` : ""}`;
    }
    case "command-acked": {
      const ack = obj(p.ack);
      const status = str(ack.status);
      const msg = str(ack.message);
      return `command ${str(p.name) || "?"} ${str(p.commandId)} acked${status ? ` ${status}` : ""}${msg ? `: ${msg}` : ""}`;
    }
    case "command-expired":
      return `command ${str(p.name) || "?"} ${str(p.commandId)} expired after ${num(p.attempts) ?? "?"} attempts`;
    default:
      return str(p.summary) || str(p.message) || reason || kind;
  }
}

export class NatsDashboardSource implements DashboardSource {
  readonly #nc: NatsConnection;
  readonly #o: Required<Omit<NatsDashboardSourceOptions, "nc" | "cloudNodes" | "processes" | "hostEvents" | "meshLocal">> & {
    cloudNodes?: () => Promise<CloudNodeRow[]>; processes?: () => ProcessRow[]; hostEvents?: (l: DashboardEventListener) => () => void;
    meshLocal?: () => LocalMesh | null;
  };
  readonly #devices: DeviceStateMirror;
  readonly #heartbeats = new HeartbeatTable();
  #jsm: Promise<JetStreamManager> | null = null;
  readonly #subs = new Set<Subscription>();
  readonly #msgRates = new RateMeters(64);
  readonly #pointRate = new RateMeter();
  history?: (q: HistoryQuery) => Promise<HistoryPoint[]>;

  constructor(opts: NatsDashboardSourceOptions) {
    this.#nc = opts.nc;
    this.#o = {
      monitorUrls: opts.monitorUrls,
      devicesMax: opts.devicesMax ?? 10_000,
      readingsPerDeviceMax: opts.readingsPerDeviceMax ?? 16,
      streamsMax: opts.streamsMax ?? 64,
      consumersPerStreamMax: opts.consumersPerStreamMax ?? 32,
      monitorTimeoutMs: opts.monitorTimeoutMs ?? 2000,
      listenersMax: opts.listenersMax ?? 16,
      eventPayloadBytesMax: opts.eventPayloadBytesMax ?? 8192,
      cloudNodes: opts.cloudNodes,
      processes: opts.processes,
      hostEvents: opts.hostEvents,
      ...(opts.meshLocal ? { meshLocal: opts.meshLocal } : {}),
      cloudConnectionPrefix: opts.cloudConnectionPrefix ?? "xsfleet-",
      excludeConnectionNames: opts.excludeConnectionNames ?? [],
      cloudHealthUrls: opts.cloudHealthUrls ?? [],
      deadLetterStream: opts.deadLetterStream ?? "XSF_DLQ",
      history: opts.history ?? true,
      retryMs: opts.retryMs ?? 2000,
      apiTimeoutMs: opts.apiTimeoutMs ?? 5000,
      alertsMax: Math.min(1000, Math.max(1, opts.alertsMax ?? 200)),
      now: opts.now ?? Date.now,
    };
    if (opts.monitorUrls.length > 64) throw new Error(`at most 64 monitor URLs, got ${opts.monitorUrls.length}`);
    if ((opts.cloudHealthUrls ?? []).length > 64) throw new Error(`at most 64 cloud health URLs, got ${opts.cloudHealthUrls!.length}`);
    for (const u of [...opts.monitorUrls, ...(opts.cloudHealthUrls ?? [])]) {
      if (!/^https?:\/\//.test(u)) throw new Error(`monitor URL must start with http:// or https://, got ${JSON.stringify(u)}`);
    }
    this.#devices = new DeviceStateMirror(this.#nc, { devicesMax: this.#o.devicesMax, retryMs: this.#o.retryMs });
    if (this.#o.history) {
      const js = jetstream(this.#nc);
      this.history = async (q) => {
        const r = await queryHistory(js, { deviceId: q.deviceId, channel: q.channel, fromMs: q.fromMs, toMs: q.toMs, limit: q.limit, newest: true });
        return r.points.map((p) => ({ timeMs: p.t, value: p.v }));
      };
    }
  }

  #shadows: ShadowStore | null = null;

  /** A device's shadow, read from the shadow bucket (never created here: the dashboard only reads); null before any. */
  async shadow(deviceId: string): Promise<ShadowView | null> {
    // Binding does not check the bucket; a missing one shows as "stream not found" on the read.
    this.#shadows ??= new ShadowStore(this.#nc, await new Kvm(this.#nc).open(shadowBucket), { events: false });
    let v: ShadowView;
    try {
      v = await this.#shadows.get(deviceId);
    } catch (e) {
      if (/stream not found/i.test((e as Error).message)) return null;
      throw e;
    }
    return v.desired.writers.length + v.reported.writers.length === 0 ? null : v;
  }

  /** Starts mirroring device state (retries until the bucket exists) and listening to cloud-node heartbeats. */
  start(): void {
    this.#devices.start();
    this.#subs.add(this.#nc.subscribe(allHeartbeatsSubject, {
      callback: (err, msg) => {
        if (err) return;
        const hb = decodeHeartbeat(msg.data);
        if (hb.ok) this.#heartbeats.record(hb.value, this.#o.now());
      },
    }));
    // A first sample of the servers' message counters, so the first cluster
    // snapshot already has a rate.
    void this.#servers().then((servers) => { this.#sampleMsgRates(servers, this.#o.now()); });
  }

  #sampleMsgRates(servers: readonly NatsServerRow[], nowMs: number): number | null {
    return this.#msgRates.sampleAll(new Map(servers.filter((s) => s.ok).map((s) => [s.monitorUrl, s.inMsgs])), nowMs);
  }

  async close(): Promise<void> {
    this.#devices.stop();
    for (const s of this.#subs) s.unsubscribe();
    this.#subs.clear();
  }

  /** Number of devices mirrored (for tests and the status line). */
  get deviceCount(): number {
    return this.#devices.size;
  }

  async fleet(): Promise<FleetSnapshot> {
    const states = [...this.#devices.devices()];
    const devices = states.map((d) => deviceRow(d, this.#o.readingsPerDeviceMax));
    return {
      generatedMs: this.#o.now(),
      devices,
      truncated: this.#devices.droppedIds > 0,
      errors: this.#devices.error ? [this.#devices.error] : [],
      mesh: mergeMeshCounters(states),
    };
  }

  /** Edge jobs from the API's edge.jobs (null when no node answers it) and the host's own mesh. */
  async edge(): Promise<EdgeExtras> {
    let jobs: EdgeJobRow[] | null = null;
    try {
      const m = await this.#nc.request(apiSubject("edge.jobs"), "{}", { timeout: this.#o.monitorTimeoutMs });
      jobs = edgeJobRows(JSON.parse(dec.decode(m.data)) as unknown);
    } catch {
      jobs = null; // no responders, a timeout, an error reply or not JSON: the page leaves the part out
    }
    return { jobs, meshLocal: this.#o.meshLocal?.() ?? null };
  }

  /** One request to the management API; its error replies and silence become ApiCallError. */
  async #api(endpoint: string, body: object): Promise<unknown> {
    const subject = apiSubject(endpoint);
    let m;
    try {
      m = await this.#nc.request(subject, JSON.stringify(body), { timeout: this.#o.apiTimeoutMs });
    } catch (e) {
      const text = (e as Error).message ?? String(e);
      if (/no responders/i.test(text)) throw new ApiCallError(`no node serves ${endpoint}: start one with the api role`, 503);
      if (/timeout/i.test(text)) throw new ApiCallError(`${endpoint} did not answer within ${this.#o.apiTimeoutMs} ms`, 504);
      throw new ApiCallError(`${endpoint} failed: ${text}`, 502);
    }
    // The API's error replies carry their status in the Nats-Service-Error-Code header (cloud/api client.ts).
    const code = m.headers?.get("Nats-Service-Error-Code") ?? "";
    if (code !== "") {
      const message = m.headers?.get("Nats-Service-Error") || code;
      throw new ApiCallError(`${endpoint}: ${message}`, dashboardStatusOfApiError(parseInt(code, 10) || 500));
    }
    try {
      return JSON.parse(dec.decode(m.data)) as unknown;
    } catch {
      throw new ApiCallError(`${endpoint} replied with something that is not JSON`, 502);
    }
  }

  /** Current alerts, newest first (alerts.list; at most alertsMax). */
  async alerts(): Promise<AlertRow[]> {
    return alertRows(await this.#api("alerts.list", { limit: this.#o.alertsMax }));
  }

  async ackAlert(ack: AlertAckInput): Promise<AlertRow> {
    return ackedAlert(await this.#api("alerts.ack", { ruleId: ack.ruleId, key: ack.key, episode: ack.episode, by: "dashboard" }));
  }

  async windows(q: WindowsQuery): Promise<WindowsView> {
    return windowRows(await this.#api("analytics.windows", { deviceId: q.deviceId, fromMs: q.fromMs, toMs: q.toMs, limit: q.limit }));
  }

  events(listener: DashboardEventListener): () => void {
    if (this.#subs.size > this.#o.listenersMax) throw new Error(`more than ${this.#o.listenersMax} event listeners`);
    const sub = this.#nc.subscribe(allDeviceEventsSubject, {
      callback: (err, msg) => {
        if (err) return;
        const ev = eventFromMessage(msg.subject, msg.data, this.#o.now(), this.#o.eventPayloadBytesMax);
        if (ev) listener(ev);
      },
    });
    this.#subs.add(sub);
    // Alerts of the analytics role (raised, acknowledged, cleared) join the live feed; replayed copies share an id.
    const seen = new Set<string>();
    const alerts = this.#nc.subscribe(allAlertsSubject, {
      callback: (err, msg) => {
        if (err) return;
        const ev = alertEventFromMessage(msg.data, this.#o.now(), this.#o.eventPayloadBytesMax);
        if (!ev || seen.has(ev.id)) return;
        if (seen.size >= 10_000) seen.clear();
        seen.add(ev.id);
        listener(ev.event);
      },
    });
    this.#subs.add(alerts);
    const offHost = this.#o.hostEvents?.(listener);
    return () => {
      offHost?.();
      if (this.#subs.delete(sub)) sub.unsubscribe();
      if (this.#subs.delete(alerts)) alerts.unsubscribe();
    };
  }

  /** Resolves once the subscriptions made so far are known to the server. */
  async flush(): Promise<void> {
    await this.#nc.flush();
  }

  async cluster(): Promise<ClusterSnapshot> {
    const errors: string[] = [];
    const [servers, streams, clients] = await Promise.all([
      this.#servers(),
      this.#streams().catch((e: unknown) => { errors.push(`JetStream: ${(e as Error).message}`); return [] as StreamRow[]; }),
      this.#natsClients(),
    ]);
    const nowMs = this.#o.now();
    const names = new Map(servers.map((s) => [s.monitorUrl, s.ok && s.name ? s.name : s.monitorUrl]));
    const named = clients.map((c) => ({ ...c, server: names.get(c.server) ?? c.server }));
    const processes = this.#processes(named);
    const cloudNodes = await this.#cloudNodes(named, processes, nowMs)
      .catch((e: unknown) => { errors.push(`cloud nodes: ${(e as Error).message}`); return [] as CloudNodeRow[]; });
    for (const s of servers) if (!s.ok) errors.push(`${s.monitorUrl}: ${s.error ?? "unreachable"}`);
    let points = 0;
    for (const d of this.#devices.devices()) points += d.telemetry.points;
    const dlq = streams.find((s) => s.name === this.#o.deadLetterStream);
    let lag = 0;
    for (const s of streams) for (const c of s.consumers) lag += c.pending + c.ackPending;
    return {
      generatedMs: nowMs,
      servers,
      streams,
      cloudNodes,
      processes,
      traffic: {
        msgsPerSec: this.#sampleMsgRates(servers, nowMs),
        pointsPerSec: this.#devices.size > 0 ? this.#pointRate.sample(points, nowMs) : null,
        consumerLag: streams.length > 0 ? lag : null,
        deadLetters: dlq ? dlq.messages : streams.length > 0 ? 0 : null,
      },
      errors,
    };
  }

  async #servers(): Promise<NatsServerRow[]> {
    const t = this.#o.monitorTimeoutMs;
    return Promise.all(this.#o.monitorUrls.map(async (url) => {
      try {
        const [varz, jsz, routez] = await Promise.all([
          fetchMonitorJson(monitorEndpoint(url, "/varz"), t),
          fetchMonitorJson(monitorEndpoint(url, "/jsz"), t).catch(() => null),
          fetchMonitorJson(monitorEndpoint(url, "/routez"), t).catch(() => null),
        ]);
        return serverRow(url, varz, jsz, routez);
      } catch (e) {
        return unreachableServerRow(url, (e as Error).message);
      }
    }));
  }

  async #manager(): Promise<JetStreamManager> {
    this.#jsm ??= jetstreamManager(this.#nc, { timeout: this.#o.monitorTimeoutMs }).catch((e: unknown) => {
      this.#jsm = null;
      throw e;
    });
    return this.#jsm;
  }

  async #streams(): Promise<StreamRow[]> {
    const jsm = await this.#manager();
    const rows: StreamRow[] = [];
    for await (const si of jsm.streams.list()) {
      if (rows.length >= this.#o.streamsMax) break;
      const consumers: ConsumerRow[] = [];
      let consumersTruncated = false;
      let ephemeralConsumers = 0;
      for await (const ci of jsm.consumers.list(si.config.name)) {
        // Ephemeral consumers (KV watchers such as this source's own, history
        // queries, ordered readers) come and go: counted, not listed, no lag.
        if (!ci.config.durable_name) { ephemeralConsumers++; continue; }
        if (consumers.length >= this.#o.consumersPerStreamMax) { consumersTruncated = true; break; }
        consumers.push({
          name: ci.name, pending: ci.num_pending, ackPending: ci.num_ack_pending, redelivered: ci.num_redelivered, waiting: ci.num_waiting,
        });
      }
      rows.push({
        name: si.config.name,
        subjects: si.config.subjects ?? [],
        messages: si.state.messages,
        bytes: si.state.bytes,
        replicas: si.config.num_replicas,
        leader: si.cluster?.leader ?? "",
        consumers,
        consumersTruncated,
        ephemeralConsumers,
      });
    }
    // xsfleet's own streams first, then KV buckets, then the rest (MQTT's).
    const group = (n: string): number => (n.startsWith("XSF_") ? 0 : n.startsWith("KV_") ? 1 : 2);
    return rows.sort((a, b) => group(a.name) - group(b.name) || a.name.localeCompare(b.name));
  }

  /** Named client connections on every server (server = its monitor URL until named). */
  async #natsClients(): Promise<NatsClient[]> {
    const answers = await Promise.all(this.#o.monitorUrls.map(async (url) => {
      try {
        return { server: url, connz: await fetchMonitorJson(monitorEndpoint(url, `/connz?limit=${connzLimitMax}`), this.#o.monitorTimeoutMs) };
      } catch {
        return null;
      }
    }));
    return natsClientsFromConnz(answers.filter((a) => a !== null));
  }

  /** The host's supervised processes, with the NATS connections of control-plane replicas. */
  #processes(clients: readonly NatsClient[]): ProcessRow[] {
    const rows = this.#o.processes?.() ?? [];
    return rows.map((p) => {
      const id = /^control-(\d+)$/.exec(p.name)?.[1];
      if (id === undefined || !p.running) return p;
      const mine = clients.filter((c) => c.name === `${controlPlaneConnectionPrefix}${id}`).map(clientLabel);
      return { ...p, natsClients: mine };
    });
  }

  async #cloudNodes(clients: readonly NatsClient[], processes: readonly ProcessRow[], nowMs: number): Promise<CloudNodeRow[]> {
    if (this.#o.cloudNodes) return this.#o.cloudNodes();
    const prefix = this.#o.cloudConnectionPrefix;
    const exclude = new Set(this.#o.excludeConnectionNames);
    const byNode = new Map<string, NatsClient[]>();
    for (const c of clients) {
      if (!c.name.startsWith(prefix) || exclude.has(c.name) || c.name.startsWith(controlPlaneConnectionPrefix)) continue;
      const nodeId = c.name.slice(prefix.length).replace(/#\d+$/, "");
      if (nodeId === "") continue;
      byNode.set(nodeId, [...(byNode.get(nodeId) ?? []), c]);
    }
    const procs = new Map(processes.filter((p) => p.kind === "cloud node").map((p) => [p.name, p]));
    const rows = cloudNodeRows({
      heartbeats: this.#heartbeats.list(nowMs, defaultCloudNodeTimings.heartbeatForgetMs), clients: byNode, processes: procs, nowMs,
    });
    if (this.#o.cloudHealthUrls.length === 0) return rows;
    const fromHealth = await Promise.all(this.#o.cloudHealthUrls.map(async (url) => {
      try {
        return cloudNodeFromHealth(url, await fetchMonitorJson(url, this.#o.monitorTimeoutMs, [503]), null, nowMs);
      } catch (e) {
        return cloudNodeFromHealth(url, null, (e as Error).message, nowMs);
      }
    }));
    return mergeCloudNodes(fromHealth, rows);
  }
}

/** NATS connection name of control-plane replica N (cloud/controlplane/main.ts). */
export const controlPlaneConnectionPrefix = "xsfleet-controlplane-";

/** Creates the source and starts its device-state mirror. Call close() when done. */
export function createNatsDashboardSource(opts: NatsDashboardSourceOptions): NatsDashboardSource {
  const src = new NatsDashboardSource(opts);
  src.start();
  return src;
}

/** An alert event (cloud/analytics AlertEvent JSON) as a dashboard event: kind `alert-<state>`, the alert's key as the device. */
export function alertEventFromMessage(data: Uint8Array, nowMs: number, bytesMax: number): { id: string; event: DashboardEventInput } | null {
  if (data.byteLength > bytesMax) return null;
  try {
    const j = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
    const { id, ruleId, key, state, reason, episode } = j;
    if (typeof id !== "string" || typeof ruleId !== "string" || typeof key !== "string" || typeof state !== "string") return null;
    return {
      id,
      event: {
        timeMs: nowMs, kind: `alert-${state}`, deviceId: isDeviceId(key) ? key : "",
        summary: `alert ${ruleId} on ${key} (episode ${String(episode)}) ${state}: ${typeof reason === "string" ? reason : ""}`, detail: j,
      },
    };
  } catch {
    return null;
  }
}
