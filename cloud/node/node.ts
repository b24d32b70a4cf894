// One cloud node: a NATS connection (reconnecting forever), the configured
// roles on top of it, and a health/metrics endpoint. Roles:
//   ingest        — cloud/ingest (device uplink into JetStream, device state, history)
//   api           — cloud/api (device management micro service)
//   commands      — cloud/commands worker (downlink reliability; configuration deltas are the api role's shadow pusher)
//   orchestration — membership (SWIM), leases, recovery, singleton work (orchestration.ts)
//   cache         — cloud/cache: a node of the cache ring (needs orchestration: the ring is its SWIM view)
//   analytics     — cloud/analytics (event-time windows, rules, alerts, actions over the partitioned uplinks)
// Every node with the api role reads device state and registry records through the cache (cache.backend).
//
// Shutdown order matters: first the API stops taking requests and finishes
// the accepted ones (a waiting commands.send still needs the commands worker
// to see its ack), then ingest (stop fetching, finish and ack processed
// batches only), then the commands worker, and finally the connection is
// drained, which flushes every publish made on the way. The whole stop is
// bounded by shutdownTimeoutMs, and the connection is closed at the end
// whatever happened (a connection left reconnecting to a server that is
// gone keeps the process alive forever).
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Tracer } from "@opentelemetry/api";
import { startApiRole, type ApiRole } from "../api";
import { ShadowDeltaPusher } from "../shadow";
import { CommandStore, CommandSubmitter, CommandWorker } from "../commands";
import { ControlClient } from "../controlplane";
import { connectNats, NatsPool } from "../nats";
import { CacheBackend, CachedRegistry, startCacheService, type CacheService } from "../cache";
import { ControlPlaneRegistry, KvDeviceRegistry, type DeviceRegistry } from "../registry";
import { createLogger, type CloudRole, type Logger } from "../base";
import { loadSigningTrust, startProvisioningRole, TrustFile } from "../security";
import type { CloudConfig } from "./config";
import { startMetricsEndpoint, type MetricsEndpoint } from "../metrics";
import type { HealthReport } from "./metrics";
import { createNodeMetrics, type NodeMetrics } from "./metrics";
import { defaultRoleFactories, type RoleContext, type RoleFactories, type RoleHandle } from "./roles";

export interface CloudNodeDeps {
  log?: Logger;
  /** Replace role implementations (tests, or wiring roles from other packages). */
  roles?: Partial<RoleFactories>;
  /** Collect process metrics (default true; tests with several nodes turn it off). */
  processMetrics?: boolean;
  /** The process's tracer (cloud/tracing); absent or null: no spans. */
  tracer?: Tracer | null;
}

export interface CloudNode {
  readonly nodeId: string;
  readonly config: CloudConfig;
  readonly nc: NatsConnection;
  readonly metrics: NodeMetrics;
  /** Bound port of /healthz and /metrics, null when disabled. */
  readonly httpPort: number | null;
  readonly api: ApiRole | null;
  readonly commandWorker: CommandWorker | null;
  health(): HealthReport;
  /** Graceful stop; idempotent. Resolves when everything has drained. */
  stop(): Promise<void>;
}

type Stop = { name: string; stop: () => Promise<void> };

/** What the started roles left to stop, by shutdown stage (see the header for the order). */
interface Started {
  api: ApiRole | null;
  worker: CommandWorker | null;
  stages: { api: Stop[]; data: Stop[]; commands: Stop[]; storage: Stop[] };
}

function stopOrder(s: Started): Stop[] {
  return [...s.stages.api, ...s.stages.data, ...s.stages.commands, ...s.stages.storage];
}

