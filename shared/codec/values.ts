// Value stream of one channel. Values are integers (multiples of the declared
// resolution). Each block picks a transform by measurement (its cost under
// the adaptive models as they stand), then codes it with those models
// (range.ts), which keep learning across blocks:
//  - Delta: n_i − n_{i−1}.
//  - DeltaQuantum: delta = q·m + r (quantum.ts): an ADC whose steps are q (or
//    about q) units apart, as on a non-linear humidity scale (40, 41, 81 ×
//    0.001 %RH); m and r each coded.
//  - Recent: index into the most recently seen distinct values, or an escape
//    and the delta. Sensors flicker between adjacent ADC levels.
import { CodecError, CodecErrorReason } from "./errors";
import { QuantumPlan, QuantumSearch, quantumMax } from "./quantum";
import { contexts, CostMeter, IntModel, newProbs, probInit, type BitSink, type RangeDecoder, type RangeEncoder } from "./range";
import { quantizedAbsMax } from "./resolution";
import { blockPointsMax } from "./time";

export const ValueBlockMode = Object.freeze({ Delta: 0, DeltaQuantum: 1, Recent: 2 } as const);
export type ValueBlockMode = (typeof ValueBlockMode)[keyof typeof ValueBlockMode];

const modeBits = 2;
const modes = Object.freeze([ValueBlockMode.Delta, ValueBlockMode.DeltaQuantum, ValueBlockMode.Recent] as const);
/** Distinct recent values addressable by index; index `recentSize` = escape. */
export const recentSize = 7;

/** Most-recently-used list of distinct values, kept identically by both ends. */
class RecentValues {
  readonly v = new Float64Array(recentSize);
  count = 0;

  constructor(first: number) {
    this.v[0] = first;
    this.count = 1;
  }

  /** As constructed with `first` (entries past count are never read). */
  reset(first: number): void {
    this.v[0] = first;
    this.count = 1;
  }

  /** Index of x (or -1), then moves x to the front. */
  touch(x: number): number {
    const v = this.v;
    let j = 0;
    while (j < this.count && v[j] !== x) j++;
    const found = j < this.count ? j : -1;
    if (found < 0) {
      if (this.count < recentSize) this.count++;
      j = this.count - 1;
    }
    for (; j > 0; j--) v[j] = v[j - 1]!;
    v[0] = x;
    return found;
  }
}

/** Adaptive models of one channel, identical at both ends; all probabilities in one array so a snapshot is one copy. */
class ValueModels {
  readonly all = newProbs(6 * IntModel.size + recentSize);
  /** Delta in the context of the previous delta's sign (0, +, −): flicker alternates. */
  readonly delta = [0, 1, 2].map((k) => new IntModel(contexts(this.all, k, k + 1)));
  readonly m = new IntModel(contexts(this.all, 3, 4));
  readonly r = new IntModel(contexts(this.all, 4, 5));
  readonly miss = new IntModel(contexts(this.all, 5, 6));
  /** Unary recent-value index: probs[j] = P(index > j). */
  readonly index = this.all.subarray(6 * IntModel.size);
  recent: RecentValues;

  constructor(first: number) {
    this.recent = new RecentValues(first);
  }

  /** Back to the state of fresh models (a reused decoder's next batch). */
  reset(first: number): void {
    this.all.fill(probInit);
    this.recent.reset(first);
  }

  encodeIndex(e: BitSink, j: number): void {
    // j = -1 (miss) codes as recentSize ones.
    const last = j < 0 ? recentSize : j;
    for (let k = 0; k < last; k++) e.bit(this.index, k, 1);
    if (last < recentSize) e.bit(this.index, last, 0);
  }

  decodeIndex(d: RangeDecoder): number {
    const j = d.ones(this.index, 0, recentSize);
    return j < recentSize ? j : -1;
  }
}

export class ValueEncoder {
  private prev: number;
  /** Delta of the point before this block (context of the first delta). */
  private lastDelta = 0;
  private readonly models: ValueModels;
  private readonly delta = new Float64Array(blockPointsMax);
  private readonly hit = new Int8Array(blockPointsMax);
  private readonly search = new QuantumSearch(blockPointsMax);
  private readonly plan = new QuantumPlan();
  private readonly meter = new CostMeter();
  private readonly snapshot: Uint16Array;
  /** Per block: mode, then q for DeltaQuantum. */
  readonly log: number[] = [];
  private replayAt = 0;

  /** `replay`: choices logged by an encoder of the same values (see TimeEncoder). */
  constructor(first: number, private readonly replay: readonly number[] | null = null) {
    this.prev = first;
    this.models = new ValueModels(first);
    this.snapshot = new Uint16Array(this.models.all.length);
  }

  /** Codes the quantised values ns[0..n). */
  encodeBlock(e: RangeEncoder, ns: Float64Array, n: number): void {
    const { delta, hit } = this;
    let prev = this.prev;
    for (let i = 0; i < n; i++) {
      const x = ns[i]!;
      delta[i] = x - prev;
      prev = x;
      hit[i] = this.models.recent.touch(x);
    }
    this.prev = prev;

    let mode: number;
    let q = 1;
    if (this.replay) {
      mode = this.replay[this.replayAt++]!;
      if (mode === ValueBlockMode.DeltaQuantum) q = this.replay[this.replayAt++]!;
    } else {
      mode = this.decide(n);
      q = this.plan.q;
      this.log.push(mode);
      if (mode === ValueBlockMode.DeltaQuantum) this.log.push(q);
    }

    this.code(e, mode, q, n);
    this.lastDelta = this.delta[n - 1]!;
  }

