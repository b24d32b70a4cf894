// Request/reply contracts of the xsfleet management API (JSON over NATS
// request/reply, served as a NATS micro service "xsfleet-api"). Shared by
// the service and the typed client; docs/api.md documents the same shapes.
import type { CommandOutcome } from "../commands";
import type { DeviceLifecycle, DeviceRecord } from "../registry";
import type { FieldView, ShadowDelta, ShadowDoc, ShadowHistoryEntry, ShadowOp, ShadowView } from "../shadow";
import type { DvvContext } from "../../shared/clock/dvv";

export const apiServiceName = "xsfleet-api";
export const apiServiceVersion = "1.0.0";
export const apiQueueGroup = "xsfleet-api";

export const ApiEndpoint = {
  DevicesRegister: "devices.register",
  DevicesList: "devices.list",
  DevicesGet: "devices.get",
  DevicesDecommission: "devices.decommission",
  DevicesMetadata: "devices.metadata",
  DevicesConfigSet: "devices.config.set",
  DevicesState: "devices.state",
  CommandsSend: "commands.send",
  CommandsGet: "commands.get",
  TelemetryQuery: "telemetry.query",
  // Mesh counters merged across every device that reports them (docs/edge.md).
  MeshCounters: "mesh.counters",
  // Device shadow (cloud/shadow, docs/shadow.md).
  ShadowGet: "shadow.get",
  ShadowPut: "shadow.put",
  ShadowDelete: "shadow.delete",
  ShadowHistory: "shadow.history",
  // Stream processing (cloud/analytics, docs/analytics.md).
  AnalyticsWindows: "analytics.windows",
  AlertsList: "alerts.list",
  AlertsAck: "alerts.ack",
  AlertsHistory: "alerts.history",
  RulesList: "rules.list",
  RulesPut: "rules.put",
  RulesDelete: "rules.delete",
  // Served by the provisioning role (service xsfleet-provisioning, docs/security.md).
  ClaimsCreate: "claims.create",
  ClaimsList: "claims.list",
  ClaimsRevoke: "claims.revoke",
  CredentialsRevoke: "credentials.revoke",
} as const;
export type ApiEndpoint = (typeof ApiEndpoint)[keyof typeof ApiEndpoint];

export interface RegisterRequest { deviceId: string; metadata?: Record<string, string> }
export interface DeviceReply { device: DeviceRecord }
export interface ListRequest { lifecycle?: DeviceLifecycle; limit?: number; after?: string }
export interface ListReply { devices: DeviceRecord[]; next?: string }
export interface GetRequest { deviceId: string }
export interface DecommissionRequest { deviceId: string; expectedRevision?: number }
/**
 * `credentialsRevoked`: how many credentials of the device the provisioning
 * role revoked (its connections are closed); null when no provisioning role
 * answers (an insecure stack) — `revokeError` then says why.
 */
export interface DecommissionReply extends DeviceReply { credentialsRevoked: number | null; revokeError?: string }
/** A null value removes the key. */
export interface MetadataRequest { deviceId: string; patch: Record<string, string | null>; expectedRevision?: number }
/**
 * A device's configuration is its desired shadow (docs/shadow.md,
 * "Configuration"): each `config` field a cadence number or a setting string
 * (shared/device-config.ts checkConfigField), null to delete the field.
 * Written in one compare-and-set; without `contexts` each field replaces
 * what the write read, with them the caller's reads (concurrent writes then
 * stay as siblings, as with shadow.put).
 */
export interface ConfigSetRequest { deviceId: string; config: Record<string, string | number | null>; contexts?: Record<string, DvvContext> }
/** The written fields as stored (values, siblings, new contexts) and the delta still to reach the device (the shadow pusher sends it). */
export interface ConfigSetReply { deviceId: string; op: ShadowOp; fields: Record<string, FieldView>; delta: ShadowDelta }
export interface StateRequest { deviceId: string }
/** The ingest role's view of the device (cloud/state DeviceState), null before its first message. */
export interface StateReply { state: unknown | null }

export interface SendCommandRequest {
  deviceId: string;
  name: string;
  /** Any JSON value; sent to the device as args_json. */
  args?: unknown;
  /** Deadline relative to now (default 30000). */
  timeoutMs?: number;
  /** Optional client-chosen id (idempotent send); [A-Za-z0-9_-]{1,64}. */
  commandId?: string;
  /** Wait for the ack or the deadline before replying (default true). */
  wait?: boolean;
}
export interface CommandReply { command: CommandOutcome; /** False when the id was already known. */ created?: boolean }
export interface GetCommandRequest { deviceId: string; commandId: string }

