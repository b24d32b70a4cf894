// Contracts of the operator dashboard. The HTTP server (server.ts) renders
// whatever a `DashboardSource` returns; the NATS implementation lives in
// nats-source.ts, an in-memory one in demo-source.ts. The source interface
// is deliberately narrow and read-only: the dashboard never writes to the
// system it shows.

import type { ShadowView } from "../shadow";
import type { MeshCounters } from "../state";
import type { EdgeExtras } from "./topology";
import type { DevicePresence } from "../../shared/device-presence";
import type { Liveness } from "../health";
import type { ProcessMetrics } from "../metrics";

/** Device presence as the dashboard shows it: the one device vocabulary. */
export { DevicePresence, devicePresences } from "../../shared/device-presence";

/** The latest reading of one channel of one device. */
export interface ChannelReading {
  channel: string;
  /** Unit as the device announced it ("C", "%", "ppm"), "" when unknown. */
  unit: string;
  value: number;
  timeMs: number;
}

/** One row of the device table. Unknown fields are null, never guessed. */
export interface DeviceRow {
  deviceId: string;
  /** Edge role: "sensor", "actuator", "gateway", "processing" or "unknown". */
  role: string;
  presence: DevicePresence;
  /** When the device entered its current presence (ms since epoch). */
  presenceSinceMs: number | null;
  /** Latest message of any kind from the device. */
  lastSeenMs: number | null;
  firmware: string | null;
  freeHeapBytes: number | null;
  rssiDbm: number | null;
  /** Site/zone from the device's Hello, "" when unknown. */
  location: string;
  /** Gateway the device is relayed through, "" when direct. */
  via: string;
  readings: ChannelReading[];
  /** CRDT counter values by name (G-Counter totals, PN-Counter values). */
  counters: Record<string, number>;
}

export interface FleetSnapshot {
  generatedMs: number;
  /** At most `devicesMax` rows (the source's own cap). */
  devices: DeviceRow[];
  /** True when the source had more devices than it returned. */
  truncated: boolean;
  /** Problems the source met (e.g. the state bucket does not exist yet). */
  errors: string[];
  /** Mesh counters merged across the devices that report them (absent: the source does not merge). */
  mesh?: MeshCounters;
}

/** One nats-server, from its monitoring endpoints (/varz, /jsz, /routez). */
export interface NatsServerRow {
  /** Monitoring URL the row was read from. */
  monitorUrl: string;
  /** False when the monitoring endpoint did not answer; `error` says why. */
  ok: boolean;
  error: string | null;
  name: string;
  version: string;
  uptime: string;
  connections: number;
  inMsgs: number;
  outMsgs: number;
  inBytes: number;
  outBytes: number;
  memBytes: number;
  cpuPct: number;
  /** Routes to other cluster members (0 for a single node). */
  routes: number;
  /** null when JetStream is disabled on this server. */
  jetstream: {
    streams: number;
    consumers: number;
    messages: number;
    bytes: number;
    /** Meta-group leader as this server sees it ("" outside a cluster). */
    metaLeader: string;
  } | null;
}

export interface ConsumerRow {
  name: string;
  /** Messages in the stream not yet delivered to this consumer. */
  pending: number;
  /** Delivered but not acknowledged. */
  ackPending: number;
  redelivered: number;
  /** Pull requests waiting (≈ idle workers). */
  waiting: number;
}

export interface StreamRow {
  name: string;
  subjects: string[];
  messages: number;
  bytes: number;
  replicas: number;
  /** Cluster leader of the stream ("" on a single node). */
  leader: string;
  consumers: ConsumerRow[];
  /** True when the stream had more consumers than were listed. */
  consumersTruncated: boolean;
  /** Ephemeral consumers (watchers, queries): counted, not listed. */
  ephemeralConsumers: number;
}

/** Health of a cloud node, in the heartbeat manager's words (cloud/health Liveness). */
export { Liveness as CloudNodeHealth } from "../health";

