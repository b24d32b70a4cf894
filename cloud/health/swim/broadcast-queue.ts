// Transmit-limited queue of membership updates (memberlist's
// TransmitLimitedQueue): each update rides on outgoing messages until it was
// sent retransmitLimit times; a newer update about the same node replaces the
// queued one; the least-transmitted go first, so fresh news spreads first.

import type { NodeId } from "../types";
import type { MembershipUpdate } from "./types";

interface Queued {
  update: MembershipUpdate;
  transmits: number;
  /** Insertion order, to break ties newest-first. */
  id: number;
}

export class BroadcastQueue {
  readonly broadcastsMax: number;
  // Invariant: at most one queued update per node; #byNode.size <= broadcastsMax.
  readonly #byNode = new Map<NodeId, Queued>();
  #nextId = 0;
  #dropped = 0;

  constructor(broadcastsMax: number) {
    if (!(Number.isSafeInteger(broadcastsMax) && broadcastsMax > 0)) {
      throw new Error(`BroadcastQueue: broadcastsMax must be a positive integer, got ${broadcastsMax}`);
    }
    this.broadcastsMax = broadcastsMax;
  }

  get size(): number {
    return this.#byNode.size;
  }

  /** Updates dropped because the queue was full (the most-transmitted goes). */
  get dropped(): number {
    return this.#dropped;
  }

  enqueue(update: MembershipUpdate): void {
    this.#byNode.delete(update.node);
    if (this.#byNode.size >= this.broadcastsMax) this.#dropMostTransmitted();
    this.#byNode.set(update.node, { update, transmits: 0, id: this.#nextId++ });
  }

  /** The update queued about `node`, if any. */
  peek(node: NodeId): MembershipUpdate | undefined {
    return this.#byNode.get(node)?.update;
  }

  /**
   * Take up to `max` updates for one message, fewest transmits first, and
   * count the transmission; updates reaching `limit` leave the queue.
   */
  take(max: number, limit: number): MembershipUpdate[] {
    if (max <= 0 || this.#byNode.size === 0) return [];
    const items = [...this.#byNode.values()];
    items.sort((a, b) => a.transmits - b.transmits || b.id - a.id);
    const out: MembershipUpdate[] = [];
    for (const item of items) {
      if (out.length >= max) break;
      out.push(item.update);
      item.transmits++;
      if (item.transmits >= limit) this.#byNode.delete(item.update.node);
    }
    return out;
  }

  #dropMostTransmitted(): void {
    let worst: Queued | undefined;
    for (const item of this.#byNode.values()) {
      if (worst === undefined || item.transmits > worst.transmits) worst = item;
    }
    if (worst === undefined) throw new Error("BroadcastQueue: full but empty");
    this.#byNode.delete(worst.update.node);
    this.#dropped++;
  }
}