export interface TelemetryQueryRequest { deviceId: string; channel: string; fromMs: number; toMs: number; limit?: number }
/** What cloud/history's queryHistory returns, passed through. */
export interface TelemetryQueryReply { result: unknown }

/** Both documents with siblings and contexts, and the delta the device still has to apply. */
export interface ShadowGetRequest { deviceId: string }
export interface ShadowGetReply { shadow: ShadowView }
/**
 * Writes one desired field. `context`: the field's context from a read
 * (replaces what that read saw); omitted = a blind write, kept as a sibling
 * beside every value already there.
 */
export interface ShadowPutRequest { deviceId: string; field: string; value: unknown; context?: Record<string, number>; actor?: string }
/** Removes the values the context covers; values written concurrently stay. */
export interface ShadowDeleteRequest { deviceId: string; field: string; context: Record<string, number>; actor?: string }
export interface ShadowWriteReply { deviceId: string; doc: ShadowDoc; op: ShadowOp; field: FieldView }
export interface ShadowHistoryRequest { deviceId: string; doc?: ShadowDoc; limit?: number }
export interface ShadowHistoryReply { history: ShadowHistoryEntry[] }

export type MeshCountersRequest = Record<string, never>;
/**
 * Each mesh counter merged (max per replica) across the devices that report
 * it as `mesh-<name>`: the mesh's total, never double counted
 * (`reportedSum` is what adding the reports would claim). `devices`: device
 * states read (at most meshScanDevicesMax; `truncated` when there were more).
 */
export interface MeshCountersReply {
  counters: Array<{ name: string; value: number; reporters: string[]; reporterCount: number; replicas: number; reportedSum: number }>;
  devices: number;
  bad: number;
  namesDropped: number;
  truncated: boolean;
}

export const defaultCommandTimeoutMs = 30_000;

/** A provisioning claim as listed: never its token, which only claims.create returns. */
export interface ClaimView {
  claimId: string;
  /** The device id it may provision; absent = any. */
  deviceId?: string;
  note: string;
  createdMs: number;
  expiresMs: number;
  state: "open" | "used" | "done" | "revoked";
  usedBy?: string;
  usedMs?: number;
  doneMs?: number;
  revokedMs?: number;
}
/** A new claim with its token ("<claimId>.<JWT>", the manifest's `claim` config): shown once. */
export interface CreatedClaim extends ClaimView { token: string }
/** One claim per id in deviceIds, or `count` claims for any device id (default 1). */
export interface ClaimsCreateRequest { deviceIds?: string[]; count?: number; ttlS?: number; note?: string }
export interface ClaimsCreateReply { claims: CreatedClaim[] }
export interface ClaimsListRequest { state?: ClaimView["state"]; limit?: number; after?: string }
export interface ClaimsListReply { claims: ClaimView[]; next?: string }
export interface ClaimsRevokeRequest { claimId: string }
export interface ClaimsRevokeReply { claim: ClaimView }
export interface CredentialsRevokeRequest { deviceId: string; reason?: string }
/** `revoked`: credentials revoked now (the device's connections are closed and refused). */
export interface CredentialsRevokeReply { deviceId: string; revoked: number }

/** Error codes in the reply body; the numeric status goes in the Nats-Service-Error-Code header. */
export interface WindowsRequest { key?: string; deviceId?: string; operator?: string; fromMs: number; toMs: number; limit?: number }
/** One window result (shared/stream WindowResult + its operator and id). */
export interface WindowJson {
  id: string; operator: string; key: string; channel: string; start: number; end: number; revision: number; final: boolean;
  count: number; sum: number; min: number; max: number; mean: number; last: number; p50?: number; p90?: number; p99?: number;
}
export interface WindowsReply { windows: WindowJson[]; truncated: boolean }
export interface AlertJson {
  ruleId: string; key: string; episode: number; state: "raised" | "acknowledged" | "cleared"; reason: string; value?: number;
  raisedAtMs: number; ackedAtMs?: number; ackedBy?: string; clearedAtMs?: number; raiseId: string; clearId?: string;
}
export interface AlertEventJson { id: string; ruleId: string; key: string; episode: number; state: AlertJson["state"]; t: number; reason: string; value?: number; by?: string }
export interface AlertsListRequest { state?: AlertJson["state"]; ruleId?: string; limit?: number }
export interface AlertsListReply { alerts: AlertJson[] }
export interface AlertsAckRequest { ruleId: string; key: string; episode: number; by?: string }
export interface AlertsAckReply { alert: AlertJson }
export interface AlertsHistoryRequest { ruleId?: string; key?: string; sinceMs?: number; limit?: number }
export interface AlertsHistoryReply { events: AlertEventJson[]; truncated: boolean }
export interface RuleRecordJson { id: string; version: number; ruleJson: string; updatedAtMs: number }
export interface RulesListReply { rules: RuleRecordJson[]; tableVersion: number }
export interface RulesPutRequest { rule: object; expectedVersion?: number }
export interface RulesDeleteRequest { ruleId: string }
export interface RuleReply { rule: RuleRecordJson }

