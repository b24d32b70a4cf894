// A small typed client for the xsfleet management API, for integrators and
// the CLI. Every call is one NATS request; error replies (the
// Nats-Service-Error-Code header) become ApiError with the server's code,
// status and message.
import { context } from "@opentelemetry/api";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { hasSpanContext, injectNatsHeaders } from "../tracing";
import type { NatsConnection } from "@nats-io/transport-node";
import { ServiceErrorCodeHeader, ServiceErrorHeader } from "@nats-io/services";
import type { CommandOutcome } from "../commands";
import type { DeviceLifecycle, DeviceRecord } from "../registry";
import type { DvvContext } from "../../shared/clock/dvv";
import { apiSubject } from "../subjects";
import {
  ApiError, apiErrorStatus, defaultCommandTimeoutMs,
  type ApiContract, type ApiEndpoint, type ApiErrorBody, type ApiErrorCode, type ClaimsCreateRequest, type ClaimsListReply, type ClaimsListRequest,
  type ClaimView, type CommandReply, type ConfigSetReply, type CreatedClaim, type DecommissionReply, type ListReply, type MeshCountersReply,
  type SendCommandRequest, type TelemetryQueryRequest,
} from "./types";

export interface ApiClientOptions {
  /** Per-request timeout for everything but waiting command sends (default 10 s). */
  timeoutMs?: number;
}

/** Margin over a command's deadline for the server's expiry reply to arrive. */
const commandReplyMarginMs = 10_000;

export class ApiClient {
  readonly #nc: NatsConnection;
  readonly #timeoutMs: number;

  constructor(nc: NatsConnection, opts: ApiClientOptions = {}) {
    this.#nc = nc;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Sends one request; throws ApiError on an error reply, or on no responders / timeout. */
  async call<E extends ApiEndpoint>(endpoint: E, req: ApiContract[E][0], timeoutMs = this.#timeoutMs): Promise<ApiContract[E][1]> {
    let msg;
    try {
      // Inside a span (a traced caller), the request carries its trace context: the API's span is its child.
      const ctx = context.active();
      const headers = hasSpanContext(ctx) ? natsHeaders() : undefined;
      if (headers) injectNatsHeaders(ctx, headers);
      msg = await this.#nc.request(apiSubject(endpoint), JSON.stringify(req), { timeout: timeoutMs, ...(headers ? { headers } : {}) });
    } catch (e) {
      const m = (e as Error).message ?? String(e);
      if (/no responders/i.test(m)) throw new ApiError("not_available", `no xsfleet node serves ${apiSubject(endpoint)}: start one with the api role`, 503);
      if (/timeout/i.test(m)) throw new ApiError("timeout", `${apiSubject(endpoint)} did not reply within ${timeoutMs} ms`);
      throw e;
    }
    const statusText = msg.headers?.get(ServiceErrorCodeHeader) ?? "";
    if (statusText !== "") {
      const status = parseInt(statusText, 10) || 500;
      const message = msg.headers?.get(ServiceErrorHeader) || statusText;
      let code: ApiErrorCode;
      try {
        code = msg.json<ApiErrorBody>().error.code;
      } catch {
        code = (Object.entries(apiErrorStatus).find(([, s]) => s === status)?.[0] as ApiErrorCode | undefined) ?? "internal";
      }
      throw new ApiError(code, message, status);
    }
    return msg.json<ApiContract[E][1]>();
  }

  register(deviceId: string, metadata?: Record<string, string>): Promise<DeviceRecord> {
    return this.call("devices.register", metadata ? { deviceId, metadata } : { deviceId }).then((r) => r.device);
  }

  get(deviceId: string): Promise<DeviceRecord> {
    return this.call("devices.get", { deviceId }).then((r) => r.device);
  }

  list(opts: { lifecycle?: DeviceLifecycle; limit?: number; after?: string } = {}): Promise<ListReply> {
    return this.call("devices.list", opts);
  }

  decommission(deviceId: string, expectedRevision?: number): Promise<DeviceRecord> {
    return this.decommissionDevice(deviceId, expectedRevision).then((r) => r.device);
  }

  /** Decommissions and says whether the device's credentials were revoked. */
  decommissionDevice(deviceId: string, expectedRevision?: number): Promise<DecommissionReply> {
    return this.call("devices.decommission", expectedRevision === undefined ? { deviceId } : { deviceId, expectedRevision });
  }

  setMetadata(deviceId: string, patch: Record<string, string | null>, expectedRevision?: number): Promise<DeviceRecord> {
    return this.call("devices.metadata", expectedRevision === undefined ? { deviceId, patch } : { deviceId, patch, expectedRevision }).then((r) => r.device);
  }

  /** Writes configuration fields into the device's desired shadow (null deletes one); see ConfigSetRequest. */
  setConfig(deviceId: string, config: Record<string, string | number | null>, contexts?: Record<string, DvvContext>): Promise<ConfigSetReply> {
    return this.call("devices.config.set", contexts === undefined ? { deviceId, config } : { deviceId, config, contexts });
  }

  deviceState(deviceId: string): Promise<unknown | null> {
    return this.call("devices.state", { deviceId }).then((r) => r.state);
  }

  /** Every mesh counter merged across the devices that report it (docs/edge.md). */
  meshCounters(): Promise<MeshCountersReply> {
    return this.call("mesh.counters", {});
  }

  /** Sends a command; by default waits for the ack or the deadline and returns the outcome. */
  async sendCommand(req: SendCommandRequest): Promise<CommandReply> {
    const wait = req.wait ?? true;
    const timeoutMs = wait ? (req.timeoutMs ?? defaultCommandTimeoutMs) + commandReplyMarginMs : this.#timeoutMs;
    return this.call("commands.send", req, timeoutMs);
  }

  getCommand(deviceId: string, commandId: string): Promise<CommandOutcome> {
    return this.call("commands.get", { deviceId, commandId }).then((r) => r.command);
  }

  queryTelemetry(req: TelemetryQueryRequest): Promise<unknown> {
    return this.call("telemetry.query", req).then((r) => r.result);
  }

  /** New one-time claims (with their tokens): one per device id, or `count` for any device. */
  createClaims(req: ClaimsCreateRequest): Promise<CreatedClaim[]> {
    return this.call("claims.create", req).then((r) => r.claims);
  }

  listClaims(req: ClaimsListRequest = {}): Promise<ClaimsListReply> {
    return this.call("claims.list", req);
  }

  revokeClaim(claimId: string): Promise<ClaimView> {
    return this.call("claims.revoke", { claimId }).then((r) => r.claim);
  }

  /** Revokes every credential of the device: it is disconnected and cannot reconnect until provisioned again. */
  revokeCredentials(deviceId: string, reason?: string): Promise<number> {
    return this.call("credentials.revoke", reason === undefined ? { deviceId } : { deviceId, reason }).then((r) => r.revoked);
  }
}
