// Simulated network: every message gets a random delay (so messages
// reorder), may be dropped or duplicated, and is discarded when its link is
// cut. Links are directed, so partitions can be asymmetric. Generic over the
// message: anything addressed by numeric `from` and `to` (Raft messages here,
// CASPaxos envelopes in cloud/paxos/sim).

import type { Message } from "../types";
import type { Prng } from "../../base";

/** What the network needs to know of a message: its endpoints. */
export interface Addressed {
  readonly from: number;
  readonly to: number;
}

export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  delayMinMs: number;
  delayMaxMs: number;
}


/** Messages in flight at once; beyond this new ones are dropped (a full socket buffer). */
export const IN_FLIGHT_MAX = 20_000;

export class SimNetwork<M extends Addressed = Message> {
  faults: NetworkFaults;
  readonly #rng: Prng;
  /** Directed links that drop everything: "from->to". */
  readonly #cut = new Set<string>();
  /** Delivery time -> messages, in send order. Time advances by 1 ms per step. */
  #buckets = new Map<number, M[]>();
  #inFlight = 0;
  sent = 0;
  dropped = 0;
  duplicated = 0;

  constructor(rng: Prng, faults: NetworkFaults) {
    this.#rng = rng;
    this.faults = faults;
  }

  send(now: number, m: M): void {
    this.sent++;
    if (this.#cut.has(`${m.from}->${m.to}`) || this.#rng.chance(this.faults.dropRate) || this.#inFlight >= IN_FLIGHT_MAX) {
      this.dropped++;
      return;
    }
    const copies = this.#rng.chance(this.faults.duplicateRate) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let i = 0; i < copies; i++) {
      const at = now + Math.max(1, this.#rng.range(this.faults.delayMinMs, this.faults.delayMaxMs));
      const b = this.#buckets.get(at);
      if (b) b.push(m);
      else this.#buckets.set(at, [m]);
      this.#inFlight++;
    }
  }

  /** Messages due at `now` (called for every ms); cut links are checked at delivery too. */
  deliverDue(now: number): M[] {
    const due = this.#buckets.get(now);
    if (!due) return [];
    this.#buckets.delete(now);
    this.#inFlight -= due.length;
    return due.filter((m) => !this.#cut.has(`${m.from}->${m.to}`));
  }

  cut(from: number, to: number): void {
    this.#cut.add(`${from}->${to}`);
  }

  isCut(from: number, to: number): boolean {
    return this.#cut.has(`${from}->${to}`);
  }

  /** Splits nodes into two sides; `oneWay` cuts only side A -> side B. */
  partition(sideA: readonly number[], sideB: readonly number[], oneWay: boolean): void {
    for (const a of sideA) {
      for (const b of sideB) {
        this.cut(a, b);
        if (!oneWay) this.cut(b, a);
      }
    }
  }

  heal(): void {
    this.#cut.clear();
  }

  get inFlight(): number {
    return this.#inFlight;
  }
}
