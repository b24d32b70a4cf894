// Timestamp stream of a batch: blocks of up to blockPointsMax points. Each
// block picks a transform by measurement (its cost under the adaptive models
// as they stand), then codes it with those models (range.ts), which keep
// learning across blocks:
//  - DeltaOfDelta: Δt_i − Δt_{i−1}; regular or drifting intervals → ~0 bits.
//  - Quantum: Δt = q·m + o + r (quantum.ts): a radio's timer tick q, its
//    phase o, jitter r; m and r coded relative to declared bases.
//  - QuantumReuse: the previous Quantum block's q, o and bases (no header).
import { zigzag } from "./bits";
import { CodecError, CodecErrorReason } from "./errors";
import { QuantumPlan, QuantumSearch, quantumMax } from "./quantum";
import { contexts, CostMeter, IntModel, newProbs, probInit, type BitSink, type RangeDecoder, type RangeEncoder } from "./range";

export const blockPointsMax = 128;
/** Timestamps are integers with |t| < 2^50 ms, so Δ-of-Δ stays below 2^52. */
export const timestampAbsMax = 2 ** 50;

export const TimeBlockMode = Object.freeze({ DeltaOfDelta: 0, Quantum: 1, QuantumReuse: 2 } as const);
export type TimeBlockMode = (typeof TimeBlockMode)[keyof typeof TimeBlockMode];

const modeBits = 2;

/** Quantum parameters in force: q, o and the bases m and r are coded against. */
interface QuantumState {
  q: number;
  o: number;
  mBase: number;
  rBase: number;
}

function mContext(m: number): number {
  return m < 0 ? 0 : m === 0 ? 1 : 2;
}

function rContext(r: number): number {
  return r === 0 ? 0 : r === -1 ? 1 : r === 1 ? 2 : r < 0 ? 3 : 4;
}

/** Adaptive models of one timestamp stream, identical at both ends. */
class TimeModels {
  /** All probabilities in one array, so a snapshot is one copy. */
  readonly all = newProbs(9 * IntModel.size);
  readonly dod = new IntModel(contexts(this.all, 0, 1));
  /** Tick count m in the context of the previous one (below, at, above the base): intervals alternate. */
  readonly m = [6, 1, 7].map((k) => new IntModel(contexts(this.all, k, k + 1)));
  prevM = 0;
  /** Jitter r in the context of the previous point's r (0, −1, +1, below, above): jitter is correlated. */
  readonly r = [2, 3, 4, 5, 8].map((k) => new IntModel(contexts(this.all, k, k + 1)));
  prevR = 0;
  /** q = 0: no Quantum block yet. */
  readonly last: QuantumState = { q: 0, o: 0, mBase: 0, rBase: 0 };

  /** Back to the state of fresh models (a reused decoder's next batch). */
  reset(): void {
    this.all.fill(probInit);
    this.prevM = 0;
    this.prevR = 0;
    const last = this.last;
    last.q = 0;
    last.o = 0;
    last.mBase = 0;
    last.rBase = 0;
  }
}

export class TimeEncoder {
  private prevT: number;
  private prevDelta = 0;
  private readonly d = new Float64Array(blockPointsMax);
  private readonly dod = new Float64Array(blockPointsMax);
  private readonly z = new Float64Array(blockPointsMax);
  private readonly meter = new CostMeter();
  private readonly snapshot = newProbs(9 * IntModel.size); // same size as TimeModels.all
  private readonly fresh: QuantumState = { q: 1, o: 0, mBase: 0, rBase: 0 };
  private readonly search = new QuantumSearch(blockPointsMax);
  private readonly plan = new QuantumPlan();
  private readonly models = new TimeModels();
  /** Per block: mode, then for Quantum q, o, mBase, rBase. */
  readonly log: number[] = [];
  private replayAt = 0;

  /**
   * With `replay` (the log of an encoder that coded the same timestamps),
   * blocks reuse its choices instead of searching: the batch encoder's second
   * pass, which writes into the exact-size buffer, costs no search.
   */
  constructor(firstT: number, private readonly replay: readonly number[] | null = null) {
    this.prevT = firstT;
  }

  /** Codes timestamps ts[start..end), end − start <= blockPointsMax. */
  encodeBlock(e: RangeEncoder, ts: ArrayLike<number>, start: number, end: number): void {
    const n = end - start;
    const { d, dod } = this;
    let prevT = this.prevT;
    let prevDelta = this.prevDelta;
    for (let i = 0; i < n; i++) {
      const t = ts[start + i]!;
      d[i] = t - prevT;
      dod[i] = d[i]! - prevDelta;
      prevDelta = d[i]!;
      prevT = t;
    }
    this.prevT = prevT;
    this.prevDelta = prevDelta;

    const last = this.models.last;
    let mode: number;
    if (this.replay) {
      mode = this.replay[this.replayAt++]!;
      if (mode === TimeBlockMode.Quantum) {
        last.q = this.replay[this.replayAt++]!;
        last.o = this.replay[this.replayAt++]!;
        last.mBase = this.replay[this.replayAt++]!;
        last.rBase = this.replay[this.replayAt++]!;
      }
    } else {
      mode = this.decide(n);
      this.log.push(mode);
      if (mode === TimeBlockMode.Quantum) this.log.push(last.q, last.o, last.mBase, last.rBase);
    }
    this.code(e, mode, last, n);
  }

