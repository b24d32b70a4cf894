// The revocation list of the FLEET account, pure: which user keys the
// broker must refuse, since when, and until when that matters. nats-server
// refuses a user JWT whose key is listed with a time at or after the JWT's
// `iat` (accounts.go isRevoked). An entry is needed only while a JWT it
// covers can still be valid, so entries are pruned once the longest-lived
// JWT of that key has expired — that keeps the account JWT (≈70 bytes per
// entry, pushed whole on every change) far below max_payload.
//
// Bounded: at most `revocationsMax` live entries, in two classes. A
// `credential` entry (a device's or a claim's key revoked because someone
// must be shut out) is never dropped while live: beyond the bound it evicts
// a `used-claim` entry, or is refused with a typed error. A `used-claim`
// entry (the key of a claim that already did its one job; the claim-use
// marker refuses it anyway) is defence in depth: it is recorded while there
// is room and is the first to go when there is none — otherwise every
// provisioned device would hold a slot for a day and a fleet rollout would
// fill the list.

export const RevocationKind = Object.freeze({ Credential: "credential", UsedClaim: "used-claim" } as const);
export type RevocationKind = (typeof RevocationKind)[keyof typeof RevocationKind];

export interface RevocationEntry {
  /** User public key (U…). */
  publicKey: string;
  kind: RevocationKind;
  /** Seconds since the epoch: JWTs of this key issued at or before are refused. */
  atS: number;
  /** When the last JWT this entry covers expires (seconds); the entry may go after that. */
  expiresS: number;
  reason: string;
  deviceId?: string;
  claimId?: string;
}

/** Live entries the account JWT carries at most (≈570 KB of JWT at the limit, under the 1 MiB max_payload). */
export const revocationsMaxDefault = 8192;

export class RevocationListFull extends Error {
  constructor(readonly max: number) {
    super(`the revocation list holds ${max} live entries (revocationsMax); shorten credential lifetimes or raise the limit`);
    this.name = "RevocationListFull";
  }
}

export class RevocationList {
  readonly max: number;
  readonly #entries = new Map<string, RevocationEntry>();

  constructor(max = revocationsMaxDefault) {
    if (!Number.isSafeInteger(max) || max < 1) throw new Error(`revocationsMax must be a positive integer, got ${max}`);
    this.max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  has(publicKey: string): boolean {
    return this.#entries.has(publicKey);
  }

  get(publicKey: string): RevocationEntry | undefined {
    return this.#entries.get(publicKey);
  }

  /**
   * Adds or widens an entry (later `atS`, later `expiresS`, and `credential`
   * over `used-claim` win). When full: a used-claim entry is not added
   * (returns false); a credential entry evicts the used-claim entry that
   * expires first (returned in `evicted`) or throws RevocationListFull.
   */
  add(e: RevocationEntry): { added: boolean; evicted?: RevocationEntry } {
    const cur = this.#entries.get(e.publicKey);
    if (cur) {
      const kind = cur.kind === RevocationKind.Credential || e.kind === RevocationKind.Credential ? RevocationKind.Credential : RevocationKind.UsedClaim;
      this.#entries.set(e.publicKey, { ...cur, kind, atS: Math.max(cur.atS, e.atS), expiresS: Math.max(cur.expiresS, e.expiresS) });
      return { added: true };
    }
    let evicted: RevocationEntry | undefined;
    if (this.#entries.size >= this.max) {
      if (e.kind === RevocationKind.UsedClaim) return { added: false };
      evicted = this.#firstToGo();
      if (evicted === undefined) throw new RevocationListFull(this.max);
      this.#entries.delete(evicted.publicKey);
    }
    this.#entries.set(e.publicKey, { ...e });
    return evicted ? { added: true, evicted } : { added: true };
  }

  /** Room for `n` more credential entries (free slots plus evictable used-claim entries)? */
  roomFor(n: number): boolean {
    let evictable = 0;
    for (const e of this.#entries.values()) if (e.kind === RevocationKind.UsedClaim) evictable++;
    return this.max - this.#entries.size + evictable >= n;
  }

  #firstToGo(): RevocationEntry | undefined {
    let best: RevocationEntry | undefined;
    for (const e of this.#entries.values()) if (e.kind === RevocationKind.UsedClaim && (!best || e.expiresS < best.expiresS)) best = e;
    return best;
  }

  /** Replaces an entry as stored elsewhere (a KV watch), without the bound: the store is the authority. */
  set(e: RevocationEntry): void {
    this.#entries.set(e.publicKey, { ...e });
  }

  delete(publicKey: string): boolean {
    return this.#entries.delete(publicKey);
  }

  /** Entries whose JWTs have all expired by `nowS`: they no longer need to be listed. */
  expired(nowS: number): RevocationEntry[] {
    return [...this.#entries.values()].filter((e) => e.expiresS < nowS);
  }

  /** Removes expired entries; returns how many. */
  prune(nowS: number): number {
    let n = 0;
    for (const e of this.expired(nowS)) if (this.#entries.delete(e.publicKey)) n++;
    return n;
  }

  /** The account JWT's `revocations` claim: public key → unix seconds, live entries only, sorted for stable output. */
  claims(nowS: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of [...this.#entries.values()].sort((a, b) => (a.publicKey < b.publicKey ? -1 : 1))) {
      if (e.expiresS >= nowS) out[e.publicKey] = e.atS;
    }
    return out;
  }

  entries(): RevocationEntry[] {
    return [...this.#entries.values()];
  }
}
