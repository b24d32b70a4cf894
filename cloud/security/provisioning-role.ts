// The provisioning role: serves device provisioning requests (a core NATS
// subscription on every claim's request subject, one node per request via a
// queue group, answers published on the claim's response subject, which the
// device reads over MQTT at QoS 0) and the trust endpoints of the management
// API as the micro service "xsfleet-provisioning":
//   xsfleet.v1.api.claims.{create,list,revoke}, xsfleet.v1.api.credentials.revoke
// It holds the FLEET signing key (signs credentials) and the operator
// signing key plus the sys-push user (re-signs and pushes the account's
// revocation list). Work is tracked: at most inflightMax requests at once,
// and stop() finishes the accepted ones.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { Svcm, type ServiceMsg } from "@nats-io/services";
import { ProvisioningError, encodeProvisioningResponse } from "../../shared/provisioning";
import {
  ApiError, apiErrorStatus, deviceIdField, intField, onlyFields, parseBody, stringField, toApiError, type ApiEndpoint, type ApiErrorBody,
  type ClaimsCreateReply, type ClaimsListReply, type ClaimsRevokeReply, type CredentialsRevokeReply, type Body,
} from "../api";
import type { Logger } from "../base";
import type { DeviceRegistry } from "../registry";
import { allProvisioningRequestsSubject, apiSubject, provisioningResponseSubject } from "../subjects";
import { FleetAccountPublisher } from "./account-publisher";
import { ClaimService, revocationError, type ClaimServiceStats } from "./claim-service";
import { CredentialIssuer } from "./issuer";
import { Revoker, type RevokerStats } from "./revoker";
import type { ProvisioningSettings } from "./settings";
import { ClaimState, TrustStore } from "./trust-store";
import type { SigningTrust } from "./trust";

export const provisioningServiceName = "xsfleet-provisioning";
export const provisioningQueueGroup = "xsfleet-provisioning";
const apiRequestBytesMax = 64 * 1024;
const claimStates: readonly string[] = Object.values(ClaimState);

export interface ProvisioningRoleDeps {
  nc: NatsConnection;
  /** A connection of the system account's sys-push user. */
  sysNc: NatsConnection;
  trust: SigningTrust;
  registry: DeviceRegistry;
  replicas: number;
  nodeId: string;
  settings: ProvisioningSettings;
  log: Logger;
}

export interface ProvisioningRole {
  readonly claims: ClaimService;
  stats(): ClaimServiceStats & { revocations: RevokerStats; inflight: number; overloaded: number };
  stop(): Promise<void>;
}

