// The semi-synchronous gate, pure: a write acknowledged by the primary at
// sequence `seq` is released once the mirror is known to hold `seq`, or at
// its deadline. A deadline passed degrades the gate (counted): from then on
// writes are released at once (async) until the mirror has caught up with
// the sequence at which the gate degraded; then it is semi-sync again
// (counted). Time and mirror progress come from the caller (semi-sync-writer.ts).

export type GateOutcome = "replicated" | "degraded";

export interface GateStats {
  /** Writes released because the mirror held them. */
  replicated: number;
  /** Writes released without the mirror (timed out, or while degraded). */
  unreplicated: number;
  /** Times the gate degraded to async. */
  degradations: number;
  /** Times it came back to semi-sync. */
  recoveries: number;
}

interface Waiter {
  seq: number;
  deadlineMs: number;
  release(o: GateOutcome): void;
}

/** Writes waiting at once; beyond, new writes are released as degraded (bounded memory). */
export const semiSyncWaitersMax = 100_000;

export class SemiSyncGate {
  readonly stats: GateStats = { replicated: 0, unreplicated: 0, degradations: 0, recoveries: 0 };
  #mirrorSeq = 0;
  /** Set while degraded: the primary's highest acknowledged seq when it degraded. */
  #degradedAt: number | null = null;
  #highestAcked = 0;
  #waiters: Waiter[] = [];

  constructor(readonly timeoutMs: number) {
    if (!(timeoutMs > 0)) throw new Error(`semi-sync timeout must be > 0 ms, got ${timeoutMs}`);
  }

  get degraded(): boolean {
    return this.#degradedAt !== null;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  get mirrorSeq(): number {
    return this.#mirrorSeq;
  }

  /** The primary acknowledged `seq` at nowMs; `release` is called once, now or later. */
  acked(seq: number, nowMs: number, release: (o: GateOutcome) => void): void {
    this.#highestAcked = Math.max(this.#highestAcked, seq);
    if (seq <= this.#mirrorSeq) { this.stats.replicated++; release("replicated"); return; }
    if (this.#degradedAt !== null || this.#waiters.length >= semiSyncWaitersMax) { this.stats.unreplicated++; release("degraded"); return; }
    this.#waiters.push({ seq, deadlineMs: nowMs + this.timeoutMs, release });
  }

  /** The mirror holds every sequence up to `seq`. */
  mirrored(seq: number): void {
    if (seq <= this.#mirrorSeq) return;
    this.#mirrorSeq = seq;
    if (this.#degradedAt !== null && seq >= this.#degradedAt) {
      this.#degradedAt = null;
      this.stats.recoveries++;
    }
    const keep: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.seq <= seq) { this.stats.replicated++; w.release("replicated"); } else keep.push(w);
    }
    this.#waiters = keep;
  }

  /** Releases writes past their deadline; the first one degrades the gate. */
  tick(nowMs: number): void {
    if (this.#waiters.every((w) => w.deadlineMs > nowMs)) return;
    // One late write means the mirror is not keeping up: release every waiter rather than make each wait its full timeout.
    if (this.#degradedAt === null) {
      this.#degradedAt = this.#highestAcked;
      this.stats.degradations++;
    }
    const all = this.#waiters;
    this.#waiters = [];
    for (const w of all) { this.stats.unreplicated++; w.release("degraded"); }
  }
}
