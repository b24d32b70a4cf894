// The api role: the device-management API as a NATS micro service
// (@nats-io/services), discoverable with $SRV.PING / $SRV.INFO / $SRV.STATS
// under the name "xsfleet-api". Endpoints share one queue group, so any
// number of nodes serve the API and each request is handled once.
//
// Handlers do not work inside the socket callback: each request becomes a
// tracked promise (bounded by limits.apiInflightMax; more get a 503), so a
// graceful stop can drain the endpoints and then await exactly the requests
// already accepted.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Tracer } from "@opentelemetry/api";
import { Svcm, type Service, type ServiceMsg } from "@nats-io/services";
import type { Logger } from "../base";
import { CommandError, outcomeOf, type CommandLimits, type CommandStore, type CommandSubmitter } from "../commands";
import { DeviceLifecycle, RegistryError, type DeviceRegistry } from "../registry";
import { apiSubject, DeviceEvent, deviceEventSubject } from "../subjects";
import type { ApiLimits } from "./settings";
import {
  ApiEndpoint, ApiError, apiErrorStatus, apiQueueGroup, apiServiceName, apiServiceVersion, defaultCommandTimeoutMs,
  type ApiErrorBody, type ApiErrorCode, type CommandReply, type DecommissionReply, type DeviceReply, type ListReply, type MeshCountersReply, type StateReply,
  type TelemetryQueryReply, type AnalyticsApi,
} from "./types";
import { ApiClient } from "./client";
import { registerShadowEndpoints, shadowApiError } from "./shadow-endpoints";
import { registerConfigEndpoint } from "./config-endpoint";
import { registerAnalyticsEndpoints } from "./analytics-endpoints";
import type { ShadowStore } from "../shadow";
import { withRequestSpan } from "./spans";
import { boolField, deviceIdField, intField, objectField, onlyFields, parseBody, stringField, type Body } from "./validate";

/** Seam to the ingest colleague's DeviceStateStore (cloud/state). */
export interface DeviceStateSource {
  getDeviceState(deviceId: string): Promise<unknown | null>;
  /** Mesh counters merged across their reporters (cloud/state mergeMeshCounters over the bucket). */
  meshCounters?(): Promise<MeshCountersReply>;
}

/** Seam to cloud/history's queryHistory(js, q), bound to a JetStream client. */
export type HistoryQueryFn = (q: { deviceId: string; channel: string; fromMs: number; toMs: number; limit: number }) => Promise<unknown>;

export interface ApiRoleDeps {
  nc: NatsConnection;
  nodeId: string;
  registry: DeviceRegistry;
  submitter: CommandSubmitter;
  commands: CommandStore;
  /** The api role's own limits, and the longest command deadline a request may ask for. */
  limits: ApiLimits & Pick<CommandLimits, "commandDeadlineMsMax">;
  log: Logger;
  deviceState?: DeviceStateSource;
  queryHistory?: HistoryQueryFn;
  /** Device shadows (cloud/shadow); the shadow.* endpoints answer not_available without it. */
  shadow?: ShadowStore;
  /** Windows, alerts and rules (cloud/analytics via cloud/node); those endpoints answer not_available without it. */
  analytics?: AnalyticsApi;
  /** Metrics hook: called once per request with the endpoint, status (200 or error status) and duration. */
  onRequest?: (endpoint: ApiEndpoint, status: number, durationMs: number) => void;
  /** A span per request (spans.ts); absent or null: off. */
  tracer?: Tracer | null;
}

export interface ApiRoleStats { requests: number; errors: number; inflight: number; rejectedOverload: number }

export interface ApiRole {
  service: Service;
  stats(): ApiRoleStats;
  /** Stops taking requests, finishes accepted ones; command waits are cut short after graceMs. */
  stop(graceMs: number): Promise<void>;
}

type Handler = (b: Body) => Promise<unknown>;

const channelPattern = /^[A-Za-z0-9_.:-]{1,64}$/;
const lifecycles: readonly string[] = Object.values(DeviceLifecycle);