export async function startCloudNode(config: CloudConfig, deps: CloudNodeDeps = {}): Promise<CloudNode> {
  const log = deps.log ?? createLogger({ level: config.logLevel, base: { node: config.nodeId } });
  const metrics = createNodeMetrics(config.nodeId, config.roles, { processMetrics: deps.processMetrics ?? true });
  let phase: HealthReport["status"] = "starting";

  log.info("connecting to NATS", { servers: config.nats.servers });
  const nc = await connectNats(config.nats);
  const link = { connected: true };
  void watchConnection(nc, log, metrics, link);
  metrics.gaugeFrom("xsfleet_nats_connected", "1 while the NATS connection is up", () => (link.connected && !nc.isClosed() ? 1 : 0));

  const started: Started = { api: null, worker: null, stages: { api: [], data: [], commands: [], storage: [] } };
  let http: MetricsEndpoint | null = null;
  const health = (): HealthReport => ({
    status: phase === "ok" && (!link.connected || nc.isClosed()) ? "disconnected" : phase,
    nodeId: config.nodeId,
    roles: config.roles,
    nats: { connected: link.connected && !nc.isClosed(), server: nc.getServer() },
  });
  try {
    await startRoles(config, { ...defaultRoleFactories, ...deps.roles }, { nc, nodeId: config.nodeId, config, log, tracer: deps.tracer ?? null, cache: null }, metrics, started);
    // Subscriptions (acks, hellos, API endpoints) are registered with the server before "started".
    await nc.flush();
    if (config.http.port !== null) {
      http = await startMetricsEndpoint({ host: config.http.host, port: config.http.port, health, metrics: metrics.registry, what: "/healthz and /metrics (set http.port, --http-port, or --http-port off)" });
    }
  } catch (e) {
    log.error("node failed to start; stopping what started", { err: e });
    await runStops(stopOrder(started), log);
    await nc.close();
    throw e;
  }
  phase = "ok";
  log.info("cloud node started", { roles: config.roles, httpPort: http?.port ?? null });

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      phase = "draining";
      log.info("stopping: finishing in-flight work");
      const deadlineMs = Date.now() + config.shutdownTimeoutMs;
      const rolesStopped = await within(runStops(stopOrder(started), log).then(() => true), deadlineMs - Date.now());
      if (!rolesStopped) log.error("roles did not stop within shutdownTimeoutMs; closing without finishing", { shutdownTimeoutMs: config.shutdownTimeoutMs });
      // drain() flushes what the roles published; with the server gone it
      // would wait for a reconnect forever, so it gets what is left of the
      // budget (at least drainMinMs). close() then ends the reconnect loop,
      // the last thing that would keep the process alive.
      if (!nc.isClosed()) {
        const drained = await within(nc.drain().then(() => true, (e: unknown) => { log.warn("drain failed", { err: e }); return false; }),
          Math.max(drainMinMs, deadlineMs - Date.now()));
        if (drained !== true) log.warn("NATS connection not drained; closing it", { connected: link.connected });
      }
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
      await http?.close();
      if (!rolesStopped) throw new Error(`graceful stop exceeded shutdownTimeoutMs (${config.shutdownTimeoutMs} ms)`);
      log.info("stopped");
    })();
    return stopping;
  };

  return {
    nodeId: config.nodeId, config, nc, metrics, httpPort: http?.port ?? null, api: started.api, commandWorker: started.worker,
    health, stop,
  };
}

