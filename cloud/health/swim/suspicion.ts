// Lifeguard suspicion timer (memberlist suspicion.go) as pure arithmetic: the
// timeout starts at `maxMs` and shrinks toward `minMs` logarithmically as
// independent members confirm the suspicion, so a well-corroborated failure
// is declared fast and a lone (maybe unhealthy) accuser has to wait long.

import type { NodeId } from "../types";

export class Suspicion {
  readonly startMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** Confirmations that bring the timeout down to minMs. */
  readonly confirmationsExpected: number;
  // Invariant: #confirmers.size <= confirmationsExpected; the accuser is in it as key only if it confirmed again.
  readonly #confirmers = new Set<NodeId>();
  readonly #accuser: NodeId;

  constructor(accuser: NodeId, confirmationsExpected: number, minMs: number, maxMs: number, startMs: number) {
    if (!(minMs > 0 && maxMs >= minMs)) throw new Error(`Suspicion: need 0 < minMs <= maxMs, got ${minMs}, ${maxMs}`);
    this.#accuser = accuser;
    this.confirmationsExpected = Math.max(0, confirmationsExpected);
    this.minMs = minMs;
    this.maxMs = confirmationsExpected < 1 ? minMs : maxMs;
    this.startMs = startMs;
  }

  get confirmations(): number {
    return this.#confirmers.size;
  }

  /** Count an independent confirmation; false when it adds nothing. */
  confirm(from: NodeId): boolean {
    if (this.#confirmers.size >= this.confirmationsExpected) return false;
    if (from === this.#accuser || this.#confirmers.has(from)) return false;
    this.#confirmers.add(from);
    return true;
  }

  /** Current timeout: max(min, max - log(c+1)/log(k+1) * (max - min)). */
  timeoutMs(): number {
    const k = this.confirmationsExpected;
    if (k < 1) return this.minMs;
    const frac = Math.log(this.#confirmers.size + 1) / Math.log(k + 1);
    return Math.max(this.minMs, Math.floor(this.maxMs - frac * (this.maxMs - this.minMs)));
  }

  deadlineMs(): number {
    return this.startMs + this.timeoutMs();
  }
}
