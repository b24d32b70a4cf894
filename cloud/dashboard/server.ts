// The operator dashboard over plain node:http: one self-contained page plus
// JSON and Server-Sent-Events endpoints, all fed by a DashboardSource.
//
//   GET /               the page (inline CSS/JS, no external assets)
//   GET /api/fleet      one page of devices + fleet totals (?offset&limit&q&presence&role&sort&order)
//   GET /api/cluster    NATS servers, streams/consumers, cloud nodes, traffic
//   GET /api/topology   gateways and their children, mesh counters merged across reporters, edge jobs (topology.ts)
//   GET /api/events     Server-Sent Events: recent events, then live ones (?after or Last-Event-ID)
//   GET /api/history    stored readings for the plot: the newest `limit` in [fromMs, toMs] (?device&channel&fromMs&toMs&limit)
//   GET /api/shadow     one device's shadow: desired, reported, siblings, delta (?device)
//   GET /api/alerts     current alerts of the analytics role (the API's alerts.list)
//   POST /api/alerts/ack acknowledge one alert episode {ruleId, key, episode} (the API's alerts.ack; the one write)
//   GET /api/windows    one device's window results for the chart (the API's analytics.windows; ?device&fromMs&toMs&limit)
//   GET /healthz        liveness of the dashboard itself
//   GET /metrics        Prometheus metrics of the dashboard process (SSE clients, events, requests)
//   POST /v1/traces     OTLP/HTTP trace receiver (protobuf or JSON) for the stack's processes (otlp-receiver.ts)
//   GET /api/traces     recent traces, newest first (?device&limit); GET /api/traces/<trace id>: its spans
//
// Bounded everywhere: page size, SSE clients, per-client backlog, event ring,
// event detail size, history span/points, URL length, and source calls are
// cached (one call per snapshotTtlMs however many pages are open) and timed out.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createProcessMetrics, metricsHandler } from "../metrics";
import { ApiCallError, parseAckBody } from "./alerts";
import { EventBuffer } from "./event-buffer";
import { receiveOtlp, type OtlpReceiverStats } from "./otlp-receiver";
import { TraceStore } from "./trace-store";
import { dashboardPage } from "./page";
import { intParam, pageFleet, parseFleetQuery, parseHistoryQuery, parseShadowQuery, parseWindowsQuery, QueryError } from "./query";
import { topologyView, type EdgeExtras } from "./topology";
import {
  defaultDashboardLimits, type DashboardEvent, type DashboardHandle, type DashboardLimits, type DashboardOptions,
  type DashboardSource,
} from "./types";

/** A source call that did not answer within sourceTimeoutMs. */
class SourceTimeout extends Error {}

/** Caches one source call for ttlMs and shares an in-flight call between requests. */
class CachedCall<T> {
  #value: { atMs: number; value: T } | null = null;
  #inflight: Promise<T> | null = null;

  constructor(
    private readonly call: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly timeoutMs: number,
    private readonly now: () => number,
  ) {}

  /** Forgets the cached value (after a write that changes it). */
  invalidate(): void {
    this.#value = null;
  }

