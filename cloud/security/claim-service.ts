// Claims and device credentials: what the provisioning role does, without
// its NATS wiring (provisioning-role.ts).
//
// A provisioning request (shared/provisioning.ts) on claim C from device D:
//   1. node rate limit, request shape, per-claim attempt limit;
//   2. C exists, is not revoked, has not expired, and allows D;
//   3. C's use marker is published (single use: the broker refuses a
//      second, trust-store.ts). A marker already there by D, while D has not
//      confirmed, is D retrying after a lost answer: it gets a fresh
//      credential and the previous one is revoked. Anything else: claim_used;
//   4. D is registered (again, if it was decommissioned);
//   5. a credential is issued, D's earlier credentials are revoked, the
//      claim record says used.
// `done` from D (it stored the credential) revokes C's own key: the claim
// cannot even connect any more. Until then C's key stays valid so the answer
// is not cut off by its own revocation (docs/security.md).
import { randomBytes } from "node:crypto";
import {
  ProvisioningError, ProvisioningOp, claimToken, decodeProvisioningRequest, isClaimId, type ProvisioningRequest, type ProvisioningResponse,
} from "../../shared/provisioning";
import { isDeviceId } from "../../shared/topics";
import { ApiError, type ClaimView, type CreatedClaim } from "../api";
import type { Logger } from "../base";
import { DeviceLifecycle, RegistryError, type DeviceRegistry } from "../registry";
import type { CredentialIssuer } from "./issuer";
import { AttemptCounter, TokenBucket } from "./rate-limit";
import type { RevocationEntry } from "./revocations";
import { RevocationKind, RevocationListFull, type Revoker } from "./revoker";
import type { ProvisioningSettings } from "./settings";
import { ClaimState, type ClaimRecord, type DeviceKey, type TrustStore } from "./trust-store";

export interface ClaimServiceDeps {
  store: TrustStore;
  issuer: CredentialIssuer;
  registry: DeviceRegistry;
  revoker: Revoker;
  settings: ProvisioningSettings;
  log: Logger;
  nowMs?: () => number;
}

export interface ClaimServiceStats {
  requests: number;
  issued: number;
  reissued: number;
  done: number;
  /** Refusals by code. */
  refused: Record<string, number>;
  claimsCreated: number;
  claimsRevoked: number;
  devicesRevoked: number;
}

const claimAlphabet = "abcdefghijklmnopqrstuvwxyz234567";

/** A fresh claim id: 16 characters of [a-z2-7] (80 random bits). */
export function newClaimId(): string {
  const bytes = randomBytes(16);
  let id = "";
  for (const b of bytes) id += claimAlphabet[b & 31];
  return id;
}

export function claimView(r: ClaimRecord): ClaimView {
  const { publicKey: _k, ...view } = r;
  return view;
}

type Refusal = { code: ProvisioningError; message: string };

export class ClaimService {
  readonly #d: ClaimServiceDeps;
  readonly #now: () => number;
  readonly #bucket: TokenBucket;
  readonly #attempts: AttemptCounter;
  readonly stats: ClaimServiceStats = { requests: 0, issued: 0, reissued: 0, done: 0, refused: {}, claimsCreated: 0, claimsRevoked: 0, devicesRevoked: 0 };

  constructor(d: ClaimServiceDeps) {
    this.#d = d;
    this.#now = d.nowMs ?? Date.now;
    this.#bucket = new TokenBucket(d.settings.requestsPerSec, d.settings.requestBurst, this.#now());
    this.#attempts = new AttemptCounter(d.settings.claimAttemptsMax, d.settings.claimAttemptWindowS * 1000);
  }

  // ---- the device-facing exchange ----