export interface CloudNodeRow {
  nodeId: string;
  /** "ingest", "api", "commands", "analytics", "orchestration"; empty when unknown. */
  roles: string[];
  health: Liveness;
  /** Last heartbeat (or, without heartbeats, when its connection was seen). */
  lastSeenMs: number | null;
  /** Free text: where the row came from, why it is down, … */
  detail: string;
  /** Its NATS connections as the servers see them: "client ip:port → server name". */
  natsClients?: string[];
  /** Singleton roles (leases) it holds, from its heartbeat. */
  leases?: string[];
  /** The process behind it, when the dashboard's host supervises it (`xsfleet up`). */
  process?: ProcessRow | null;
}

/**
 * A process the dashboard's host runs and supervises (`xsfleet up`: cloud
 * nodes and control-plane replicas). Its state comes from the exit code or
 * signal the host saw, so a killed process shows as down at once, before
 * any heartbeat times out.
 */
export interface ProcessRow {
  name: string;
  /** "cloud node", "control-plane replica". */
  kind: string;
  /** "starting", "running", "restarting", "failed", "stopping", "stopped". */
  state: string;
  running: boolean;
  pid: number | null;
  restarts: number;
  /** "killed by SIGKILL", "exited with code 1"; null while the first run lasts. */
  lastExit: string | null;
  lastExitMs: number | null;
  /** Its NATS connections, "client ip:port → server name" (filled in by the source where it can tell). */
  natsClients?: string[];
}

/** Fleet-wide throughput and backlog; null when the source cannot tell. */
export interface TrafficSummary {
  /** Messages into the NATS servers per second, summed over servers. */
  msgsPerSec: number | null;
  /** Decoded telemetry points appended to history per second. */
  pointsPerSec: number | null;
  /** Sum of pending + ack-pending over all consumers. */
  consumerLag: number | null;
  /** Messages held in the dead-letter stream. */
  deadLetters: number | null;
}

export interface ClusterSnapshot {
  generatedMs: number;
  servers: NatsServerRow[];
  streams: StreamRow[];
  cloudNodes: CloudNodeRow[];
  /** Supervised processes of the host (cloud nodes and control-plane replicas); empty when not run by `xsfleet up`. */
  processes: ProcessRow[];
  traffic: TrafficSummary;
  /** Problems the source met while collecting (partial data is still shown). */
  errors: string[];
}

/** What a source reports; the server assigns `id`. */
export interface DashboardEventInput {
  timeMs: number;
  /** "online", "offline", "command-acked", "command-expired", "detection", … */
  kind: string;
  /** Device the event is about, "" for cloud-side events. */
  deviceId: string;
  /** One line for people. */
  summary: string;
  /** Structured payload, kept small by the server (eventDetailBytesMax). */
  detail?: unknown;
}

export interface DashboardEvent extends DashboardEventInput {
  /** Strictly increasing per server; used as the SSE event id. */
  id: number;
}

export type DashboardEventListener = (event: DashboardEventInput) => void;

export interface HistoryQuery {
  deviceId: string;
  channel: string;
  fromMs: number;
  toMs: number;
  limit: number;
}

export interface HistoryPoint {
  timeMs: number;
  value: number;
}

/** One alert of the analytics role (the API's alerts.list), as the Alerts panel shows it. */
export interface AlertRow {
  ruleId: string;
  /** The alert's key: a device id, or a group key. */
  key: string;
  episode: number;
  state: "raised" | "acknowledged" | "cleared";
  reason: string;
  value: number | null;
  /** When it entered its current state (raised, acked or cleared at). */
  sinceMs: number;
  raisedAtMs: number;
  ackedBy: string | null;
}

/** Which alert episode an operator acknowledges (POST /api/alerts/ack). */
export interface AlertAckInput {
  ruleId: string;
  key: string;
  episode: number;
}

export interface WindowsQuery {
  deviceId: string;
  fromMs: number;
  toMs: number;
  limit: number;
}

/** One window result of a device (the API's analytics.windows): mean with its min/max band. */
export interface WindowRow {
  operator: string;
  channel: string;
  startMs: number;
  endMs: number;
  count: number;
  min: number;
  max: number;
  mean: number;
  final: boolean;
}

export interface WindowsView {
  windows: WindowRow[];
  truncated: boolean;
}

