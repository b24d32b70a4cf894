// The ring as this process sees it: the cache nodes of the cluster's SWIM
// view (cloud/membership: members not down that announce the cache role),
// re-read every refreshMs and on every status change, so joins and leaves
// rebalance the ring within about one heartbeat. Listeners hear each
// change (cache nodes purge the keys they no longer own).
import { CloudRole } from "../base";
import { MemberStatus, type MembershipDriver } from "../membership";
import { HashRing, VNODES_DEFAULT } from "./ring";

/** Where the cache nodes come from: the SWIM view in the product, a fixed list in tests and benches. */
export interface CacheMembers {
  cacheNodes(): string[];
  /** Called on membership events (optional: the view also polls). */
  onChange?(listener: () => void): () => void;
}

/** The SWIM view's members with the cache role, suspects included (reads fail over past them), down ones not. */
export function swimCacheMembers(m: Pick<MembershipDriver, "members" | "onStatus">): CacheMembers {
  return {
    cacheNodes: () => m.members().filter((v) => v.status !== MemberStatus.Down && v.roles.includes(CloudRole.Cache)).map((v) => v.nodeId),
    onChange: (l) => m.onStatus(() => l()),
  };
}

export function fixedCacheMembers(nodes: () => string[]): CacheMembers {
  return { cacheNodes: nodes };
}

export const REPLICATION_FACTOR_DEFAULT = 2;
export const REPLICATION_FACTOR_MAX = 5;

export interface CacheRingViewOptions {
  members: CacheMembers;
  vnodes?: number;
  rf?: number;
  refreshMs?: number;
}

export class CacheRingView {
  readonly ring: HashRing;
  readonly rf: number;
  readonly #members: CacheMembers;
  readonly #refreshMs: number;
  readonly #listeners = new Set<() => void>();
  #timer: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;

  constructor(o: CacheRingViewOptions) {
    this.rf = o.rf ?? REPLICATION_FACTOR_DEFAULT;
    if (!Number.isInteger(this.rf) || this.rf < 1 || this.rf > REPLICATION_FACTOR_MAX) throw new Error(`cache replication factor must be 1..${REPLICATION_FACTOR_MAX}, got ${this.rf}`);
    this.ring = new HashRing({ vnodes: o.vnodes ?? VNODES_DEFAULT });
    this.#members = o.members;
    this.#refreshMs = o.refreshMs ?? 250;
    this.refresh();
  }

  start(): this {
    if (this.#timer) return this;
    this.#timer = setInterval(() => this.refresh(), this.#refreshMs);
    this.#timer.unref();
    this.#unsubscribe = this.#members.onChange?.(() => this.refresh()) ?? null;
    return this;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  ownersOf(key: string): string[] {
    return this.ring.ownersOf(key, this.rf);
  }

  onChange(l: () => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  /** Re-reads the members; true when the ring changed. */
  refresh(): boolean {
    if (!this.ring.setNodes(this.#members.cacheNodes())) return false;
    for (const l of this.#listeners) l();
    return true;
  }
}