  get(): Promise<T> {
    const cached = this.#value;
    if (cached && this.now() - cached.atMs < this.ttlMs) return Promise.resolve(cached.value);
    if (this.#inflight) return this.#inflight;
    const started = this.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SourceTimeout(`source did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    const p = Promise.race([this.call(), timeout])
      .then((value) => { this.#value = { atMs: started, value }; return value; })
      .finally(() => { clearTimeout(timer); this.#inflight = null; });
    this.#inflight = p;
    return p;
  }
}

interface SseClient {
  res: ServerResponse;
  keepAlive: NodeJS.Timeout;
}

const securityHeaders = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...securityHeaders, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}

/** The request body as text, or null once it exceeds bytesMax (the rest is drained, not kept). */
function readBody(req: IncomingMessage, bytesMax: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= bytesMax) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > bytesMax ? null : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function validateLimits(l: DashboardLimits): void {
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`dashboard limit ${k} must be a positive integer, got ${String(v)}`);
  }
}

export async function startDashboard(opts: DashboardOptions): Promise<DashboardHandle> {
  const limits: DashboardLimits = { ...defaultDashboardLimits, ...opts.limits };
  validateLimits(limits);
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new Error(`dashboard port must be 0..65535, got ${String(opts.port)}`);
  }
  const host = opts.host ?? "127.0.0.1";
  const now = opts.now ?? Date.now;
  const source: DashboardSource = opts.source;
  const fleet = new CachedCall(() => source.fleet(), limits.snapshotTtlMs, limits.sourceTimeoutMs, now);
  const cluster = new CachedCall(() => source.cluster(), limits.snapshotTtlMs, limits.sourceTimeoutMs, now);
  const edge = new CachedCall(() => source.edge?.() ?? Promise.resolve<EdgeExtras>({ jobs: null, meshLocal: null }), limits.snapshotTtlMs, limits.sourceTimeoutMs, now);
  const alerts = new CachedCall(() => source.alerts?.() ?? Promise.resolve([]), limits.snapshotTtlMs, limits.sourceTimeoutMs, now);
  const buffer = new EventBuffer(limits.eventBufferMax, limits.eventDetailBytesMax);
  const clients = new Set<SseClient>();
  const startedMs = now();
  const page = dashboardPage();
  let sseRejected = 0;
  let sseDropped = 0;
  const metrics = opts.metrics ?? createProcessMetrics({ process: "dashboard" }, { processMetrics: false });
  metrics.gaugeFrom("xsfleet_dashboard_sse_clients", "Browsers connected to the live event stream", () => clients.size);
  metrics.counterFrom("xsfleet_dashboard_sse_rejected_total", "Event-stream connections refused (client limit)", () => sseRejected);
  metrics.counterFrom("xsfleet_dashboard_sse_dropped_total", "Event-stream clients dropped for a full backlog", () => sseDropped);
  metrics.gaugeFrom("xsfleet_dashboard_events_buffered", "Events held in the dashboard's ring", () => buffer.size);
  metrics.counterFrom("xsfleet_dashboard_events_dropped_total", "Events that fell out of the ring", () => buffer.dropped);
  const traces = new TraceStore({ tracesMax: limits.tracesMax, spansPerTraceMax: limits.traceSpansMax, spansMax: limits.traceStoreSpansMax });
  const otlp: OtlpReceiverStats = { requests: 0, refused: 0, spans: 0 };
  metrics.counterFrom("xsfleet_dashboard_otlp_spans_total", "Spans received on POST /v1/traces", () => otlp.spans);
  metrics.counterFrom("xsfleet_dashboard_otlp_refused_total", "OTLP requests refused (too large, bad type, undecodable)", () => otlp.refused);
  metrics.gaugeFrom("xsfleet_dashboard_traces", "Traces held in the dashboard's ring", () => traces.size);
  const serveMetrics = metricsHandler(metrics.registry);

  const dropClient = (c: SseClient): void => {
    if (!clients.delete(c)) return;
    clearInterval(c.keepAlive);
    c.res.end();
  };
  const writeTo = (c: SseClient, chunk: string): void => {
    // A client that stopped reading is dropped rather than buffered without bound.
    if (c.res.writableLength > limits.sseClientBacklogBytesMax) {
      sseDropped++;
      dropClient(c);
      return;
    }
    c.res.write(chunk);
  };
  const frame = (e: DashboardEvent): string => `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`;

  const unsubscribe = source.events((input) => {
    const event = buffer.push(input);
    const chunk = frame(event);
    for (const c of clients) writeTo(c, chunk);
  });

  const withSource = async <T>(res: ServerResponse, call: () => Promise<T>, send: (value: T) => void): Promise<void> => {
    let value: T;
    try {
      value = await call();
    } catch (e) {
      if (e instanceof SourceTimeout) sendError(res, 504, e.message);
      else if (e instanceof ApiCallError) sendError(res, e.status, e.message);
      else sendError(res, 502, `dashboard source failed: ${(e as Error).message}`);
      return;
    }
    send(value);
  };

  // No node serving the API (or none with analytics) is a way the system is set up, not a failure of this request:
  // the read endpoints then answer 200 with `unavailable` (as /api/topology does without edge jobs). Other failures stay errors.
  const withoutApi = async <T>(p: Promise<T>): Promise<T | string> => {
    try {
      return await p;
    } catch (e) {
      if (e instanceof ApiCallError && e.status === 503) return e.message;
      throw e;
    }
  };

  const openEvents = (req: IncomingMessage, res: ServerResponse, params: URLSearchParams): void => {
    for (const key of params.keys()) {
      if (key !== "after") throw new QueryError(`unknown parameter "${key}"; allowed: after`);
    }
    const header = req.headers["last-event-id"];
    const lastId = typeof header === "string" && /^\d{1,15}$/.test(header) ? Number(header) : 0;
    const after = intParam(params, "after", 0, Number.MAX_SAFE_INTEGER, lastId);
    if (clients.size >= limits.sseClientsMax) {
      sseRejected++;
      sendError(res, 503, `too many live event clients (${limits.sseClientsMax}); close another dashboard tab`);
      return;
    }
    res.writeHead(200, { ...securityHeaders, "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
    res.write("retry: 3000\n\n");
    const client: SseClient = {
      res,
      keepAlive: setInterval(() => writeTo(client, ": keep-alive\n\n"), limits.sseKeepAliveMs),
    };
    clients.add(client);
    for (const e of buffer.since(after)) writeTo(client, frame(e));
    req.on("close", () => dropClient(client));
  };

  // The one write: a bounded JSON body, validated here and again by the API.
  const ackAlert = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const ack = source.ackAlert?.bind(source);
    if (!ack) { req.resume(); return sendError(res, 501, "alerts are not available: this dashboard source has no ackAlert()"); }
    // Only JSON: a cross-site form cannot send it without a CORS preflight, which the dashboard never grants.
    if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
      req.resume();
      return sendError(res, 415, "send the body as application/json");
    }
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limits.alertAckBodyBytesMax) { req.resume(); return sendError(res, 413, `body larger than ${limits.alertAckBodyBytesMax} bytes`); }
    const text = await readBody(req, limits.alertAckBodyBytesMax);
    if (text === null) return sendError(res, 413, `body larger than ${limits.alertAckBodyBytesMax} bytes`);
    const input = parseAckBody(text);
    return withSource(res, async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SourceTimeout(`alerts.ack did not answer within ${limits.sourceTimeoutMs} ms`)), limits.sourceTimeoutMs);
      });
      try { return await Promise.race([ack(input), timeout]); } finally { clearTimeout(timer); }
    }, (alert) => { alerts.invalidate(); sendJson(res, 200, { alert }); });
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawUrl = req.url ?? "/";
    if (rawUrl.length > limits.urlBytesMax) return sendError(res, 414, `request URL longer than ${limits.urlBytesMax} bytes`);
    const url = new URL(rawUrl, "http://dashboard.invalid");
    if (url.pathname === "/v1/traces") {
      if (req.method === "POST") return receiveOtlp(req, res, traces, limits.otlpBodyBytesMax, otlp);
      res.setHeader("allow", "POST");
      return sendError(res, 405, "POST OTLP/HTTP trace exports here");
    }
    if (url.pathname === "/api/alerts/ack") {
      if (req.method !== "POST") {
        res.setHeader("allow", "POST");
        return sendError(res, 405, `POST {"ruleId", "key", "episode"} here to acknowledge an alert`);
      }
      return ackAlert(req, res);
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return sendError(res, 405, `method ${req.method} not allowed; the dashboard is read-only (GET) but for POST /api/alerts/ack`);
    }
    if (url.pathname.startsWith("/api/traces/")) {
      const id = url.pathname.slice("/api/traces/".length).toLowerCase();
      if (!/^[0-9a-f]{32}$/.test(id)) throw new QueryError("a trace id is 32 hex digits");
      const spans = traces.get(id);
      if (!spans) return sendError(res, 404, `trace ${id} is not (or no longer) held; the dashboard keeps the ${limits.tracesMax} most recent`);
      return sendJson(res, 200, { traceId: id, spans });
    }
    switch (url.pathname) {
      case "/":
      case "/index.html":
        res.writeHead(200, {
          ...securityHeaders,
          "content-type": "text/html; charset=utf-8",
          "content-length": Buffer.byteLength(page),
          // Everything is inline; nothing may be fetched from elsewhere.
          "content-security-policy":
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
        });
        res.end(req.method === "HEAD" ? undefined : page);
        return;
      case "/healthz":
        return sendJson(res, 200, {
          ok: true, uptimeMs: now() - startedMs, sseClients: clients.size, sseRejected, sseDropped,
          eventsBuffered: buffer.size, eventsDropped: buffer.dropped,
        });
      case "/api/fleet": {
        const q = parseFleetQuery(url.searchParams, limits);
        return withSource(res, () => fleet.get(), (snap) =>
          sendJson(res, 200, { ...pageFleet(snap, q), history: typeof source.history === "function" }));
      }
      case "/api/topology":
        if ([...url.searchParams.keys()].length > 0) throw new QueryError("/api/topology takes no parameters");
        return withSource(res, async () => topologyView(await fleet.get(), await edge.get()), (view) => sendJson(res, 200, view));
      case "/api/cluster":
        if ([...url.searchParams.keys()].length > 0) throw new QueryError("/api/cluster takes no parameters");
        return withSource(res, () => cluster.get(), (snap) => sendJson(res, 200, snap));
      case "/api/history": {
        const q = parseHistoryQuery(url.searchParams, limits, now());
        const history = source.history?.bind(source);
        if (!history) return sendError(res, 501, "history is not available: this dashboard source has no history()");
        return withSource(res, () => history(q), (points) =>
          sendJson(res, 200, { ...q, points: points.slice(-q.limit) }));
      }
      case "/api/shadow": {
        const deviceId = parseShadowQuery(url.searchParams);
        const shadow = source.shadow?.bind(source);
        if (!shadow) return sendError(res, 501, "shadows are not available: this dashboard source has no shadow()");
        return withSource(res, () => shadow(deviceId), (view) => sendJson(res, 200, { deviceId, shadow: view }));
      }
      case "/api/alerts":
        if ([...url.searchParams.keys()].length > 0) throw new QueryError("/api/alerts takes no parameters");
        if (!source.alerts) return sendError(res, 501, "alerts are not available: this dashboard source has no alerts()");
        return withSource(res, () => withoutApi(alerts.get()), (rows) =>
          sendJson(res, 200, typeof rows === "string" ? { alerts: [], unavailable: rows } : { alerts: rows }));
      case "/api/windows": {
        const q = parseWindowsQuery(url.searchParams, limits, now());
        const windows = source.windows?.bind(source);
        if (!windows) return sendError(res, 501, "window results are not available: this dashboard source has no windows()");
        return withSource(res, () => withoutApi(windows(q)), (view) => sendJson(res, 200, {
          deviceId: q.deviceId, fromMs: q.fromMs, toMs: q.toMs, ...(typeof view === "string" ? { windows: [], truncated: false, unavailable: view } : view),
        }));
      }
      case "/api/events":
        return openEvents(req, res, url.searchParams);
      case "/metrics":
        serveMetrics(req, res);
        return;
      case "/api/traces": {
        for (const key of url.searchParams.keys()) if (key !== "device" && key !== "limit") throw new QueryError(`unknown parameter "${key}"; allowed: device, limit`);
        const limit = intParam(url.searchParams, "limit", 1, limits.tracesMax, 50);
        return sendJson(res, 200, { traces: traces.list(limit, url.searchParams.get("device") ?? ""), held: traces.size, spans: traces.spanCount, dropped: traces.dropped });
      }
      default:
        return sendError(res, 404, `no such page: ${url.pathname}; try / or /api/fleet, /api/cluster, /api/topology, /api/events, /api/history, /api/shadow, /api/alerts, /api/windows, /healthz, /metrics`);
    }
  };

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (res.headersSent) { res.end(); return; }
      if (e instanceof QueryError) sendError(res, 400, e.message);
      else sendError(res, 500, `internal error: ${(e as Error).message}`);
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, host, () => { server.off("error", reject); resolve(); });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  let stopped: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${addr.port}/`,
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        unsubscribe();
        for (const c of [...clients]) dropClient(c);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