/** Everything the dashboard shows comes through here. */
export interface DashboardSource {
  fleet(): Promise<FleetSnapshot>;
  cluster(): Promise<ClusterSnapshot>;
  /** Live feed; returns the unsubscribe function. Listeners must not throw. */
  events(listener: DashboardEventListener): () => void;
  /** Optional stored telemetry for the plot: the newest `limit` points of the range, in time order. */
  history?(query: HistoryQuery): Promise<HistoryPoint[]>;
  /** Optional device shadow (cloud/shadow): desired, reported, siblings, delta; null when there is none. */
  shadow?(deviceId: string): Promise<ShadowView | null>;
  /** Optional edge extras for the topology view: edge jobs (the API's edge.jobs) and the host's own mesh. */
  edge?(): Promise<EdgeExtras>;
  /** Optional current alerts (the API's alerts.list, newest first); throws ApiCallError when the API does not answer. */
  alerts?(): Promise<AlertRow[]>;
  /** Optional: acknowledges one alert episode (the API's alerts.ack) and returns it; throws ApiCallError. */
  ackAlert?(ack: AlertAckInput): Promise<AlertRow>;
  /** Optional window results of one device (the API's analytics.windows); throws ApiCallError. */
  windows?(query: WindowsQuery): Promise<WindowsView>;
}

export interface DashboardOptions {
  port: number;
  /** Default 127.0.0.1: the dashboard has no authentication. */
  host?: string;
  source: DashboardSource;
  limits?: Partial<DashboardLimits>;
  /** Injected clock (ms since epoch). */
  now?: () => number;
  /** The process's metrics registry, served on /metrics with the dashboard's own (default: a registry of its own). */
  metrics?: ProcessMetrics;
}

export interface DashboardHandle {
  url: string;
  stop(): Promise<void>;
}

export interface DashboardLimits {
  /** Largest page of devices one /api/fleet request returns. */
  devicesPageMax: number;
  /** Concurrent Server-Sent-Events clients; more get a 503. */
  sseClientsMax: number;
  /** Recent events kept for new SSE clients and reconnects. */
  eventBufferMax: number;
  /** Serialized size of one event's `detail`; larger details are replaced. */
  eventDetailBytesMax: number;
  /** Bytes queued to one slow SSE client before it is dropped. */
  sseClientBacklogBytesMax: number;
  /** Points one /api/history request may ask for. */
  historyPointsMax: number;
  /** Widest time range of one /api/history request. */
  historySpanMsMax: number;
  /** Snapshots are cached this long so many open pages cost one source call. */
  snapshotTtlMs: number;
  /** A source call slower than this fails the request with a 504. */
  sourceTimeoutMs: number;
  /** Interval of SSE keep-alive comments. */
  sseKeepAliveMs: number;
  /** Longest accepted request URL. */
  urlBytesMax: number;
  /** Largest OTLP/HTTP body (also after gunzip) POST /v1/traces accepts; larger: 413. */
  otlpBodyBytesMax: number;
  /** Traces kept in the ring, spans kept per trace and in all (trace-store.ts). */
  tracesMax: number;
  traceSpansMax: number;
  traceStoreSpansMax: number;
  /** Largest body POST /api/alerts/ack accepts; larger: 413. */
  alertAckBodyBytesMax: number;
  /** Window results one /api/windows request may ask for, and its widest time range. */
  windowsMax: number;
  windowsSpanMsMax: number;
}

export const defaultDashboardLimits: DashboardLimits = {
  devicesPageMax: 200,
  sseClientsMax: 32,
  eventBufferMax: 500,
  eventDetailBytesMax: 2048,
  sseClientBacklogBytesMax: 256 * 1024,
  historyPointsMax: 2000,
  historySpanMsMax: 7 * 24 * 3600_000,
  snapshotTtlMs: 1000,
  sourceTimeoutMs: 10_000,
  sseKeepAliveMs: 15_000,
  urlBytesMax: 2048,
  otlpBodyBytesMax: 4 * 1024 * 1024,
  tracesMax: 500,
  traceSpansMax: 256,
  traceStoreSpansMax: 20_000,
  alertAckBodyBytesMax: 4096,
  windowsMax: 1000,
  windowsSpanMsMax: 24 * 3600_000,
};
