// The seam between the node and roles built in other folders. A role is a
// factory from the node's context to something that can be stopped
// gracefully; the node owns ordering, metrics and shutdown.
import type { NatsConnection } from "@nats-io/transport-node";
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { ApiError, type AnalyticsApi, type DeviceStateSource, type HistoryQueryFn } from "../api";
import { ControlClient } from "../controlplane";
import { CommandStore, CommandSubmitter } from "../commands";
import {
  AlertError, AlertState, ControlPlaneRules, RuleStoreError, alertHistory, alertStateBucket, defaultOperators, AlertStore, queryWindows,
  registerAnalyticsMetrics, startAnalyticsRole,
} from "../analytics";
import { queryHistory, type HistoryQuery, type HistoryResult, type HistoryScanHooks } from "../history";
import { Attr, contextFromEnvelope, SpanName } from "../tracing";
import { Admission, registerIngestMetrics, startIngestRole, type AdmissionPort, type ProcessingObserver, type ShadowReportPort } from "../ingest";
import type { Registry } from "prom-client";
import { AdmissionCache, ControlPlaneRegistry, DeviceLifecycle, kvAdmissionCache, registryLookup, RegistryBackend } from "../registry";
import { DeviceStateStore, mergeMeshCounters } from "../state";
import { ShadowStore, shadowReportMerger } from "../shadow";
import type { CloudConfig } from "./config";
import { startOrchestrationRole } from "./orchestration";
import type { Logger } from "../base";
import { CachedRegistry, cachedDeviceState, type CacheClient } from "../cache";
import type { MembershipDriver } from "../membership";
import { publicState } from "../state";

export interface RoleContext {
  nc: NatsConnection;
  nodeId: string;
  config: CloudConfig;
  log: Logger;
  /** Null when tracing is off. */
  tracer: Tracer | null;
  /** The node's cache client (cloud/cache); null when cache.backend is off. */
  cache: CacheClient | null;
}

export interface RoleHandle {
  /** Stop taking work, finish in-flight work, acknowledge only what was processed. */
  stop(): Promise<void>;
  stats?(): Record<string, unknown>;
  /** Registers the role's own metrics (documented names); without it `stats` is exposed as one gauge. */
  registerMetrics?(registry: Registry): void;
  /** The node's SWIM view, when the role runs it (orchestration): the cache ring is built from it. */
  membership?: MembershipDriver;
}

export interface ApiSeams {
  deviceState?: DeviceStateSource;
  queryHistory?: HistoryQueryFn;
  shadow?: ShadowStore;
  analytics?: AnalyticsApi;
}

export interface RoleFactories {
  ingest?: (ctx: RoleContext) => Promise<RoleHandle>;
  analytics?: (ctx: RoleContext) => Promise<RoleHandle>;
  orchestration?: (ctx: RoleContext) => Promise<RoleHandle>;
  /** Read-side dependencies of the API on other capabilities (device state, history). */
  apiSeams: (ctx: RoleContext) => Promise<ApiSeams>;
}

/** The ingest section of the node config, with the node-wide replica count unless it sets its own. */
export function ingestSettings(config: CloudConfig): Record<string, unknown> {
  return { replicas: config.streams.replicas, ...config.ingest };
}

function isMissingStore(e: unknown): boolean {
  const m = e instanceof Error ? e.message : String(e);
  return /stream not found|bucket not found/i.test(m);
}

/** Device states mesh.counters reads at most per request (one listing, then one read per device). */
export const meshScanDevicesMax = 10_000;

/** Device state from the ingest role's KV bucket, opened on first use (ingest may start after the API);
 *  read through the cache when the node has one (the KV revision is the cached value's version). */
function lazyDeviceState(nc: NatsConnection, cache: CacheClient | null, ttlMs: number): DeviceStateSource {
  let store: DeviceStateStore | null = null;
  // A read before any ingest node created the bucket fails at open or at the read itself.
  const withStore = async <T>(f: (s: DeviceStateStore) => Promise<T>): Promise<T> => {
    try {
      store ??= await DeviceStateStore.open(nc);
      return await f(store);
    } catch (e) {
      if (isMissingStore(e)) {
        store = null;
        throw new ApiError("not_available", "no device state yet: the device state bucket does not exist (start a node with the ingest role)");
      }
      throw e;
    }
  };
  // On demand (an operator's or integrator's call): the dashboard merges from its own live mirror instead.
  const meshCounters = () => withStore(async (s) => {
    const states = await s.listDeviceStates({ limit: meshScanDevicesMax });
    return { ...mergeMeshCounters(states), truncated: states.length >= meshScanDevicesMax };
  });
  if (cache) {
    const cached = cachedDeviceState({
      cache, ttlMs,
      load: async (deviceId) => {
        const l = await withStore((s) => s.load(deviceId));
        return l.revision <= 0 ? null : { state: publicState(l.state), revision: l.revision };
      },
    });
    return { ...cached, meshCounters };
  }
  return { getDeviceState: (deviceId) => withStore((s) => s.getDeviceState(deviceId)), meshCounters };
}

