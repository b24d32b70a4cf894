// Trust state in JetStream (docs/security.md, "where the records live"):
//
//  - KV bucket xsfleet_trust: `claim.<claimId>` (claim records, for listing
//    and revoking), `dev.<deviceId>` (the public keys of a device's current
//    credentials, so decommission can revoke them) and `rev.<userKey>` (one
//    revocation each; the FLEET account JWT's list is rebuilt from them).
//  - Stream XSF_CLAIM_USES: at most one message per claim, ever
//    (max_msgs_per_subject 1, discard new per subject). Publishing it is
//    what consumes a claim; the broker refuses the second publish. Measured
//    on nats-server 2.9.10 R3 with 9 concurrent publishers on 3 servers:
//    exactly one winner in 200/200 rounds (docs/research/nats29, C3b),
//    where KV compare-and-set on R3 let several win (C3). KV records are
//    bookkeeping; the marker decides.
import type { NatsConnection } from "@nats-io/transport-node";
import {
  DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, jetstream, jetstreamManager, type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { Kvm, KvWatchInclude, type KV } from "@nats-io/kv";
import { isCasConflict } from "../nats";
import { claimUseSubject, allClaimUsesSubject } from "../subjects";
import { claimUsesStream, trustBucket } from "./names";
import type { RevocationEntry } from "./revocations";

export const ClaimState = Object.freeze({
  /** Created, not used yet. */
  Open: "open",
  /** Exchanged for a device credential; the device has not confirmed yet. */
  Used: "used",
  /** The device stored its credential; the claim's key is revoked. */
  Done: "done",
  Revoked: "revoked",
} as const);
export type ClaimState = (typeof ClaimState)[keyof typeof ClaimState];

export interface ClaimRecord {
  claimId: string;
  /** The only device id this claim may provision; absent = any valid id the device reports. */
  deviceId?: string;
  note: string;
  createdMs: number;
  expiresMs: number;
  /** The claim JWT's user key: revoked when the claim is done or revoked. */
  publicKey: string;
  state: ClaimState;
  usedBy?: string;
  usedMs?: number;
  doneMs?: number;
  revokedMs?: number;
}

export interface DeviceKey {
  publicKey: string;
  issuedS: number;
  expiresS: number;
  claimId?: string;
}

export interface DeviceCredentialRecord {
  deviceId: string;
  keys: DeviceKey[];
}

/** What consumed a claim: the marker's body. */
export interface ClaimUse {
  kind: "use" | "revoke";
  deviceId?: string;
  atMs: number;
}

const claimPrefix = "claim.";
const devicePrefix = "dev.";
const revocationPrefix = "rev.";
const ns = 1_000_000;
/** Markers outlive any claim (claims expire within claimTtlMaxS), then go. */
const claimUseRetentionMs = 62 * 24 * 3600_000;
const casAttemptsMax = 20;
const enc = new TextEncoder();

export class TrustStore {
  readonly #kv: KV;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;

  private constructor(kv: KV, js: JetStreamClient, jsm: JetStreamManager) {
    this.#kv = kv;
    this.#js = js;
    this.#jsm = jsm;
  }

  /** Opens (creating when missing) the bucket and the claim-use stream. Idempotent, safe from several nodes. */
  static async open(nc: NatsConnection, opts: { replicas: number }): Promise<TrustStore> {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const kv = await new Kvm(js).create(trustBucket, { replicas: opts.replicas, history: 1, storage: StorageType.File, description: "xsfleet claims, device credentials, revocations" });
    const cfg = {
      name: claimUsesStream, subjects: [allClaimUsesSubject], retention: RetentionPolicy.Limits, storage: StorageType.File, num_replicas: opts.replicas,
      max_msgs_per_subject: 1, discard: DiscardPolicy.New, discard_new_per_subject: true, max_age: claimUseRetentionMs * ns, max_msg_size: 1024,
      description: "one marker per consumed or revoked claim",
    };
    try {
      await jsm.streams.info(claimUsesStream);
    } catch (e) {
      if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
      try {
        await jsm.streams.add(cfg);
      } catch (err) {
        if (!(err instanceof JetStreamApiError && err.code === 10058)) throw err; // another node created it first
      }
    }
    return new TrustStore(kv, js, jsm);
  }

  // ---- claims ----

  async createClaim(rec: ClaimRecord): Promise<void> {
    await this.#kv.create(claimPrefix + rec.claimId, JSON.stringify(rec));
  }

  async getClaim(claimId: string): Promise<ClaimRecord | null> {
    const e = await this.#kv.get(claimPrefix + claimId);
    return e && e.operation === "PUT" ? e.json<ClaimRecord>() : null;
  }

  /** Read-modify-write of a claim record; `change` returns null to leave it. */
  async updateClaim(claimId: string, change: (cur: ClaimRecord) => ClaimRecord | null): Promise<ClaimRecord | null> {
    return this.#mutate<ClaimRecord>(claimPrefix + claimId, (cur) => (cur ? change(cur) : null));
  }

  /** Claim records by id, optionally in one state; `after` pages. */
  async listClaims(opts: { state?: ClaimState; limit: number; after?: string }): Promise<{ claims: ClaimRecord[]; next?: string }> {
    const ids: string[] = [];
    for await (const k of await this.#kv.keys(`${claimPrefix}>`)) ids.push(k.slice(claimPrefix.length));
    ids.sort();
    const claims: ClaimRecord[] = [];
    for (const id of ids) {
      if (opts.after !== undefined && id <= opts.after) continue;
      const rec = await this.getClaim(id);
      if (!rec || (opts.state && rec.state !== opts.state)) continue;
      if (claims.length === opts.limit) return { claims, next: claims[claims.length - 1]!.claimId };
      claims.push(rec);
    }
    return { claims };
  }

  /**
   * Consumes a claim: publishes its one marker. Returns null when this call
   * won, or the marker that got there first.
   */
  async consumeClaim(claimId: string, use: ClaimUse): Promise<ClaimUse | null> {
    try {
      await this.#js.publish(claimUseSubject(claimId), enc.encode(JSON.stringify(use)));
      return null;
    } catch (e) {
      if (!isPerSubjectLimit(e)) throw e;
      const first = await this.claimUse(claimId);
      if (!first) throw new Error(`claim ${claimId}: its marker was refused as a duplicate but cannot be read`);
      return first;
    }
  }

  async claimUse(claimId: string): Promise<ClaimUse | null> {
    try {
      const m = await this.#jsm.streams.getMessage(claimUsesStream, { last_by_subj: claimUseSubject(claimId) });
      return m ? m.json<ClaimUse>() : null;
    } catch (e) {
      if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.NoMessageFound) return null;
      throw e;
    }
  }

  // ---- device credentials ----

  async getDevice(deviceId: string): Promise<DeviceCredentialRecord | null> {
    const e = await this.#kv.get(devicePrefix + deviceId);
    return e && e.operation === "PUT" ? e.json<DeviceCredentialRecord>() : null;
  }

  async updateDevice(deviceId: string, change: (cur: DeviceCredentialRecord) => DeviceCredentialRecord): Promise<DeviceCredentialRecord> {
    const r = await this.#mutate<DeviceCredentialRecord>(devicePrefix + deviceId, (cur) => change(cur ?? { deviceId, keys: [] }), true);
    return r!;
  }

  // ---- revocations ----

  async putRevocation(e: RevocationEntry): Promise<void> {
    await this.#kv.put(revocationPrefix + e.publicKey, JSON.stringify(e));
  }

  async deleteRevocation(publicKey: string): Promise<void> {
    await this.#kv.purge(revocationPrefix + publicKey);
  }

  /**
   * Every revocation now and every later change, until `stop()`: `onEntry`
   * gets puts, `onDelete` removals, `onCaughtUp` once the entries that
   * existed at the call have been delivered. The watch of updates starts
   * before the existing entries are read, so nothing falls in between
   * (an entry may arrive twice; entries are idempotent).
   */
  async watchRevocations(h: { onEntry: (e: RevocationEntry) => void; onDelete: (publicKey: string) => void; onCaughtUp: () => void }): Promise<{ stop: () => void }> {
    const w = await this.#kv.watch({ key: `${revocationPrefix}>`, include: KvWatchInclude.UpdatesOnly });
    const entry = (bytes: { json<T>(): T }): void => {
      try {
        h.onEntry(bytes.json<RevocationEntry>());
      } catch {
        // a malformed entry was not written by us; it revokes nothing
      }
    };
    void (async () => {
      for await (const e of w) {
        if (e.operation === "PUT") entry(e);
        else h.onDelete(e.key.slice(revocationPrefix.length));
      }
    })();
    for await (const k of await this.#kv.keys(`${revocationPrefix}>`)) {
      const e = await this.#kv.get(k);
      if (e && e.operation === "PUT") entry(e);
    }
    h.onCaughtUp();
    return { stop: () => w.stop() };
  }

  async #mutate<T>(key: string, change: (cur: T | null) => T | null, allowCreate = false): Promise<T | null> {
    for (let attempt = 0; attempt < casAttemptsMax; attempt++) {
      const e = await this.#kv.get(key);
      const exists = !!e && e.operation === "PUT";
      const cur = exists ? e!.json<T>() : null;
      if (!exists && !allowCreate) return null;
      const next = change(cur);
      if (next === null) return cur;
      try {
        if (e) await this.#kv.update(key, JSON.stringify(next), e.revision);
        else await this.#kv.create(key, JSON.stringify(next));
        return next;
      } catch (err) {
        if (!isCasConflict(err)) throw err;
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * (5 + attempt * 5))));
      }
    }
    throw new Error(`trust store: gave up on ${key} after ${casAttemptsMax} concurrent updates`);
  }
}

/** The claim-use stream refused a second marker for the subject. */
function isPerSubjectLimit(e: unknown): boolean {
  return e instanceof Error && /maximum messages per subject exceeded/i.test(e.message);
}