/** Starts the configured roles, recording into `out` as it goes so a failure can stop what started. */
async function startRoles(config: CloudConfig, factories: RoleFactories, ctx: RoleContext, metrics: NodeMetrics, out: Started): Promise<void> {
  const { nc, log } = ctx;
  const roles = new Set<CloudRole>(config.roles);
  const replicas = config.streams.replicas;
  let registry: DeviceRegistry | null = null;
  let store: CommandStore | null = null;
  const cache = await startCache(config, ctx, metrics, out);
  ctx.cache = cache?.client ?? null;
  if (roles.has("api") || roles.has("commands") || roles.has("provisioning")) {
    let conflicts = 0;
    registry = config.registry === "control"
      ? new ControlPlaneRegistry(new ControlClient(nc, { clientId: `registry-${config.nodeId}`, tracer: ctx.tracer }).proposer())
      : await KvDeviceRegistry.open(nc, { replicas, onConflict: () => conflicts++ });
    log.info("device registry", { backend: config.registry });
    metrics.counterFrom("xsfleet_registry_cas_conflicts_total", "Registry writes that lost a compare-and-set race and retried", () => conflicts);
    if (cache?.client) {
      // Lookups read through the cache; every write of this node invalidates the record on its owners.
      const cached = new CachedRegistry(registry, { cache: cache.client, ttlMs: config.cache.ttlMs });
      registry = cached;
      metrics.counterFrom("xsfleet_cache_registry_unacknowledged_total", "Registry writes whose cache invalidation not every owner acknowledged", () => cached.unacknowledged);
    }
  }
  if (roles.has("provisioning")) await startProvisioning(config, ctx, registry!, metrics, out);
  if (roles.has("api") || roles.has("commands")) {
    const s = await CommandStore.open(nc, { replicas, log });
    store = s;
    out.stages.storage.push({ name: "command store", stop: () => s.close() });
    metrics.gaugeFrom("xsfleet_commands_pending", "Pending commands in this node's view of the fleet", () => s.pendingCount);
  }
  if (roles.has("commands")) {
    const w = new CommandWorker({ nc, store: store!, nodeId: config.nodeId, limits: config.limits, retry: config.commands, log, replicas, tracer: ctx.tracer });
    w.start();
    out.worker = w;
    out.stages.commands.push({ name: "commands", stop: () => w.stop() });
    metrics.labelledCounterFrom("xsfleet_commands_events_total", "Command delivery events of this node (sent, resentOnline, acked, expired, duplicateAcks, ...)", "event", () => ({ ...w.stats }));
  }
  for (const r of ["ingest", "analytics", "orchestration"] as const) {
    if (!roles.has(r)) continue;
    const h = await startOptionalRole(r, factories[r], ctx, log);
    if (!h) continue;
    out.stages.data.push({ name: r, stop: () => h.stop() });
    // The cache ring is the SWIM view of the orchestration role.
    if (h.membership) cache?.setMembership(h.membership);
    if (h.registerMetrics) h.registerMetrics(metrics.registry);
    else if (h.stats) metrics.statsGauge(`xsfleet_${r}`, `${r} role counters of this node`, () => h.stats!());
  }
  if (roles.has("api")) {
    const submitter = new CommandSubmitter(nc, store!, config.limits, config.commands, Date.now, ctx.tracer);
    const seams = await factories.apiSeams(ctx);
    const a = await startApiRole({
      nc, nodeId: config.nodeId, registry: registry!, submitter, commands: store!, limits: config.limits, log,
      ...(seams.deviceState ? { deviceState: seams.deviceState } : {}),
      ...(seams.queryHistory ? { queryHistory: seams.queryHistory } : {}),
      ...(seams.shadow ? { shadow: seams.shadow } : {}),
      ...(seams.analytics ? { analytics: seams.analytics } : {}),
      onRequest: (e, s, ms) => metrics.apiRequest(e, s, ms),
      tracer: ctx.tracer,
    });
    out.api = a;
    out.stages.api.push({ name: "api", stop: () => a.stop(Math.max(100, config.shutdownTimeoutMs - 2000)) });
    if (seams.shadow) {
      // Shadow deltas to devices (their configuration: the only cfg publisher), beside the API that
      // writes desired shadows (its principal may read them and push cfg); re-sent on Hello/online.
      const sp = new ShadowDeltaPusher(nc, seams.shadow, (deviceId, err) => log.warn("shadow delta push failed", { deviceId, err }));
      sp.start();
      out.stages.api.push({ name: "shadow delta pusher", stop: () => sp.stop() });
      metrics.gaugeFrom("xsfleet_shadow_push_backlog", "Devices waiting for a shadow-delta push or being pushed (a reconnect storm's Hellos queue here)", () => sp.backlog);
      metrics.labelledCounterFrom("xsfleet_shadow_pushes_total", "Shadow-delta (configuration) pushes of this node by outcome (pushed, empty, coalesced, dropped, errors)", "event", () => ({ ...sp.stats }));
      // The devices' reports (on heartbeats) are ingest's: joined in its partitioned pipeline (roles.ts).
    }
    metrics.gaugeFrom("xsfleet_api_inflight", "API requests being handled", () => a.stats().inflight);
  }
}