/** Links from a history query span to the traces that stored the records it read. */
export const historyQueryLinksMax = 16;

function historySeam(nc: NatsConnection, tracer: Tracer | null): HistoryQueryFn {
  const js = jetstream(nc);
  const run = async (q: HistoryQuery, hooks?: HistoryScanHooks): Promise<HistoryResult> => {
    try {
      return await queryHistory(js, q, hooks);
    } catch (e) {
      if (isMissingStore(e)) throw new ApiError("not_available", "no telemetry history yet: the history stream does not exist (start a node with the ingest role)");
      throw e;
    }
  };
  if (!tracer) return (q) => run(q);
  // Traced: a span inside the API request's, linked to the ingest traces
  // that stored the records read (their headers carry ingest's traceparent).
  return async (q) => {
    const span = tracer.startSpan(SpanName.HistoryQuery, { kind: SpanKind.CLIENT, attributes: { [Attr.DeviceId]: q.deviceId, [Attr.HistoryChannel]: q.channel } }, context.active());
    const seen = new Set<string>();
    const hooks: HistoryScanHooks = {
      onRecordTraceparent: (tp) => {
        if (seen.size >= historyQueryLinksMax || seen.has(tp)) return;
        seen.add(tp);
        const sc = trace.getSpanContext(contextFromEnvelope({ traceparent: tp }));
        if (sc && trace.isSpanContextValid(sc)) span.addLink({ context: sc });
      },
    };
    try {
      const r = await run(q, span.isRecording() ? hooks : undefined);
      span.setAttributes({ [Attr.Points]: r.points.length, [Attr.HistoryScanned]: r.scannedMessages, [Attr.HistoryTruncated]: r.truncated });
      return r;
    } catch (e) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
      throw e;
    } finally {
      span.end();
    }
  };
}

/** Ingest's registry gate on the configured backend: a KV watch (kv), or
 *  lookups through the control plane with a TTL (control: no watch there). */
function registryGate(ctx: RoleContext): AdmissionCache {
  if (ctx.config.registry === RegistryBackend.Control) {
    const registry = new ControlPlaneRegistry(new ControlClient(ctx.nc, { clientId: `ingest-gate-${ctx.nodeId}` }).proposer());
    // Lookups read through the cache ring: one control-plane read per device per cache TTL across the tier, not per node.
    return new AdmissionCache(registryLookup(ctx.cache ? new CachedRegistry(registry, { cache: ctx.cache, ttlMs: ctx.config.cache.ttlMs }) : registry), null);
  }
  return kvAdmissionCache(ctx.nc, ctx.log);
}

function admissionPort(gate: AdmissionCache): AdmissionPort {
  return {
    check: async (id) => {
      const lc = await gate.check(id);
      return lc === null ? Admission.Unregistered : lc === DeviceLifecycle.Decommissioned ? Admission.Decommissioned : Admission.Admitted;
    },
  };
}

/**
 * Ingest's shadow seam: device reports joined into the reported documents
 * under the device's key (`dev`: ingest handles one device's messages in
 * order, one writer per key). Null when the store cannot be opened (logged):
 * ingest then runs without merging reports.
 */
async function shadowReportPort(ctx: RoleContext): Promise<ShadowReportPort | null> {
  const { shadow } = await shadowSeam(ctx);
  return shadow ? shadowReportMerger(shadow, (deviceId, err) => ctx.log.warn("malformed shadow report skipped", { deviceId, err })) : null;
}

/** The shadow store (bucket created if missing); without it the shadow endpoints answer not_available. */
async function shadowSeam(ctx: RoleContext): Promise<{ shadow?: ShadowStore }> {
  try {
    return { shadow: await ShadowStore.open(ctx.nc, { bucket: { replicas: ctx.config.streams.replicas } }) };
  } catch (e) {
    // E.g. a principal without rights on the shadow bucket: the rest of the API still serves.
    ctx.log.warn("device shadows unavailable", { err: e });
    return {};
  }
}

