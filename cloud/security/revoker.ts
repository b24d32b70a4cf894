// Revocation on the running broker: a revoked user key goes into the trust
// bucket (`rev.<key>`, the record of truth), into this node's in-memory
// list, and the FLEET account JWT rebuilt from the list is pushed at once
// (account-publisher.ts). Every provisioning node watches the bucket and
// re-pushes after any change it sees, and pushes once at start, so the
// broker converges on the full list even when two nodes revoke at the same
// moment and their pushes cross (each push carries everything its node has
// seen; a later push supersedes). Expired entries are pruned from the
// bucket and from the JWT.
import type { Logger } from "../base";
import type { FleetAccountPublisher } from "./account-publisher";
import { RevocationKind, RevocationList, RevocationListFull, type RevocationEntry } from "./revocations";
import type { TrustStore } from "./trust-store";

/** Changes seen on the bucket are pushed after this quiet time (one push for a burst). */
const pushDebounceMs = 50;
/** A failed push is tried again after this long (and on every later change). */
const pushRetryMs = 2_000;

export interface RevokerStats {
  revoked: number;
  pushes: number;
  pushFailures: number;
  pruned: number;
  listSize: number;
  refusedFull: number;
  /** Used-claim keys not listed because the list was full of credential entries. */
  skippedClaims: number;
  /** Used-claim entries dropped to make room for credential revocations. */
  evictedClaims: number;
}

export class Revoker {
  readonly #store: TrustStore;
  readonly #publisher: FleetAccountPublisher;
  readonly #log: Logger;
  readonly #nowS: () => number;
  readonly #list: RevocationList;
  readonly #stats: RevokerStats = { revoked: 0, pushes: 0, pushFailures: 0, pruned: 0, listSize: 0, refusedFull: 0, skippedClaims: 0, evictedClaims: 0 };
  #watch: { stop: () => void } | null = null;
  #timer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;
  /** Used-claim keys waiting for the next (debounced) push. */
  #soon: RevocationEntry[] = [];
  /** Set once the initial values are in: before that, entries are a load, not changes. */
  #loaded = false;

  constructor(d: { store: TrustStore; publisher: FleetAccountPublisher; revocationsMax: number; log: Logger; nowS?: () => number }) {
    this.#store = d.store;
    this.#publisher = d.publisher;
    this.#log = d.log;
    this.#nowS = d.nowS ?? (() => Math.floor(Date.now() / 1000));
    this.#list = new RevocationList(d.revocationsMax);
  }

  stats(): RevokerStats {
    return { ...this.#stats, listSize: this.#list.size };
  }

  /** Loads the list from the bucket and pushes it once (the broker may hold an older account JWT). */
  async start(): Promise<void> {
    let caughtUp!: () => void;
    const ready = new Promise<void>((r) => (caughtUp = r));
    this.#watch = await this.#store.watchRevocations({
      // An entry of unknown kind is held as a credential: never evicted.
      onEntry: (e) => { this.#list.set({ ...e, kind: e.kind === RevocationKind.UsedClaim ? RevocationKind.UsedClaim : RevocationKind.Credential }); if (this.#loaded) this.#schedule(); },
      onDelete: (k) => { this.#list.delete(k); },
      onCaughtUp: () => caughtUp(),
    });
    await ready;
    this.#loaded = true;
    // A failed first push is logged and retried (#pushNow): the role serves meanwhile.
    await this.push().catch(() => undefined);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#retryTimer);
    this.#watch?.stop();
  }

  /**
   * Revokes these keys: records them, then pushes the account; resolves once
   * a server confirmed the push (the keys' connections are closed by then).
   * Throws RevocationListFull (nothing recorded) when the list would exceed its bound.
   */
  async revoke(entries: readonly RevocationEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const fresh = entries.filter((e) => !this.#list.has(e.publicKey)).length;
    if (!this.#list.roomFor(fresh)) {
      this.#list.prune(this.#nowS());
      if (!this.#list.roomFor(fresh)) {
        this.#stats.refusedFull++;
        throw new RevocationListFull(this.#list.max);
      }
    }
    await this.#record(entries);
    await this.push();
  }

  /**
   * Lists the keys of used claims (RevocationKind.UsedClaim) with the next
   * push, at most pushDebounceMs from now — a fleet provisioning at once
   * costs one push per burst, not one per device. Best effort by design
   * (revocations.ts): skipped when the list is full.
   */
  revokeSoon(entries: readonly RevocationEntry[]): void {
    this.#soon.push(...entries);
    this.#schedule();
  }

  async #record(entries: readonly RevocationEntry[]): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const e of entries) {
      const r = this.#list.add(e);
      if (!r.added) {
        this.#stats.skippedClaims++;
        continue;
      }
      if (r.evicted) {
        this.#stats.evictedClaims++;
        writes.push(this.#store.deleteRevocation(r.evicted.publicKey));
      }
      writes.push(this.#store.putRevocation(this.#list.get(e.publicKey)!));
      this.#stats.revoked++;
    }
    await Promise.all(writes);
  }

  /** Rebuilds the account JWT from the list and pushes it (serialised: one push at a time, in order). */
  push(): Promise<void> {
    const run = this.#chain.then(() => this.#pushNow());
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #pushNow(): Promise<void> {
    if (this.#stopped) return;
    if (this.#soon.length > 0) {
      const soon = this.#soon;
      this.#soon = [];
      await this.#record(soon).catch((e: unknown) => this.#log.warn("recording used-claim revocations failed", { err: e }));
    }
    const now = this.#nowS();
    const expired = this.#list.expired(now);
    for (const e of expired) this.#list.delete(e.publicKey);
    if (expired.length > 0) {
      this.#stats.pruned += expired.length;
      await Promise.allSettled(expired.map((e) => this.#store.deleteRevocation(e.publicKey)));
    }
    try {
      await this.#publisher.push(this.#list.claims(now));
      this.#stats.pushes++;
    } catch (e) {
      this.#stats.pushFailures++;
      this.#log.error(`FLEET account push failed; retrying in ${pushRetryMs} ms`, { err: e });
      clearTimeout(this.#retryTimer);
      if (!this.#stopped) this.#retryTimer = setTimeout(() => { this.push().catch(() => undefined); }, pushRetryMs);
      throw e;
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => { this.push().catch(() => undefined); }, pushDebounceMs);
  }
}

export { RevocationListFull, RevocationKind };