export async function startProvisioningRole(d: ProvisioningRoleDeps): Promise<ProvisioningRole> {
  const store = await TrustStore.open(d.nc, { replicas: d.replicas });
  const revoker = new Revoker({ store, publisher: new FleetAccountPublisher(d.sysNc, d.trust), revocationsMax: d.settings.revocationsMax, log: d.log });
  await revoker.start();
  const claims = new ClaimService({ store, issuer: new CredentialIssuer(d.trust), registry: d.registry, revoker, settings: d.settings, log: d.log });
  const inflight = new Set<Promise<void>>();
  let overloaded = 0;
  const track = (work: () => Promise<void>, onOverload: () => void): void => {
    if (inflight.size >= d.settings.inflightMax) {
      overloaded++;
      onOverload();
      return;
    }
    const p: Promise<void> = work().finally(() => inflight.delete(p));
    inflight.add(p);
  };

  const requests: Subscription = d.nc.subscribe(allProvisioningRequestsSubject, {
    queue: provisioningQueueGroup,
    callback: (err, msg) => {
      if (err) return;
      const claimId = msg.subject.split(".")[3] ?? "";
      const answer = (bytes: Uint8Array): void => d.nc.publish(provisioningResponseSubject(claimId), bytes);
      track(async () => answer(encodeProvisioningResponse(await claims.handle(claimId, msg.data))), () => {
        answer(encodeProvisioningResponse({ ok: false, op: "issue", nonce: 0, code: ProvisioningError.Unavailable, message: "provisioning node overloaded; retry" }));
      });
    },
  });

  const service = await new Svcm(d.nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: provisioningServiceName, version: "1.0.0", queue: provisioningQueueGroup, metadata: { node: d.nodeId },
    description: "xsfleet trust: one-time provisioning claims, device credentials, revocation",
  });
  const add = (endpoint: ApiEndpoint, fn: (b: Body) => Promise<unknown>): void => {
    service.addEndpoint(endpoint.replace(/\./g, "-"), {
      subject: apiSubject(endpoint),
      handler: (err, msg) => {
        if (err) return;
        track(async () => {
          try {
            msg.respond(JSON.stringify(await fn(parseBody(msg.data, apiRequestBytesMax))));
          } catch (e) {
            respondError(msg, revocationError(e) ?? toApiError(e), d.log, endpoint);
          }
        }, () => respondError(msg, new ApiError("overloaded", `node ${d.nodeId} has ${inflight.size} requests in flight; retry`), d.log, endpoint));
      },
    });
  };
  add("claims.create", async (b): Promise<ClaimsCreateReply> => {
    onlyFields(b, ["deviceIds", "count", "ttlS", "note"]);
    const deviceIds = b.deviceIds;
    if (deviceIds !== undefined && (!Array.isArray(deviceIds) || deviceIds.some((x) => typeof x !== "string"))) throw new ApiError("bad_request", "deviceIds must be a list of device ids");
    const count = intField(b, "count", { min: 1, max: d.settings.claimsPerRequestMax });
    const ttlS = intField(b, "ttlS", { min: 60, max: d.settings.claimTtlMaxS });
    const note = stringField(b, "note", { bytesMax: 256 });
    return {
      claims: await claims.createClaims({
        ...(deviceIds !== undefined ? { deviceIds: deviceIds as string[] } : {}), ...(count !== undefined ? { count } : {}),
        ...(ttlS !== undefined ? { ttlS } : {}), ...(note !== undefined ? { note } : {}),
      }),
    };
  });
  add("claims.list", async (b): Promise<ClaimsListReply> => {
    onlyFields(b, ["state", "limit", "after"]);
    const state = stringField(b, "state", { bytesMax: 16 });
    if (state !== undefined && !claimStates.includes(state)) throw new ApiError("bad_request", `state must be one of ${claimStates.join(", ")}`);
    const limit = intField(b, "limit", { min: 1, max: 1000 }) ?? 100;
    const after = stringField(b, "after", { bytesMax: 32 });
    return claims.listClaims({ limit, ...(state ? { state: state as ClaimState } : {}), ...(after ? { after } : {}) });
  });
  add("claims.revoke", async (b): Promise<ClaimsRevokeReply> => {
    onlyFields(b, ["claimId"]);
    return { claim: await claims.revokeClaim(stringField(b, "claimId", { required: true, bytesMax: 32 })) };
  });
  add("credentials.revoke", async (b): Promise<CredentialsRevokeReply> => {
    onlyFields(b, ["deviceId", "reason"]);
    const deviceId = deviceIdField(b);
    const reason = stringField(b, "reason", { bytesMax: 64, pattern: /^[A-Za-z0-9_.-]+$/ }) ?? "revoked";
    return { deviceId, revoked: await claims.revokeDevice(deviceId, reason) };
  });
  await d.nc.flush();

  return {
    claims,
    stats: () => ({ ...claims.stats, refused: { ...claims.stats.refused }, revocations: revoker.stats(), inflight: inflight.size, overloaded }),
    stop: async () => {
      await requests.drain().catch(() => undefined);
      await service.stop().catch(() => undefined);
      await Promise.allSettled([...inflight]);
      revoker.stop();
    },
  };
}

function respondError(msg: ServiceMsg, err: ApiError, log: Logger, endpoint: string): void {
  if (err.code === "internal") log.error("provisioning API request failed", { endpoint, err });
  const body: ApiErrorBody = { error: { code: err.code, status: err.status ?? apiErrorStatus[err.code], message: err.message } };
  msg.respondError(err.status, err.message, JSON.stringify(body));
}