/** The analytics endpoints of the API: rules on the control plane, window results and alerts in JetStream. */
function analyticsSeam(ctx: RoleContext): AnalyticsApi {
  const js = jetstream(ctx.nc);
  const rules = new ControlPlaneRules(new ControlClient(ctx.nc, { clientId: `api-rules-${ctx.nodeId}`, timeoutMs: 5_000, attemptTimeoutMs: 1_500 }).proposer());
  let alerts: AlertStore | null = null;
  const alertStore = async (): Promise<AlertStore> => {
    // The analytics role creates the bucket; the API only reads and acknowledges.
    alerts ??= new AlertStore(await new Kvm(ctx.nc).open(alertStateBucket, { bindOnly: true }), js);
    return alerts;
  };
  const mapped = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof RuleStoreError) {
        const code = e.code === "invalid" ? "bad_request" : e.code === "not_found" ? "not_found" : e.code === "conflict" ? "conflict" : e.code === "limit" ? "too_large" : "not_available";
        throw new ApiError(code, e.message);
      }
      if (e instanceof AlertError) throw new ApiError(e.code === "invalid" ? "bad_request" : e.code, e.message);
      if (isMissingStore(e)) throw new ApiError("not_available", "no analytics results yet: start a node with the analytics role");
      if (e instanceof Error && /^query(Windows)?:|^alertHistory:|^queryWindows:/.test(e.message)) throw new ApiError("bad_request", e.message);
      throw e;
    }
  };
  return {
    windows: (q) => mapped(() => queryWindows(js, q)),
    alertsList: (q) => mapped(async () => ({ alerts: await (await alertStore()).list(q as { state?: AlertState; ruleId?: string; limit?: number }) })),
    alertsAck: (q) => mapped(async () => ({ alert: await (await alertStore()).ack(q.ruleId, q.key, q.episode, q.by, Date.now()) })),
    alertsHistory: (q) => mapped(() => alertHistory(js, q, Date.now())),
    rulesList: () => mapped(() => rules.list()),
    rulesPut: (rule, expectedVersion) => mapped(async () => ({ rule: await rules.put(rule, expectedVersion) })),
    rulesDelete: (ruleId) => mapped(async () => ({ rule: await rules.delete(ruleId) })),
  };
}

export const defaultRoleFactories: RoleFactories = {
  // Partition leases and the ingest membership live on the Raft control plane (its replicas must run, as `xsfleet up` starts them).
  ingest: async (ctx) => {
    const control = new ControlClient(ctx.nc, { clientId: `ingest-${ctx.nodeId}`, timeoutMs: 5_000, attemptTimeoutMs: 1_500 });
    const gate = registryGate(ctx);
    // The processing histogram exists once the node registers its metrics (after the role starts).
    let observeProcessing: ProcessingObserver | null = null;
    const shadow = await shadowReportPort(ctx);
    const role = await startIngestRole({
      nc: ctx.nc, nodeId: ctx.nodeId, config: ingestSettings(ctx.config), log: ctx.log, control: control.proposer(), admission: admissionPort(gate), tracer: ctx.tracer,
      onDeviceBatch: (seconds, trace) => observeProcessing?.(seconds, trace),
      ...(shadow ? { shadowReports: shadow } : {}),
    });
    // Numbers only reach the node's metrics: the partitions owned as a count too.
    return {
      stop: async () => { await role.stop(); gate.stop(); },
      stats: () => { const st = role.stats(); return { ...st, partitions: st.partitionsOwned.length, admission: { ...gate.stats } }; },
      registerMetrics: (r) => { observeProcessing = registerIngestMetrics(r, () => role.stats()); },
    };
  },
  // Windows and rules over the partitioned uplinks (cloud/analytics): partition leases, membership
  // and the rules table on the Raft control plane; command actions through this node's own submitter.
  analytics: async (ctx) => {
    const control = new ControlClient(ctx.nc, { clientId: `analytics-${ctx.nodeId}`, timeoutMs: 5_000, attemptTimeoutMs: 1_500 });
    const store = await CommandStore.open(ctx.nc, { replicas: ctx.config.streams.replicas, log: ctx.log });
    const submitter = new CommandSubmitter(ctx.nc, store, ctx.config.limits, ctx.config.commands, Date.now, ctx.tracer);
    const role = await startAnalyticsRole({
      nc: ctx.nc, nodeId: ctx.nodeId, ingest: ingestSettings(ctx.config), operators: defaultOperators, control: control.proposer(), commands: submitter, log: ctx.log,
      tracer: ctx.tracer,
    });
    return {
      stop: async () => { await role.stop(); await store.close(); },
      stats: () => role.stats() as unknown as Record<string, unknown>,
      registerMetrics: (r) => registerAnalyticsMetrics(r, () => role.stats()),
    };
  },
  // The tier's fault tolerance and singleton work (orchestration.ts): leases on the
  // Raft control plane by default (its replicas must run, as `xsfleet up` starts them).
  orchestration: (ctx) => startOrchestrationRole(ctx),
  apiSeams: async (ctx) => ({ deviceState: lazyDeviceState(ctx.nc, ctx.cache, ctx.config.cache.ttlMs), queryHistory: historySeam(ctx.nc, ctx.tracer), analytics: analyticsSeam(ctx), ...(await shadowSeam(ctx)) }),
};