/** The analytics endpoints' seam (wired by cloud/node from cloud/analytics); replies are passed through as JSON. */
export interface AnalyticsApi {
  windows(q: { key: string; operator?: string; fromMs: number; toMs: number; limit?: number }): Promise<unknown>;
  alertsList(q: { state?: string; ruleId?: string; limit?: number }): Promise<unknown>;
  alertsAck(q: { ruleId: string; key: string; episode: number; by: string }): Promise<unknown>;
  alertsHistory(q: { ruleId?: string; key?: string; sinceMs?: number; limit?: number }): Promise<unknown>;
  rulesList(): Promise<unknown>;
  /** Refuses an invalid rule with bad_request naming every problem (shared/stream validateRule). */
  rulesPut(rule: unknown, expectedVersion?: number): Promise<unknown>;
  rulesDelete(ruleId: string): Promise<unknown>;
}

export const ApiErrorCode = {
  BadRequest: "bad_request",
  NotFound: "not_found",
  AlreadyExists: "already_exists",
  Conflict: "conflict",
  Decommissioned: "decommissioned",
  TooLarge: "too_large",
  TooManyPending: "too_many_pending",
  NotAvailable: "not_available",
  Overloaded: "overloaded",
  /** Client side only: no reply within the request timeout. */
  Timeout: "timeout",
  Internal: "internal",
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

export const apiErrorStatus: Record<ApiErrorCode, number> = {
  bad_request: 400,
  not_found: 404,
  already_exists: 409,
  conflict: 409,
  decommissioned: 410,
  too_large: 413,
  too_many_pending: 429,
  not_available: 501,
  overloaded: 503,
  timeout: 504,
  internal: 500,
};

export interface ApiErrorBody { error: { code: ApiErrorCode; status: number; message: string } }

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  constructor(code: ApiErrorCode, message: string, status: number = apiErrorStatus[code]) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
  }
}

/** The request -> reply type of every endpoint, for the typed client. */
export interface ApiContract {
  "devices.register": [RegisterRequest, DeviceReply];
  "devices.list": [ListRequest, ListReply];
  "devices.get": [GetRequest, DeviceReply];
  "devices.decommission": [DecommissionRequest, DecommissionReply];
  "devices.metadata": [MetadataRequest, DeviceReply];
  "devices.config.set": [ConfigSetRequest, ConfigSetReply];
  "devices.state": [StateRequest, StateReply];
  "commands.send": [SendCommandRequest, CommandReply];
  "commands.get": [GetCommandRequest, CommandReply];
  "telemetry.query": [TelemetryQueryRequest, TelemetryQueryReply];
  "mesh.counters": [MeshCountersRequest, MeshCountersReply];
  "shadow.get": [ShadowGetRequest, ShadowGetReply];
  "shadow.put": [ShadowPutRequest, ShadowWriteReply];
  "shadow.delete": [ShadowDeleteRequest, ShadowWriteReply];
  "shadow.history": [ShadowHistoryRequest, ShadowHistoryReply];
  "analytics.windows": [WindowsRequest, WindowsReply];
  "alerts.list": [AlertsListRequest, AlertsListReply];
  "alerts.ack": [AlertsAckRequest, AlertsAckReply];
  "alerts.history": [AlertsHistoryRequest, AlertsHistoryReply];
  "rules.list": [Record<string, never>, RulesListReply];
  "rules.put": [RulesPutRequest, RuleReply];
  "rules.delete": [RulesDeleteRequest, RuleReply];
  "claims.create": [ClaimsCreateRequest, ClaimsCreateReply];
  "claims.list": [ClaimsListRequest, ClaimsListReply];
  "claims.revoke": [ClaimsRevokeRequest, ClaimsRevokeReply];
  "credentials.revoke": [CredentialsRevokeRequest, CredentialsRevokeReply];
}