export async function startApiRole(d: ApiRoleDeps): Promise<ApiRole> {
  // @nats-io/services 3.0.0-25 pins its own nats-core; the connection is structurally the same.
  const service = await new Svcm(d.nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: apiServiceName,
    version: apiServiceVersion,
    description: "xsfleet device management: registry, configuration (desired shadow), commands, device state, telemetry history",
    queue: apiQueueGroup,
    metadata: { node: d.nodeId },
  });
  const inflight = new Set<Promise<void>>();
  const stats: ApiRoleStats = { requests: 0, errors: 0, inflight: 0, rejectedOverload: 0 };

  const reply = (endpoint: ApiEndpoint, msg: ServiceMsg, started: number, result: unknown): void => {
    msg.respond(JSON.stringify(result));
    d.onRequest?.(endpoint, 200, Date.now() - started);
  };
  const replyError = (endpoint: ApiEndpoint, msg: ServiceMsg, started: number, e: unknown): void => {
    const err = toApiError(e);
    if (err.code === "internal") d.log.error("api request failed", { endpoint, err: e });
    stats.errors++;
    const body: ApiErrorBody = { error: { code: err.code, status: err.status, message: err.message } };
    msg.respondError(err.status, err.message, JSON.stringify(body));
    d.onRequest?.(endpoint, err.status, Date.now() - started);
  };

  const add = (endpoint: ApiEndpoint, fn: Handler): void => {
    service.addEndpoint(endpoint.replace(/\./g, "-"), {
      subject: apiSubject(endpoint),
      metadata: { endpoint },
      handler: (err, msg) => {
        if (err) return;
        const started = Date.now();
        stats.requests++;
        if (inflight.size >= d.limits.apiInflightMax) {
          stats.rejectedOverload++;
          replyError(endpoint, msg, started, new ApiError("overloaded", `node ${d.nodeId} has ${inflight.size} requests in flight (limit ${d.limits.apiInflightMax}); retry`));
          return;
        }
        const p: Promise<void> = (async () => {
          try {
            const body = parseBody(msg.data, d.limits.apiRequestBytesMax);
            reply(endpoint, msg, started, await (d.tracer ? withRequestSpan(d.tracer, endpoint, d.nodeId, msg.headers, () => fn(body)) : fn(body)));
          } catch (e) {
            replyError(endpoint, msg, started, e);
          }
        })().finally(() => { inflight.delete(p); stats.inflight = inflight.size; });
        inflight.add(p);
        stats.inflight = inflight.size;
      },
    });
  };

  registerEndpoints(d, add);
  registerShadowEndpoints(d.shadow, d.registry, d.nodeId, add);
  registerAnalyticsEndpoints(d.analytics, add);
  // Make sure the server has the endpoint subscriptions before we report the role as started.
  await d.nc.flush();

  return {
    service,
    stats: () => ({ ...stats }),
    stop: async (graceMs: number) => {
      // Draining the endpoint subscriptions delivers what the client already received; those are accepted work.
      await service.stop();
      const settled = Promise.allSettled([...inflight]);
      const timedOut = await Promise.race([settled.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
      if (timedOut) {
        // Command waits reply now with the state persisted so far; the commands keep being delivered by other nodes.
        d.submitter.abortWaits();
        await Promise.allSettled([...inflight]);
      }
    },
  };
}

function registerEndpoints(d: ApiRoleDeps, add: (e: ApiEndpoint, fn: Handler) => void): void {
  add(ApiEndpoint.DevicesRegister, async (b): Promise<DeviceReply> => {
    onlyFields(b, ["deviceId", "metadata"]);
    const deviceId = deviceIdField(b);
    const metadata = objectField(b, "metadata", false) as Record<string, string> | undefined;
    const device = await d.registry.register(deviceId, metadata ? { metadata } : {});
    // The one source of `registered` (ingest no longer infers it from a Hello).
    d.nc.publish(deviceEventSubject(deviceId, DeviceEvent.Registered), JSON.stringify({ deviceId, event: DeviceEvent.Registered, atMs: device.registeredMs, revision: device.revision }));
    return { device };
  });

  add(ApiEndpoint.DevicesList, async (b): Promise<ListReply> => {
    onlyFields(b, ["lifecycle", "limit", "after"]);
    const limit = intField(b, "limit", { min: 1, max: d.limits.listLimitMax }) ?? Math.min(100, d.limits.listLimitMax);
    const after = b.after === undefined ? undefined : deviceIdField(b, "after");
    const lifecycle = stringField(b, "lifecycle", { bytesMax: 32 });
    if (lifecycle !== undefined && !lifecycles.includes(lifecycle)) throw new ApiError("bad_request", `lifecycle must be one of ${lifecycles.join(", ")}`);
    return d.registry.list({ limit, ...(after ? { after } : {}), ...(lifecycle ? { lifecycle: lifecycle as DeviceLifecycle } : {}) });
  });

  add(ApiEndpoint.DevicesGet, async (b): Promise<DeviceReply> => {
    onlyFields(b, ["deviceId"]);
    const deviceId = deviceIdField(b);
    const device = await d.registry.get(deviceId);
    if (!device) throw new ApiError("not_found", `device ${deviceId} is not registered`);
    return { device };
  });

  add(ApiEndpoint.DevicesDecommission, async (b): Promise<DecommissionReply> => {
    onlyFields(b, ["deviceId", "expectedRevision"]);
    const deviceId = deviceIdField(b);
    const expectedRevision = intField(b, "expectedRevision", { min: 1, max: Number.MAX_SAFE_INTEGER });
    const device = await d.registry.decommission(deviceId, expectedRevision === undefined ? {} : { expectedRevision });
    d.nc.publish(deviceEventSubject(deviceId, DeviceEvent.Decommissioned), JSON.stringify({ deviceId, event: DeviceEvent.Decommissioned, atMs: device.decommissionedMs, revision: device.revision }));
    return { device, ...(await revokeCredentials(d.nc, deviceId)) };
  });

  add(ApiEndpoint.DevicesMetadata, async (b): Promise<DeviceReply> => {
    onlyFields(b, ["deviceId", "patch", "expectedRevision"]);
    const deviceId = deviceIdField(b);
    const patch = objectField(b, "patch", true) as Record<string, string | null>;
    const expectedRevision = intField(b, "expectedRevision", { min: 1, max: Number.MAX_SAFE_INTEGER });
    return { device: await d.registry.setMetadata(deviceId, patch, expectedRevision === undefined ? {} : { expectedRevision }) };
  });

  registerConfigEndpoint(d.registry, d.shadow, d.nodeId, add);

  add(ApiEndpoint.DevicesState, async (b): Promise<StateReply> => {
    onlyFields(b, ["deviceId"]);
    const deviceId = deviceIdField(b);
    if (!d.deviceState) throw new ApiError("not_available", "device state is not available on this node (the ingest state store is not wired in)");
    return { state: await d.deviceState.getDeviceState(deviceId) };
  });

  add(ApiEndpoint.MeshCounters, async (b): Promise<MeshCountersReply> => {
    onlyFields(b, []);
    if (!d.deviceState?.meshCounters) throw new ApiError("not_available", "mesh counters are not available on this node (the ingest state store is not wired in)");
    return d.deviceState.meshCounters();
  });

  add(ApiEndpoint.CommandsSend, async (b): Promise<CommandReply> => {
    onlyFields(b, ["deviceId", "name", "args", "timeoutMs", "commandId", "wait"]);
    const deviceId = deviceIdField(b);
    const name = stringField(b, "name", { required: true, bytesMax: 64 });
    const timeoutMs = intField(b, "timeoutMs", { min: 500, max: d.limits.commandDeadlineMsMax }) ?? defaultCommandTimeoutMs;
    const commandId = stringField(b, "commandId", { bytesMax: 64 });
    const wait = boolField(b, "wait") ?? true;
    const argsJson = b.args === undefined ? "" : JSON.stringify(b.args);
    const device = await d.registry.get(deviceId);
    if (!device) throw new ApiError("not_found", `device ${deviceId} is not registered; register it before sending commands`);
    if (device.lifecycle !== DeviceLifecycle.Registered) throw new ApiError("decommissioned", `device ${deviceId} is decommissioned`);
    const input = { deviceId, name, argsJson, timeoutMs, ...(commandId !== undefined ? { commandId } : {}) };
    const res = wait ? await d.submitter.submitAndWait(input) : await d.submitter.submit(input);
    return { command: res.outcome, created: res.created };
  });

  add(ApiEndpoint.CommandsGet, async (b): Promise<CommandReply> => {
    onlyFields(b, ["deviceId", "commandId"]);
    const deviceId = deviceIdField(b);
    const commandId = stringField(b, "commandId", { required: true, bytesMax: 64, pattern: /^[A-Za-z0-9_-]{1,64}$/ });
    const v = await d.commands.get(deviceId, commandId);
    if (!v) throw new ApiError("not_found", `no command ${commandId} for device ${deviceId} (finished commands are kept 31 days)`);
    return { command: outcomeOf(v.record) };
  });

  add(ApiEndpoint.TelemetryQuery, async (b): Promise<TelemetryQueryReply> => {
    onlyFields(b, ["deviceId", "channel", "fromMs", "toMs", "limit"]);
    const deviceId = deviceIdField(b);
    const channel = stringField(b, "channel", { required: true, bytesMax: 64, pattern: channelPattern });
    const fromMs = intField(b, "fromMs", { required: true, min: 0, max: Number.MAX_SAFE_INTEGER });
    const toMs = intField(b, "toMs", { required: true, min: 0, max: Number.MAX_SAFE_INTEGER });
    if (toMs < fromMs) throw new ApiError("bad_request", `toMs (${toMs}) is before fromMs (${fromMs})`);
    const limit = intField(b, "limit", { min: 1, max: d.limits.listLimitMax }) ?? d.limits.listLimitMax;
    if (!d.queryHistory) throw new ApiError("not_available", "telemetry history is not available on this node (cloud/history is not wired in)");
    return { result: await d.queryHistory({ deviceId, channel, fromMs, toMs, limit }) };
  });
}

/** Asks the provisioning role to revoke a decommissioned device's credentials (docs/security.md). */
async function revokeCredentials(nc: NatsConnection, deviceId: string): Promise<Pick<DecommissionReply, "credentialsRevoked" | "revokeError">> {
  try {
    const r = await new ApiClient(nc, { timeoutMs: revokeTimeoutMs }).revokeCredentials(deviceId, "decommissioned");
    return { credentialsRevoked: r };
  } catch (e) {
    return { credentialsRevoked: null, revokeError: (e as Error).message };
  }
}

/** How long decommission waits for the provisioning role's revocation. */
const revokeTimeoutMs = 10_000;

const registryToApi: Record<string, ApiErrorCode> = {
  not_found: "not_found",
  already_exists: "already_exists",
  conflict: "conflict",
  decommissioned: "decommissioned",
  invalid: "bad_request",
  unavailable: "overloaded",
};
const commandToApi: Record<string, ApiErrorCode> = {
  invalid: "bad_request",
  too_many_pending: "too_many_pending",
  conflict: "conflict",
  not_found: "not_found",
};

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof RegistryError) return new ApiError(registryToApi[e.code] ?? "internal", e.message);
  if (e instanceof CommandError) return new ApiError(commandToApi[e.code] ?? "internal", e.message);
  const shadowError = shadowApiError(e);
  if (shadowError) return shadowError;
  const message = e instanceof Error ? e.message : String(e);
  if (message.startsWith("invalid device id")) return new ApiError("bad_request", message);
  return new ApiError("internal", `internal error: ${message}`, apiErrorStatus.internal);
}
