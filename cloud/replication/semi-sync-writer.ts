// The I/O edge of the semi-sync gate: after the primary acknowledged a
// write, `after(ack)` resolves when the mirror stream holds its sequence
// (read from the mirror's stream info, which keeps the primary's sequence
// numbers) or when the gate degrades it (semi-sync.ts). The mirror is
// polled only while writes wait, and slowly while degraded (to notice it
// caught up); each poll is one stream-info request.
import type { JetStreamManager, PubAck } from "@nats-io/jetstream";
import { SemiSyncGate, type GateOutcome, type GateStats } from "./semi-sync";

export interface SemiSyncWriterOptions {
  timeoutMs: number;
  /** Pause between polls while writes wait (default 1 ms: each poll is a round trip, so the wait is about two). */
  pollMs?: number;
  /** Poll period while degraded and nothing waits (default 500 ms). */
  idlePollMs?: number;
  nowMs?: () => number;
  onDegraded?: () => void;
}

export class SemiSyncWriter {
  readonly gate: SemiSyncGate;
  readonly #jsm: JetStreamManager;
  readonly #now: () => number;
  readonly #pollMs: number;
  readonly #idlePollMs: number;
  #timer: NodeJS.Timeout | null = null;
  /** Checks deadlines while writes wait, independent of a slow stream-info request. */
  #ticker: NodeJS.Timeout | null = null;
  #polling = false;
  #stopped = false;
  #lastDegradations = 0;

  constructor(jsm: JetStreamManager, readonly primary: string, readonly mirror: string, private readonly opts: SemiSyncWriterOptions) {
    this.#jsm = jsm;
    this.gate = new SemiSyncGate(opts.timeoutMs);
    this.#now = opts.nowMs ?? Date.now;
    this.#pollMs = opts.pollMs ?? 1;
    this.#idlePollMs = opts.idlePollMs ?? 500;
  }

  get stats(): GateStats & { degraded: boolean; mirrorSeq: number } {
    return { ...this.gate.stats, degraded: this.gate.degraded, mirrorSeq: this.gate.mirrorSeq };
  }

  /** Resolves once `ack` (from the primary) is on the mirror, or degraded. */
  after(ack: PubAck): Promise<GateOutcome> {
    if (ack.stream !== this.primary) return Promise.reject(new Error(`semi-sync: ack from stream ${ack.stream}, expected ${this.primary}`));
    return new Promise<GateOutcome>((resolve) => {
      this.gate.acked(ack.seq, this.#now(), resolve);
      this.#schedule();
    });
  }

  #tick(): void {
    this.gate.tick(this.#now());
    if (this.gate.stats.degradations !== this.#lastDegradations) {
      this.#lastDegradations = this.gate.stats.degradations;
      this.opts.onDegraded?.();
    }
    if (this.gate.waiting === 0 && this.#ticker) { clearInterval(this.#ticker); this.#ticker = null; }
  }

  #schedule(): void {
    if (!this.#stopped && !this.#ticker && this.gate.waiting > 0) {
      this.#ticker = setInterval(() => this.#tick(), Math.max(5, Math.min(50, Math.floor(this.opts.timeoutMs / 10))));
    }
    if (this.#stopped || this.#timer || this.#polling) return;
    const waiting = this.gate.waiting > 0;
    if (!waiting && !this.gate.degraded) return;
    this.#timer = setTimeout(() => { this.#timer = null; void this.#poll(); }, waiting ? this.#pollMs : this.#idlePollMs);
    if (!waiting) this.#timer.unref();
  }

  async #poll(): Promise<void> {
    this.#polling = true;
    try {
      const info = await this.#jsm.streams.info(this.mirror);
      this.gate.mirrored(info.state.last_seq);
    } catch {
      // Mirror unreachable: the deadline decides.
    } finally {
      this.#polling = false;
    }
    this.#tick();
    this.#schedule();
  }

  /** Releases every waiter as degraded and stops polling. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#ticker) clearInterval(this.#ticker);
    this.#timer = null;
    this.#ticker = null;
    this.gate.tick(Number.MAX_SAFE_INTEGER);
  }
}
