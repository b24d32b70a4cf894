// The provisioning exchange between a device and the cloud's provisioning
// role (docs/security.md), which both sides run: a device flashed with a
// one-time claim connects over MQTT with the claim as its password, asks on
// `xsfleet/v1/prov/<claimId>/req` for its own credential and reads the answer
// on `xsfleet/v1/prov/<claimId>/resp` — the only two topics the claim's JWT
// allows. Payloads are small JSON objects (rare messages; JSON keeps the
// schema out of the telemetry protobuf), each checked against a size limit
// before parsing and field by field after.
//
// Claim token (what `xsfleet claims create` prints and the manifest's
// `claim` config holds): "<claimId>.<claim JWT>". The id comes first so the
// device needs no JWT parsing to know its topics.

import { utf8Decode, utf8Encode } from "./proto/utf8";
import { isDeviceId } from "./topics";

export const provisioningTopicRoot = "xsfleet/v1/prov";
export const provisioningSubjectRoot = "xsfleet.v1.prov";

/** Claim ids: lower-case letters and digits, as claimIdOf makes them. */
export const claimIdPattern = /^[a-z0-9]{8,32}$/;

export function isClaimId(id: string): boolean {
  return claimIdPattern.test(id);
}

/** Largest request or response payload either side accepts. */
export const provisioningMessageBytesMax = 4096;
/** Longest credential (a user JWT) a device accepts and stores. */
export const credentialBytesMax = 2048;

export const ProvisioningTopic = Object.freeze({ Request: "req", Response: "resp" } as const);
export type ProvisioningTopic = (typeof ProvisioningTopic)[keyof typeof ProvisioningTopic];

export function provisioningTopic(claimId: string, kind: ProvisioningTopic): string {
  return `${provisioningTopicRoot}/${claimId}/${kind}`;
}

export function provisioningSubject(claimId: string, kind: ProvisioningTopic): string {
  return `${provisioningSubjectRoot}.${claimId}.${kind}`;
}

/** Splits a claim token into its id and JWT; null when it is not one. */
export function parseClaimToken(token: string): { claimId: string; jwt: string } | null {
  const dot = token.indexOf(".");
  if (dot < 0) return null;
  const claimId = token.slice(0, dot);
  const jwt = token.slice(dot + 1);
  if (!isClaimId(claimId) || jwt.split(".").length !== 3 || jwt.length > credentialBytesMax) return null;
  return { claimId, jwt };
}

export function claimToken(claimId: string, jwt: string): string {
  return `${claimId}.${jwt}`;
}

/** `issue`: exchange the claim for a credential; `done`: the device stored it (the claim key may go). */
export const ProvisioningOp = Object.freeze({ Issue: "issue", Done: "done" } as const);
export type ProvisioningOp = (typeof ProvisioningOp)[keyof typeof ProvisioningOp];

export interface ProvisioningRequest {
  op: ProvisioningOp;
  deviceId: string;
  /** Echoed in the response, so a late answer to an earlier attempt is recognised. */
  nonce: number;
}

/** Why a request was refused; the device retries only `rate_limited` and `unavailable`. */
export const ProvisioningError = Object.freeze({
  Invalid: "invalid",
  UnknownClaim: "claim_unknown",
  Used: "claim_used",
  Expired: "claim_expired",
  Revoked: "claim_revoked",
  DeviceNotAllowed: "device_not_allowed",
  RateLimited: "rate_limited",
  Unavailable: "unavailable",
  /** The broker refused the claim's connection (not authorized) again and again: revoked, expired or used. Device side only. */
  Refused: "claim_refused",
} as const);
export type ProvisioningError = (typeof ProvisioningError)[keyof typeof ProvisioningError];

export type ProvisioningResponse =
  | { ok: true; op: ProvisioningOp; deviceId: string; nonce: number; credential?: string; expiresS?: number }
  | { ok: false; op: ProvisioningOp; nonce: number; code: ProvisioningError; message: string };

export function isRetryable(code: ProvisioningError): boolean {
  return code === ProvisioningError.RateLimited || code === ProvisioningError.Unavailable;
}

// ---- bytes <-> messages; each decoder returns null on anything malformed ----

function parseObject(bytes: Uint8Array): Record<string, unknown> | null {
  if (bytes.length > provisioningMessageBytesMax) return null;
  let v: unknown;
  try {
    v = JSON.parse(utf8Decode(bytes));
  } catch {
    return null;
  }
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function isNonce(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= 0xffffffff;
}

function isOp(v: unknown): v is ProvisioningOp {
  return v === ProvisioningOp.Issue || v === ProvisioningOp.Done;
}

export function encodeProvisioningRequest(r: ProvisioningRequest): Uint8Array {
  return utf8Encode(JSON.stringify({ op: r.op, deviceId: r.deviceId, nonce: r.nonce }));
}

export function decodeProvisioningRequest(bytes: Uint8Array): ProvisioningRequest | null {
  const o = parseObject(bytes);
  if (o === null || !isOp(o.op) || typeof o.deviceId !== "string" || !isDeviceId(o.deviceId) || !isNonce(o.nonce)) return null;
  return { op: o.op, deviceId: o.deviceId, nonce: o.nonce };
}

export function encodeProvisioningResponse(r: ProvisioningResponse): Uint8Array {
  return utf8Encode(JSON.stringify(r));
}

const errorCodes: readonly string[] = Object.freeze(Object.values(ProvisioningError));

export function decodeProvisioningResponse(bytes: Uint8Array): ProvisioningResponse | null {
  const o = parseObject(bytes);
  if (o === null || !isOp(o.op) || !isNonce(o.nonce)) return null;
  if (o.ok === true) {
    if (typeof o.deviceId !== "string" || !isDeviceId(o.deviceId)) return null;
    const r: ProvisioningResponse = { ok: true, op: o.op, deviceId: o.deviceId, nonce: o.nonce };
    if (o.credential !== undefined) {
      if (typeof o.credential !== "string" || o.credential.length > credentialBytesMax || o.credential.split(".").length !== 3) return null;
      r.credential = o.credential;
    }
    if (o.expiresS !== undefined) {
      if (!isNonce(o.expiresS)) return null;
      r.expiresS = o.expiresS;
    }
    return r;
  }
  if (o.ok !== false || typeof o.code !== "string" || errorCodes.indexOf(o.code) < 0) return null;
  return { ok: false, op: o.op, nonce: o.nonce, code: o.code as ProvisioningError, message: typeof o.message === "string" ? o.message.slice(0, 256) : "" };
}