  /** Codes the block in `mode` (with quantum state `qs`) into an encoder or a cost meter. */
  private code(e: BitSink, mode: number, qs: QuantumState, n: number): void {
    const { d, dod, models } = this;
    e.bits(mode, modeBits);
    if (mode === TimeBlockMode.DeltaOfDelta) {
      for (let i = 0; i < n; i++) models.dod.encode(e, dod[i]!);
      return;
    }
    const { q, o, mBase, rBase } = qs;
    if (mode === TimeBlockMode.Quantum) {
      e.uvar(q);
      e.uvar(o);
      e.uvar(zigzag(mBase));
      e.uvar(zigzag(rBase));
    }
    const half = Math.floor(q / 2);
    for (let i = 0; i < n; i++) {
      const c = d[i]! - o;
      const m = Math.floor((c + half) / q);
      const r = c - m * q - rBase;
      models.m[mContext(models.prevM)]!.encode(e, m - mBase);
      models.prevM = m - mBase;
      models.r[rContext(models.prevR)]!.encode(e, r);
      models.prevR = r;
    }
  }

  /**
   * Picks the block's mode by measurement: Δ-of-Δ, the previous quantum, and
   * the best new quantum (found by static-cost search) are each costed with
   * the adaptive models as they stand, on a snapshot restored afterwards.
   */
  private decide(n: number): number {
    const { d, dod, z, models } = this;
    const plan = this.plan;
    const last = models.last;
    plan.bits = Infinity;
    this.search.search(d, dod, n, true, plan);
    const fresh = this.fresh;
    fresh.q = plan.q;
    fresh.o = plan.o;
    // Centre m and r on their medians: the adaptive models then see values
    // around 0, where their code is the finest.
    const half = Math.floor(plan.q / 2);
    for (let i = 0; i < n; i++) z[i] = Math.floor((d[i]! - plan.o + half) / plan.q);
    fresh.mBase = median(z, n);
    for (let i = 0; i < n; i++) z[i] = d[i]! - plan.o - Math.floor((d[i]! - plan.o + half) / plan.q) * plan.q;
    fresh.rBase = median(z, n);

    this.snapshot.set(models.all);
    const prevR = models.prevR;
    const prevM = models.prevM;
    const meter = this.meter;
    let best: number = TimeBlockMode.DeltaOfDelta;
    let bestBits = Infinity;
    for (let mode = 0; mode < 3; mode++) {
      if (mode === TimeBlockMode.QuantumReuse && last.q === 0) continue;
      meter.costBits = 0;
      this.code(meter, mode, mode === TimeBlockMode.Quantum ? fresh : last, n);
      models.all.set(this.snapshot);
      models.prevR = prevR;
      models.prevM = prevM;
      if (meter.costBits < bestBits) {
        bestBits = meter.costBits;
        best = mode;
      }
    }
    if (best === TimeBlockMode.Quantum) {
      last.q = fresh.q;
      last.o = fresh.o;
      last.mBase = fresh.mBase;
      last.rBase = fresh.rBase;
    }
    return best;
  }
}

export class TimeDecoder {
  private prevT: number;
  private prevDelta = 0;
  private readonly models = new TimeModels();

  constructor(firstT: number) {
    this.prevT = firstT;
  }

  /** Starts a new batch as a fresh decoder would (reuses the models' memory). */
  reset(firstT: number): void {
    this.prevT = firstT;
    this.prevDelta = 0;
    this.models.reset();
  }

  /** Decodes n timestamps into out[start..start+n). */
  decodeBlock(dec: RangeDecoder, out: number[], start: number, n: number): void {
    const mode = dec.bits(modeBits);
    let prevT = this.prevT;
    let prevDelta = this.prevDelta;
    const models = this.models;
    if (mode === TimeBlockMode.DeltaOfDelta) {
      for (let i = 0; i < n; i++) {
        prevDelta += models.dod.decode(dec);
        prevT = checkTimestamp(prevT + prevDelta);
        out[start + i] = prevT;
      }
    } else if (mode === TimeBlockMode.Quantum || mode === TimeBlockMode.QuantumReuse) {
      const last = models.last;
      if (mode === TimeBlockMode.Quantum) {
        last.q = dec.uvar();
        last.o = dec.uvar();
        last.mBase = dec.svar();
        last.rBase = dec.svar();
        if (last.q < 1 || last.q > quantumMax || last.o >= last.q) {
          throw new CodecError(CodecErrorReason.Corrupt, `time quantum ${last.q} phase ${last.o}`);
        }
      } else if (last.q === 0) {
        throw new CodecError(CodecErrorReason.Corrupt, "time block reuses a quantum never declared");
      }
      const { q, o, mBase, rBase } = last;
      const mModels = models.m;
      const rModels = models.r;
      // The previous m and r (the contexts) in locals while the block runs.
      let prevM = models.prevM;
      let prevR = models.prevR;
      for (let i = 0; i < n; i++) {
        prevM = mModels[mContext(prevM)]!.decode(dec);
        const m = mBase + prevM;
        prevR = rModels[rContext(prevR)]!.decode(dec);
        prevDelta = q * m + o + rBase + prevR;
        prevT = checkTimestamp(prevT + prevDelta);
        out[start + i] = prevT;
      }
      models.prevM = prevM;
      models.prevR = prevR;
    } else {
      throw new CodecError(CodecErrorReason.BadEncoding, `time block mode ${mode}`);
    }
    this.prevT = prevT;
    this.prevDelta = prevDelta;
  }
}

/** Median of x[0..n) (sorts x in place). */
function median(x: Float64Array, n: number): number {
  const s = x.subarray(0, n);
  s.sort();
  return s[n >> 1]!;
}

function checkTimestamp(t: number): number {
  if (!(Math.abs(t) < timestampAbsMax)) throw new CodecError(CodecErrorReason.Corrupt, "decoded timestamp beyond 2^50 ms");
  return t;
}