  /** Answers one provisioning request that arrived on claim `claimId`'s request subject. */
  async handle(claimId: string, data: Uint8Array): Promise<ProvisioningResponse> {
    this.stats.requests++;
    const now = this.#now();
    const req = decodeProvisioningRequest(data);
    const op = req?.op ?? ProvisioningOp.Issue;
    const nonce = req?.nonce ?? 0;
    const refuse = (r: Refusal): ProvisioningResponse => {
      this.stats.refused[r.code] = (this.stats.refused[r.code] ?? 0) + 1;
      return { ok: false, op, nonce, code: r.code, message: r.message };
    };
    if (!this.#bucket.take(now)) return refuse({ code: ProvisioningError.RateLimited, message: `provisioning is busy; retry in ${this.#bucket.waitMs()} ms` });
    if (!isClaimId(claimId) || req === null) return refuse({ code: ProvisioningError.Invalid, message: "malformed provisioning request" });
    if (!this.#attempts.allow(claimId, now)) return refuse({ code: ProvisioningError.RateLimited, message: `claim ${claimId} made more than ${this.#d.settings.claimAttemptsMax} requests in ${this.#d.settings.claimAttemptWindowS} s` });
    try {
      const rec = await this.#d.store.getClaim(claimId);
      const bad = rec === null ? { code: ProvisioningError.UnknownClaim, message: `no claim ${claimId}` } : checkClaim(rec, req, now);
      if (bad) return refuse(bad);
      const r = req.op === ProvisioningOp.Done ? await this.#done(rec!, req, now) : await this.#issue(rec!, req, now);
      return "code" in r ? refuse(r) : r;
    } catch (e) {
      this.#d.log.warn("provisioning request failed", { claimId, err: e });
      return refuse({ code: ProvisioningError.Unavailable, message: `provisioning failed for now: ${(e as Error).message}` });
    }
  }

  async #issue(rec: ClaimRecord, req: ProvisioningRequest, now: number): Promise<ProvisioningResponse | Refusal> {
    const first = await this.#d.store.consumeClaim(rec.claimId, { kind: "use", deviceId: req.deviceId, atMs: now });
    let reissue = false;
    if (first !== null) {
      if (first.kind === "revoke") return { code: ProvisioningError.Revoked, message: `claim ${rec.claimId} was revoked` };
      if (first.deviceId !== req.deviceId || rec.state === ClaimState.Done) return { code: ProvisioningError.Used, message: `claim ${rec.claimId} was already used` };
      reissue = true; // the same device again before confirming: its answer was lost
    }
    await this.#ensureRegistered(req.deviceId, rec.claimId);
    const cred = this.#d.issuer.device(req.deviceId, this.#d.settings.credentialTtlS, Math.floor(now / 1000));
    const key: DeviceKey = { publicKey: cred.publicKey, issuedS: cred.issuedS, expiresS: cred.expiresS, claimId: rec.claimId };
    let previous: DeviceKey[] = [];
    await this.#d.store.updateDevice(req.deviceId, (cur) => {
      previous = cur.keys;
      return { deviceId: req.deviceId, keys: [key] };
    });
    await this.#revokeKeys(previous, now, "replaced", req.deviceId);
    await this.#d.store.updateClaim(rec.claimId, (cur) => ({ ...cur, state: ClaimState.Used, usedBy: req.deviceId, usedMs: cur.usedMs ?? now }));
    if (reissue) this.stats.reissued++;
    else this.stats.issued++;
    return { ok: true, op: ProvisioningOp.Issue, deviceId: req.deviceId, nonce: req.nonce, credential: cred.jwt, expiresS: cred.expiresS };
  }

  async #done(rec: ClaimRecord, req: ProvisioningRequest, now: number): Promise<ProvisioningResponse | Refusal> {
    if (rec.usedBy !== req.deviceId) return { code: ProvisioningError.Invalid, message: `claim ${rec.claimId} was not used by ${req.deviceId}` };
    if (rec.state !== ClaimState.Done) {
      // The claim's key goes with the next push (batched): its one job is done, and its marker refuses it anyway.
      this.#d.revoker.revokeSoon([{ publicKey: rec.publicKey, kind: RevocationKind.UsedClaim, atS: Math.floor(now / 1000), expiresS: Math.ceil(rec.expiresMs / 1000), reason: "claim-done", claimId: rec.claimId }]);
      await this.#d.store.updateClaim(rec.claimId, (cur) => ({ ...cur, state: ClaimState.Done, doneMs: now }));
      this.stats.done++;
    }
    return { ok: true, op: ProvisioningOp.Done, deviceId: req.deviceId, nonce: req.nonce };
  }

  async #ensureRegistered(deviceId: string, claimId: string): Promise<void> {
    const cur = await this.#d.registry.get(deviceId);
    if (cur && cur.lifecycle === DeviceLifecycle.Registered) return;
    try {
      await this.#d.registry.register(deviceId, { metadata: { provisionedBy: claimId } });
    } catch (e) {
      // A concurrent registration of the same device is as good as ours.
      if (!(e instanceof RegistryError && e.code === "already_exists")) throw e;
    }
  }

  async #revokeKeys(keys: readonly DeviceKey[], now: number, reason: string, deviceId: string): Promise<number> {
    const nowS = Math.floor(now / 1000);
    const live = keys.filter((k) => k.expiresS >= nowS);
    const entries: RevocationEntry[] = live.map((k) => ({ publicKey: k.publicKey, kind: RevocationKind.Credential, atS: nowS, expiresS: k.expiresS, reason, deviceId }));
    await this.#d.revoker.revoke(entries);
    return entries.length;
  }

  // ---- the operator-facing API ----

  async createClaims(opts: { deviceIds?: readonly string[]; count?: number; ttlS?: number; note?: string }): Promise<CreatedClaim[]> {
    const s = this.#d.settings;
    if (opts.deviceIds !== undefined && opts.count !== undefined) throw new ApiError("bad_request", "give deviceIds or count, not both");
    const ids: (string | undefined)[] = opts.deviceIds ? [...opts.deviceIds] : Array.from({ length: opts.count ?? 1 }, () => undefined);
    if (ids.length < 1 || ids.length > s.claimsPerRequestMax) throw new ApiError("bad_request", `one request makes 1..${s.claimsPerRequestMax} claims, asked for ${ids.length}`);
    for (const id of ids) if (id !== undefined && !isDeviceId(id)) throw new ApiError("bad_request", `device id ${JSON.stringify(id)} must be 1-64 characters from A-Z a-z 0-9 _ -`);
    const ttlS = opts.ttlS ?? s.claimTtlS;
    if (!Number.isSafeInteger(ttlS) || ttlS < 60 || ttlS > s.claimTtlMaxS) throw new ApiError("bad_request", `ttlS must be 60..${s.claimTtlMaxS}, got ${JSON.stringify(opts.ttlS)}`);
    const now = this.#now();
    const out: CreatedClaim[] = [];
    for (const deviceId of ids) {
      const claimId = newClaimId();
      const cred = this.#d.issuer.claim(claimId, ttlS, Math.floor(now / 1000));
      const rec: ClaimRecord = {
        claimId, ...(deviceId !== undefined ? { deviceId } : {}), note: opts.note ?? "", createdMs: now, expiresMs: cred.expiresS * 1000,
        publicKey: cred.publicKey, state: ClaimState.Open,
      };
      await this.#d.store.createClaim(rec);
      out.push({ ...claimView(rec), token: claimToken(claimId, cred.jwt) });
    }
    this.stats.claimsCreated += out.length;
    return out;
  }

  async revokeClaim(claimId: string): Promise<ClaimView> {
    if (!isClaimId(claimId)) throw new ApiError("bad_request", `claimId ${JSON.stringify(claimId)} is not a claim id`);
    const rec = await this.#d.store.getClaim(claimId);
    if (!rec) throw new ApiError("not_found", `no claim ${claimId}`);
    const now = this.#now();
    await this.#d.store.consumeClaim(claimId, { kind: "revoke", atMs: now }); // an open claim can no longer be used
    await this.#d.revoker.revoke([{ publicKey: rec.publicKey, kind: RevocationKind.Credential, atS: Math.floor(now / 1000), expiresS: Math.ceil(rec.expiresMs / 1000), reason: "claim-revoked", claimId }]);
    const updated = await this.#d.store.updateClaim(claimId, (cur) => (cur.state === ClaimState.Open || cur.state === ClaimState.Used ? { ...cur, state: ClaimState.Revoked, revokedMs: now } : null));
    this.stats.claimsRevoked++;
    return claimView(updated ?? rec);
  }

  /** Revokes every live credential of a device; returns how many. */
  async revokeDevice(deviceId: string, reason: string): Promise<number> {
    if (!isDeviceId(deviceId)) throw new ApiError("bad_request", `deviceId ${JSON.stringify(deviceId)} is not a device id`);
    const rec = await this.#d.store.getDevice(deviceId);
    if (!rec || rec.keys.length === 0) return 0;
    const n = await this.#revokeKeys(rec.keys, this.#now(), reason, deviceId);
    await this.#d.store.updateDevice(deviceId, (cur) => ({ ...cur, keys: cur.keys.filter((k) => !rec.keys.some((r) => r.publicKey === k.publicKey)) }));
    this.stats.devicesRevoked++;
    return n;
  }

  listClaims(opts: { state?: ClaimState; limit: number; after?: string }): Promise<{ claims: ClaimView[]; next?: string }> {
    return this.#d.store.listClaims(opts).then((r) => ({ claims: r.claims.map(claimView), ...(r.next !== undefined ? { next: r.next } : {}) }));
  }
}

function checkClaim(rec: ClaimRecord, req: ProvisioningRequest, now: number): Refusal | null {
  if (rec.state === ClaimState.Revoked) return { code: ProvisioningError.Revoked, message: `claim ${rec.claimId} was revoked` };
  if (now >= rec.expiresMs) return { code: ProvisioningError.Expired, message: `claim ${rec.claimId} expired at ${new Date(rec.expiresMs).toISOString()}` };
  if (req.op === ProvisioningOp.Issue && rec.deviceId !== undefined && rec.deviceId !== req.deviceId) {
    return { code: ProvisioningError.DeviceNotAllowed, message: `claim ${rec.claimId} is for device ${rec.deviceId}, not ${req.deviceId}` };
  }
  return null;
}

/** API error for a full revocation list: the operator must act. */
export function revocationError(e: unknown): ApiError | null {
  return e instanceof RevocationListFull ? new ApiError("overloaded", e.message) : null;
}