/** The provisioning role, with its own system-account connection for account pushes (docs/security.md). */
async function startProvisioning(config: CloudConfig, ctx: RoleContext, registry: DeviceRegistry, metrics: NodeMetrics, out: Started): Promise<void> {
  const trustDir = config.trustDir!;
  const trust = loadSigningTrust(trustDir);
  const sysNc = await connectNats({ ...config.nats, name: `${config.nats.name}-sys`, credsFile: path.join(trustDir, TrustFile.SysPush) });
  try {
    const role = await startProvisioningRole({
      nc: ctx.nc, sysNc, trust, registry, replicas: config.streams.replicas, nodeId: config.nodeId, settings: config.provisioning, log: ctx.log,
    });
    out.stages.data.push({ name: "provisioning", stop: async () => { await role.stop(); await sysNc.close(); } });
    metrics.statsGauge("xsfleet_provisioning", "Provisioning counters of this node (issued, refused, revocations, ...)", () => {
      const st = role.stats();
      return { requests: st.requests, issued: st.issued, reissued: st.reissued, done: st.done, claimsCreated: st.claimsCreated, claimsRevoked: st.claimsRevoked,
        devicesRevoked: st.devicesRevoked, refused: Object.values(st.refused).reduce((a, b) => a + b, 0), revocationPushes: st.revocations.pushes,
        revocationPushFailures: st.revocations.pushFailures, revocations: st.revocations.listSize, overloaded: st.overloaded };
    });
    ctx.log.info("role provisioning started", { partitions: trust.info.partitions });
  } catch (e) {
    await sysNc.close();
    throw e;
  }
}

/**
 * The node's cache (cloud/cache, docs/data-plane.md): a pool of NATS
 * connections, the client the API's reads use and, with the cache role, a
 * cache node. Nothing when no role here reads through it or serves it.
 */
async function startCache(config: CloudConfig, ctx: RoleContext, metrics: NodeMetrics, out: Started): Promise<CacheService | null> {
  const serve = config.roles.includes("cache");
  if (!serve && (config.cache.backend === CacheBackend.Off || !(config.roles.includes("api") || config.roles.includes("commands") || config.roles.includes("provisioning")))) return null;
  // Named <node's connection name>#<i>: the dashboard counts them as the node's pooled connections.
  const pool = await NatsPool.open(config.nats, config.cache.poolSize);
  out.stages.storage.push({ name: "cache connection pool", stop: () => pool.drain() });
  const cache = await startCacheService({
    nodeId: config.nodeId, settings: config.cache, pool, nc: ctx.nc, serve, watchRegistryKv: config.registry === "kv", log: ctx.log,
  });
  // After the API (its reads) and before the pool is drained.
  out.stages.data.push({ name: "cache", stop: () => cache.stop() });
  cache.registerMetrics(metrics.registry);
  metrics.gaugeFrom("xsfleet_nats_pool_connections", "Connections in the node's NATS pool", () => pool.size);
  metrics.gaugeFrom("xsfleet_nats_pool_healthy", "Connections of the node's NATS pool that are connected and answered the last RTT probe", () => pool.stats.healthy);
  metrics.gaugeFrom("xsfleet_nats_pool_inflight", "Requests running on the node's NATS pool", () => pool.stats.inflight);
  metrics.counterFrom("xsfleet_nats_pool_waits_total", "Requests that waited for a slot of the node's NATS pool (back-pressure)", () => pool.stats.waits);
  metrics.counterFrom("xsfleet_nats_pool_rejected_total", "Requests refused because the NATS pool's wait queue was full", () => pool.stats.rejected);
  ctx.log.info("role cache started", { serving: serve, backend: config.cache.backend });
  return cache;
}

async function startOptionalRole(name: string, factory: ((ctx: RoleContext) => Promise<RoleHandle>) | undefined, ctx: RoleContext, log: Logger): Promise<RoleHandle | null> {
  if (!factory) {
    log.warn(`role ${name} is not part of this build; the node runs without it`);
    return null;
  }
  const h = await factory(ctx);
  log.info(`role ${name} started`);
  return h;
}

/** What stop() gives nc.drain() at least, even when the roles used up the budget. */
const drainMinMs = 1_000;

/** The promise's value, or false when it did not settle within ms. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | false> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), Math.max(0, ms)); });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function runStops(stops: { name: string; stop: () => Promise<void> }[], log: Logger): Promise<void> {
  for (const s of stops) {
    try {
      await s.stop();
    } catch (e) {
      log.warn(`stopping ${s.name} failed`, { err: e });
    }
  }
}

async function watchConnection(nc: NatsConnection, log: Logger, metrics: NodeMetrics, link: { connected: boolean }): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === "disconnect") {
      link.connected = false;
      log.warn("NATS disconnected; reconnecting", { server: (s as { server?: string }).server });
    } else if (s.type === "reconnect") {
      link.connected = true;
      metrics.natsReconnect();
      log.info("NATS reconnected", { server: (s as { server?: string }).server });
    }
    else if (s.type === "error") log.warn("NATS error", { err: (s as { error?: unknown }).error });
  }
}