  /** Codes the block's deltas in `mode` into a range encoder or a cost meter. */
  private code(e: BitSink, mode: number, q: number, n: number): void {
    const { delta, hit, models } = this;
    e.bits(mode, modeBits);
    if (mode === ValueBlockMode.Delta) {
      for (let i = 0; i < n; i++) models.delta[signContext(i > 0 ? delta[i - 1]! : this.lastDelta)]!.encode(e, delta[i]!);
    } else if (mode === ValueBlockMode.DeltaQuantum) {
      e.uvar(q);
      const half = Math.floor(q / 2);
      for (let i = 0; i < n; i++) {
        const m = Math.floor((delta[i]! + half) / q);
        models.m.encode(e, m);
        models.r.encode(e, delta[i]! - m * q);
      }
    } else {
      for (let i = 0; i < n; i++) {
        models.encodeIndex(e, hit[i]!);
        if (hit[i]! < 0) models.miss.encode(e, delta[i]!);
      }
    }
  }

  /**
   * Picks the block's mode by measurement: each candidate is costed with the
   * adaptive models as they stand (on a snapshot, restored afterwards). The
   * quantum q itself is found by the static-cost search.
   */
  private decide(n: number): number {
    const plan = this.plan;
    plan.bits = Infinity;
    this.search.search(this.delta, this.delta, n, false, plan);
    const all = this.models.all;
    this.snapshot.set(all);
    let best: number = ValueBlockMode.Delta;
    let bestBits = Infinity;
    for (const mode of modes) {
      if (mode === ValueBlockMode.DeltaQuantum && plan.q === 1) continue;
      this.meter.costBits = 0;
      this.code(this.meter, mode, plan.q, n);
      all.set(this.snapshot);
      if (this.meter.costBits < bestBits) {
        bestBits = this.meter.costBits;
        best = mode;
      }
    }
    return best;
  }
}

export class ValueDecoder {
  private prev: number;
  private lastDelta = 0;
  private readonly models: ValueModels;

  constructor(first: number) {
    this.prev = first;
    this.models = new ValueModels(first);
  }

  /** Starts a new batch as a fresh decoder would (reuses the models' memory). */
  reset(first: number): void {
    this.prev = first;
    this.lastDelta = 0;
    this.models.reset(first);
  }

  /**
   * Decodes n quantised values into out[start..start+n). `last`: no block of
   * this batch follows, so the recent-value list, which only Recent blocks
   * read, need not be kept in Delta and DeltaQuantum blocks (a reused
   * decoder resets it for the next batch). A device's 32-row batch is a
   * single block, and keeping the list was a tenth of its decoding.
   */
  decodeBlock(d: RangeDecoder, out: number[], start: number, n: number, last = false): void {
    const mode = d.bits(modeBits);
    const models = this.models;
    const recent = models.recent;
    const keepRecent = !last;
    let prev = this.prev;
    let lastDelta = this.lastDelta;
    if (mode === ValueBlockMode.Delta) {
      const zero = models.delta[0]!;
      const up = models.delta[1]!;
      const down = models.delta[2]!;
      for (let i = 0; i < n; i++) {
        // signContext(lastDelta), written out.
        const delta = (lastDelta === 0 ? zero : lastDelta > 0 ? up : down).decode(d);
        prev = checkValue(prev + delta);
        lastDelta = delta;
        if (keepRecent) recent.touch(prev);
        out[start + i] = prev;
      }
    } else if (mode === ValueBlockMode.DeltaQuantum) {
      const q = d.uvar();
      if (q < 1 || q > quantumMax) throw new CodecError(CodecErrorReason.Corrupt, `value quantum ${q}`);
      for (let i = 0; i < n; i++) {
        const m = models.m.decode(d);
        const next = checkValue(prev + q * m + models.r.decode(d));
        lastDelta = next - prev;
        prev = next;
        if (keepRecent) recent.touch(prev);
        out[start + i] = prev;
      }
    } else if (mode === ValueBlockMode.Recent) {
      for (let i = 0; i < n; i++) {
        const j = models.decodeIndex(d);
        let next: number;
        if (j >= 0) {
          if (j >= recent.count) throw new CodecError(CodecErrorReason.Corrupt, `recent-value index ${j} of ${recent.count}`);
          next = recent.v[j]!;
        } else {
          next = checkValue(prev + models.miss.decode(d));
        }
        lastDelta = next - prev;
        prev = next;
        recent.touch(prev);
        out[start + i] = prev;
      }
    } else {
      throw new CodecError(CodecErrorReason.BadEncoding, `value block mode ${mode}`);
    }
    this.prev = prev;
    this.lastDelta = lastDelta;
  }
}

function signContext(d: number): number {
  return d === 0 ? 0 : d > 0 ? 1 : 2;
}

function checkValue(n: number): number {
  if (!(Math.abs(n) <= quantizedAbsMax)) throw new CodecError(CodecErrorReason.Corrupt, "decoded value beyond 2^50 steps");
  return n;
}
