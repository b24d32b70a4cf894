// Event-time window operator: tumbling, hopping and session windows per
// (key, channel), per-key watermarks, bounded lateness with corrections.
//
// Contract (docs/analytics.md, "Event time, watermarks, lateness"):
// - event time is the point's timestamp t (device time). Windows are [start, end).
// - watermark(key) = max(max t seen for key - watermarkDelayMs, advanceTo(key, ...)).
// - a window is emitted (revision 0) once watermark(key) >= end.
// - a point for an emitted window whose end + allowedLatenessMs >= watermark
//   updates it and emits a correction (revision + 1) at once; beyond that it is
//   counted lateDropped. Window state is dropped once watermark > end +
//   allowedLatenessMs, emitting a closing record (revision + 1, final: true,
//   the same aggregates): every window has a first record and ends with
//   exactly one final record, even when one watermark jump passes both.
// - input shuffled within the watermark delay gives the same results, per key
//   in the same order, as sorted input: sums are exact (exact-sum.ts), `last`
//   breaks timestamp ties by the larger value, sketches merge exactly.
// Pure: explicit time, no I/O, no clocks; all state is in snapshot().

import { exactAdd, exactMerge, exactValue, valueAbsMax } from "./exact-sum";
import { streamLimits } from "./limits";
import { QuantileSketch, type SketchJson } from "./sketch";
import { checkWindowSpec, type WindowSpec, windowsOf } from "./window-spec";

export type WindowAggregate = "count" | "sum" | "min" | "max" | "mean" | "last" | "p50" | "p90" | "p99";

export const windowAggregates: readonly WindowAggregate[] = Object.freeze([
  "count", "sum", "min", "max", "mean", "last", "p50", "p90", "p99",
] as WindowAggregate[]);

export interface WindowOperatorConfig {
  id: string;
  spec: WindowSpec;
  allowedLatenessMs: number;
  watermarkDelayMs?: number;
  /** count/sum/min/max/mean/last are always in results; p50/p90/p99 only when listed (they cost a sketch per window). */
  aggregates?: WindowAggregate[];
  /** Bounds (default and maximum: streamLimits). */
  windowsOpenMax?: number;
  keysMax?: number;
  sketchBucketsMax?: number;
}

export interface WindowResult {
  operator: string;
  key: string;
  channel: string;
  start: number;
  end: number;
  /** 0 = first emission, +1 per late correction and for the closing record. */
  revision: number;
  /** No more records for this window (its state is dropped). */
  final: boolean;
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  last: number;
  p50?: number;
  p90?: number;
  p99?: number;
  /** Session windows only: this session was merged into the one starting here (consumers delete it). */
  mergedInto?: number;
}

export type AddOutcome = "ok" | "late-dropped" | "refused";

export interface WindowOperatorStats {
  /** add() calls. */
  points: number;
  /** Points that updated an already emitted window (or opened a window already due). */
  lateAccepted: number;
  /** Points beyond allowed lateness for every window they fall in. */
  lateDropped: number;
  /** Correction records emitted (revision > 0, not closing records). */
  corrections: number;
  /** Points refused: bad key/channel/value, keysMax or windowsOpenMax reached. */
  refused: number;
  /** Results dropped because pendingResultsMax undrained results were waiting. */
  resultsDropped: number;
  /** Keys with no open window forgotten to make room for a new key (keysMax reached). */
  keysEvicted: number;
}

export interface WindowAggJson {
  count: number;
  partials: number[];
  min: number;
  max: number;
  lastT: number;
  last: number;
  sketch: SketchJson | null;
}

export interface WindowStateJson {
  channel: string;
  start: number;
  end: number;
  /** Session windows: the last point's time (end = lastT + gapMs). */
  lastT: number;
  /** Last emitted revision, -1 = not emitted yet. */
  revision: number;
  agg: WindowAggJson;
}

export interface WindowKeyJson {
  key: string;
  maxT: number | null;
  watermark: number | null;
  windows: WindowStateJson[];
}

/** Plain JSON-safe state: restore(cfg, snapshot) continues exactly where it was taken. */
export interface WindowOperatorSnapshot {
  version: 1;
  operator: string;
  stats: WindowOperatorStats;
  keys: WindowKeyJson[];
  pending: WindowResult[];
}

/** Idempotency key of a result (Nats-Msg-Id): one per window revision. */
export function windowResultId(r: WindowResult): string {
  return `${r.operator}:${r.key}:${r.channel}:${r.start}:r${r.revision}`;
}

interface Agg {
  count: number;
  partials: number[];
  min: number;
  max: number;
  lastT: number;
  last: number;
  sketch: QuantileSketch | null;
}

interface Win {
  channel: string;
  start: number;
  end: number;
  lastT: number;
  revision: number;
  agg: Agg;
}

interface KeyState {
  maxT: number;
  wm: number;
  /** Tumbling/hopping windows by channel, then start (numeric keys: no string building per point). */
  fixed: Map<string, Map<number, Win>>;
  sessions: Map<string, Win[]>;
  /** Lower bound of the watermark at which some window needs emitting or dropping. */
  due: number;
}

function validName(s: unknown): s is string {
  return typeof s === "string" && s.length > 0 && s.length <= streamLimits.nameMax;
}

export class WindowOperator {
  readonly cfg: Readonly<WindowOperatorConfig>;
  readonly stats: WindowOperatorStats = {
    points: 0, lateAccepted: 0, lateDropped: 0, corrections: 0, refused: 0, resultsDropped: 0, keysEvicted: 0,
  };
  private readonly keys = new Map<string, KeyState>();
  private pending: WindowResult[] = [];
  private open = 0;
  private readonly delay: number;
  private readonly lateness: number;
  private readonly quantiles: ("p50" | "p90" | "p99")[];
  private readonly windowsOpenMax: number;
  private readonly keysMax: number;
  private readonly bucketsMax: number;

  constructor(cfg: WindowOperatorConfig) {
    const errs = checkWindowSpec(cfg.spec, "spec");
    if (!validName(cfg.id)) errs.push(`id: must be a non-empty string of at most ${streamLimits.nameMax} chars`);
    const ms = (v: unknown, at: string): number => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > streamLimits.windowMsMax) {
        errs.push(`${at}: must be an integer number of ms in 0..${streamLimits.windowMsMax}`);
        return 0;
      }
      return v;
    };
    this.lateness = ms(cfg.allowedLatenessMs, "allowedLatenessMs");
    this.delay = ms(cfg.watermarkDelayMs ?? 0, "watermarkDelayMs");
    const aggs = cfg.aggregates ?? [];
    for (const a of aggs) if (!windowAggregates.includes(a)) errs.push(`aggregates: unknown aggregate ${JSON.stringify(a)}`);
    const bound = (v: number | undefined, max: number, at: string): number => {
      if (v === undefined) return max;
      if (!Number.isInteger(v) || v < 1 || v > max) errs.push(`${at}: must be an integer in 1..${max}`);
      return v;
    };
    this.windowsOpenMax = bound(cfg.windowsOpenMax, streamLimits.windowsOpenMax, "windowsOpenMax");
    this.keysMax = bound(cfg.keysMax, streamLimits.keysMax, "keysMax");
    this.bucketsMax = bound(cfg.sketchBucketsMax, streamLimits.sketchBucketsMax, "sketchBucketsMax");
    if (errs.length > 0) throw new Error(`WindowOperator: ${errs.join("; ")}`);
    this.quantiles = (["p50", "p90", "p99"] as const).filter((q) => aggs.includes(q));
    this.cfg = Object.freeze({ ...cfg, spec: Object.freeze({ ...cfg.spec }), aggregates: aggs.slice() });
  }

  /** Windows (or sessions) currently held. */
  get windowsOpen(): number {
    return this.open;
  }

  get keyCount(): number {
    return this.keys.size;
  }

  /** The key's watermark (-Infinity before its first point). */
  watermark(key: string): number {
    return this.keys.get(key)?.wm ?? -Infinity;
  }

  add(key: string, channel: string, t: number, v: number): AddOutcome {
    this.stats.points++;
    if (!validName(key) || !validName(channel) || !Number.isFinite(t) || !Number.isFinite(v) || Math.abs(v) > valueAbsMax) {
      this.stats.refused++;
      return "refused";
    }
    let ks = this.keys.get(key);
    if (!ks) {
      if (this.keys.size >= this.keysMax && !this.evictIdleKey()) {
        this.stats.refused++;
        return "refused";
      }
      ks = { maxT: -Infinity, wm: -Infinity, fixed: new Map(), sessions: new Map(), due: Infinity };
      this.keys.set(key, ks);
    }
    const outcome = this.cfg.spec.kind === "session" ? this.addSession(key, ks, channel, t, v) : this.addFixed(key, ks, channel, t, v);
    if (outcome === "refused") this.stats.refused++;
    else if (outcome === "late-dropped") this.stats.lateDropped++;
    if (outcome !== "refused" && t > ks.maxT) {
      ks.maxT = t;
      if (t - this.delay > ks.wm) ks.wm = t - this.delay;
    }
    if (ks.wm >= ks.due) this.settle(key, ks);
    if (ks.fixed.size === 0 && ks.sessions.size === 0 && ks.maxT === -Infinity) this.keys.delete(key);
    return outcome;
  }

  /** Raises the key's watermark to t (an idle timeout, or a heartbeat carrying device time). */
  advanceTo(key: string, t: number): void {
    const ks = this.keys.get(key);
    if (!ks || !(t > ks.wm)) return;
    ks.wm = t;
    if (ks.wm >= ks.due) this.settle(key, ks);
  }

  /** advanceTo(key, t) for every key, in key order. */
  advanceAllTo(t: number): void {
    for (const key of this.sortedKeys()) this.advanceTo(key, t);
  }

  /** Emits every window of the key (or of all keys) as final and forgets the key: end of stream. */
  flush(key?: string): void {
    for (const k of key === undefined ? this.sortedKeys() : [key]) {
      const ks = this.keys.get(k);
      if (!ks) continue;
      ks.wm = Infinity;
      this.settle(k, ks);
      this.keys.delete(k);
    }
  }

  drain(): WindowResult[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  snapshot(): WindowOperatorSnapshot {
    const keys: WindowKeyJson[] = [];
    for (const key of this.sortedKeys()) {
      const ks = this.keys.get(key)!;
      const wins = this.allWins(ks).sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : a.start - b.start));
      keys.push({
        key,
        maxT: ks.maxT === -Infinity ? null : ks.maxT,
        watermark: ks.wm === -Infinity ? null : ks.wm,
        windows: wins.map((w) => ({
          channel: w.channel,
          start: w.start,
          end: w.end,
          lastT: w.lastT,
          revision: w.revision,
          agg: {
            count: w.agg.count,
            partials: w.agg.partials.slice(),
            min: w.agg.min,
            max: w.agg.max,
            lastT: w.agg.lastT,
            last: w.agg.last,
            sketch: w.agg.sketch ? w.agg.sketch.toJSON() : null,
          },
        })),
      });
    }
    return { version: 1, operator: this.cfg.id, stats: { ...this.stats }, keys, pending: this.pending.map((r) => ({ ...r })) };
  }

  /** An operator continuing from a snapshot; throws an Error naming the bad field. */
  static restore(cfg: WindowOperatorConfig, snap: WindowOperatorSnapshot): WindowOperator {
    const op = new WindowOperator(cfg);
    const bad = (m: string): never => {
      throw new Error(`WindowOperator.restore: ${m}`);
    };
    if (typeof snap !== "object" || snap === null || snap.version !== 1) bad("version: must be 1");
    if (snap.operator !== cfg.id) bad(`operator: snapshot of ${JSON.stringify(snap.operator)}, config is ${JSON.stringify(cfg.id)}`);
    if (!Array.isArray(snap.keys) || !Array.isArray(snap.pending)) bad("keys/pending: must be arrays");
    const num = (v: unknown, at: string): number => (typeof v === "number" && Number.isFinite(v) ? v : bad(`${at}: must be a finite number`));
    for (const f of Object.keys(op.stats) as (keyof WindowOperatorStats)[]) op.stats[f] = num(snap.stats?.[f], `stats.${f}`);
    const session = cfg.spec.kind === "session";
    for (const kj of snap.keys) {
      if (typeof kj !== "object" || kj === null || !validName(kj.key)) bad("keys[].key: must be a non-empty string");
      if (!Array.isArray(kj.windows)) bad("keys[].windows: must be an array");
      const ks: KeyState = {
        maxT: kj.maxT === null ? -Infinity : num(kj.maxT, "keys[].maxT"),
        wm: kj.watermark === null ? -Infinity : num(kj.watermark, "keys[].watermark"),
        fixed: new Map(),
        sessions: new Map(),
        due: Infinity,
      };
      for (const wj of kj.windows) {
        if (typeof wj !== "object" || wj === null || !validName(wj.channel)) bad("windows[].channel: must be a non-empty string");
        const a = wj.agg;
        if (typeof a !== "object" || a === null) bad("windows[].agg: must be an object");
        const w: Win = {
          channel: wj.channel,
          start: num(wj.start, "windows[].start"),
          end: num(wj.end, "windows[].end"),
          lastT: num(wj.lastT, "windows[].lastT"),
          revision: num(wj.revision, "windows[].revision"),
          agg: {
            count: num(a.count, "agg.count"),
            partials: Array.isArray(a.partials) ? a.partials.map((p) => num(p, "agg.partials[]")) : bad("agg.partials: must be an array"),
            min: num(a.min, "agg.min"),
            max: num(a.max, "agg.max"),
            lastT: num(a.lastT, "agg.lastT"),
            last: num(a.last, "agg.last"),
            sketch: a.sketch === null ? null : QuantileSketch.fromJSON(a.sketch),
          },
        };
        if ((w.agg.sketch !== null) !== (op.quantiles.length > 0)) bad("agg.sketch: does not match the configured aggregates");
        if (session) {
          const list = ks.sessions.get(w.channel) ?? [];
          list.push(w);
          ks.sessions.set(w.channel, list);
        } else {
          let byStart = ks.fixed.get(w.channel);
          if (!byStart) ks.fixed.set(w.channel, (byStart = new Map()));
          byStart.set(w.start, w);
        }
        op.open++;
        ks.due = Math.min(ks.due, op.dueOf(w));
      }
      op.keys.set(kj.key, ks);
    }
    if (op.open > op.windowsOpenMax || op.keys.size > op.keysMax) bad("more windows or keys than the configured bounds");
    op.pending = snap.pending.map((r) => ({ ...r }));
    return op;
  }

  // -- internals -------------------------------------------------------------

  /**
   * Forgets the idle key (no open window) with the lowest watermark, ties by
   * key: deterministic. Its later points start a new watermark.
   */
  private evictIdleKey(): boolean {
    let victim: string | null = null;
    let vwm = Infinity;
    for (const [k, ks] of this.keys) {
      if (ks.fixed.size > 0 || ks.sessions.size > 0) continue;
      if (victim === null || ks.wm < vwm || (ks.wm === vwm && k < victim)) {
        victim = k;
        vwm = ks.wm;
      }
    }
    if (victim === null) return false;
    this.keys.delete(victim);
    this.stats.keysEvicted++;
    return true;
  }

  private sortedKeys(): string[] {
    return [...this.keys.keys()].sort();
  }

  private allWins(ks: KeyState): Win[] {
    const out: Win[] = [];
    for (const byStart of ks.fixed.values()) for (const w of byStart.values()) out.push(w);
    for (const list of ks.sessions.values()) out.push(...list);
    return out;
  }

  /** Watermark at which w needs attention: its emission, or its drop. */
  private dueOf(w: Win): number {
    return w.revision < 0 ? w.end : w.end + this.lateness;
  }

  private newAgg(): Agg {
    return {
      count: 0,
      partials: [],
      min: Infinity,
      max: -Infinity,
      lastT: -Infinity,
      last: 0,
      sketch: this.quantiles.length > 0 ? new QuantileSketch({ bucketsMax: this.bucketsMax }) : null,
    };
  }

  private addFixed(key: string, ks: KeyState, channel: string, t: number, v: number): AddOutcome {
    let took = false;
    let late = false;
    let refused = false;
    for (const b of windowsOf(this.cfg.spec, t)) {
      if (ks.wm > b.end + this.lateness) continue; // state gone: too late for this window
      let byStart = ks.fixed.get(channel);
      let w = byStart?.get(b.start);
      if (!w) {
        if (this.open >= this.windowsOpenMax) {
          refused = true;
          continue;
        }
        w = { channel, start: b.start, end: b.end, lastT: t, revision: -1, agg: this.newAgg() };
        if (!byStart) ks.fixed.set(channel, (byStart = new Map()));
        byStart.set(b.start, w);
        this.open++;
        ks.due = Math.min(ks.due, b.end);
      }
      aggAdd(w.agg, t, v);
      took = true;
      if (b.end <= ks.wm) late = true;
      if (w.revision >= 0) this.correct(key, w);
    }
    if (late) this.stats.lateAccepted++;
    return took ? "ok" : refused ? "refused" : "late-dropped";
  }

  private addSession(key: string, ks: KeyState, channel: string, t: number, v: number): AddOutcome {
    const gap = (this.cfg.spec as { gapMs: number }).gapMs;
    const list = ks.sessions.get(channel) ?? [];
    const joined = list.filter((s) => s.start - gap < t && t < s.lastT + gap);
    if (joined.length === 0) {
      if (ks.wm > t + gap + this.lateness) return "late-dropped";
      if (this.open >= this.windowsOpenMax) return "refused";
      const w: Win = { channel, start: t, end: t + gap, lastT: t, revision: -1, agg: this.newAgg() };
      aggAdd(w.agg, t, v);
      list.push(w);
      list.sort((a, b) => a.start - b.start);
      ks.sessions.set(channel, list);
      this.open++;
      ks.due = Math.min(ks.due, w.end);
      if (w.end <= ks.wm) this.stats.lateAccepted++;
      return "ok";
    }
    // Joined sessions are alive, so each has end + lateness >= watermark, and
    // the merged one (end never smaller) too: the point is always accepted.
    const survivor = joined[0]!; // smallest start
    const late = joined.some((s) => s.revision >= 0) || t < ks.wm;
    const start = Math.min(survivor.start, t);
    if (start < survivor.start && survivor.revision >= 0) {
      // The session now starts earlier: a new identity; tombstone the emitted one.
      this.retract(key, survivor, start);
      survivor.revision = -1;
    }
    survivor.start = start;
    for (const s of joined.slice(1)) {
      if (s.revision >= 0) this.retract(key, s, start);
      aggMerge(survivor.agg, s.agg);
      if (s.lastT > survivor.lastT) survivor.lastT = s.lastT;
      list.splice(list.indexOf(s), 1);
      this.open--;
    }
    aggAdd(survivor.agg, t, v);
    if (t > survivor.lastT) survivor.lastT = t;
    survivor.end = survivor.lastT + gap;
    if (survivor.revision >= 0) this.correct(key, survivor);
    ks.due = Math.min(ks.due, this.dueOf(survivor));
    if (late && (survivor.revision >= 0 || survivor.end <= ks.wm)) this.stats.lateAccepted++;
    return "ok";
  }

  /** Emits the next revision of an already emitted window (a late point changed it). */
  private correct(key: string, w: Win): void {
    w.revision++;
    this.stats.corrections++;
    this.emit(key, w, false);
  }

  /** Tombstone of a session merged into the one starting at `into`: final, with its own last aggregates. */
  private retract(key: string, w: Win, into: number): void {
    w.revision++;
    this.emit(key, w, true, into);
  }

  /**
   * Emits and drops what the key's watermark has passed. Each window has two
   * events at fixed watermark positions: its first emission at `end` and its
   * closing record past `end + allowedLatenessMs`. Events are handled in
   * (position, first before closing, channel, start) order, so the sequence of
   * records of a key does not depend on how the watermark advanced (one jump
   * or many steps): what makes shuffled input give sorted input's results.
   */
  private settle(key: string, ks: KeyState): void {
    const wm = ks.wm;
    const events: { pos: number; close: boolean; w: Win }[] = [];
    for (const w of this.allWins(ks)) {
      if (w.revision < 0 && w.end <= wm) events.push({ pos: w.end, close: false, w });
      if (wm > w.end + this.lateness) events.push({ pos: w.end + this.lateness, close: true, w });
    }
    events.sort((a, b) =>
      a.pos - b.pos || (a.close === b.close ? 0 : a.close ? 1 : -1) ||
      (a.w.channel < b.w.channel ? -1 : a.w.channel > b.w.channel ? 1 : 0) || a.w.start - b.w.start);
    for (const e of events) {
      e.w.revision++;
      this.emit(key, e.w, e.close);
      if (e.close) this.remove(ks, e.w);
    }
    let next = Infinity;
    for (const w of this.allWins(ks)) next = Math.min(next, this.dueOf(w));
    ks.due = next;
  }

  private remove(ks: KeyState, w: Win): void {
    this.open--;
    if (this.cfg.spec.kind !== "session") {
      const byStart = ks.fixed.get(w.channel)!;
      byStart.delete(w.start);
      if (byStart.size === 0) ks.fixed.delete(w.channel);
      return;
    }
    const list = ks.sessions.get(w.channel)!;
    list.splice(list.indexOf(w), 1);
    if (list.length === 0) ks.sessions.delete(w.channel);
  }

  private emit(key: string, w: Win, final: boolean, mergedInto?: number): void {
    const a = w.agg;
    const sum = exactValue(a.partials);
    const r: WindowResult = {
      operator: this.cfg.id,
      key,
      channel: w.channel,
      start: w.start,
      end: w.end,
      revision: w.revision,
      final,
      count: a.count,
      sum,
      min: a.min,
      max: a.max,
      mean: sum / a.count,
      last: a.last,
    };
    for (const q of this.quantiles) r[q] = a.sketch!.quantile(q === "p50" ? 0.5 : q === "p90" ? 0.9 : 0.99);
    if (mergedInto !== undefined) r.mergedInto = mergedInto;
    if (this.pending.length >= streamLimits.pendingResultsMax) {
      // Nobody drains: drop the oldest tenth at once (not one by one: O(n) each).
      const n = Math.ceil(this.pending.length / 10);
      this.pending.splice(0, n);
      this.stats.resultsDropped += n;
    }
    this.pending.push(r);
  }
}

function aggAdd(a: Agg, t: number, v: number): void {
  a.count++;
  exactAdd(a.partials, v);
  if (v < a.min) a.min = v;
  if (v > a.max) a.max = v;
  // Latest event time wins; a tie goes to the larger value, so order never matters.
  if (t > a.lastT || (t === a.lastT && v > a.last)) {
    a.lastT = t;
    a.last = v;
  }
  a.sketch?.add(v);
}

function aggMerge(a: Agg, b: Agg): void {
  a.count += b.count;
  exactMerge(a.partials, b.partials);
  if (b.min < a.min) a.min = b.min;
  if (b.max > a.max) a.max = b.max;
  if (b.lastT > a.lastT || (b.lastT === a.lastT && b.last > a.last)) {
    a.lastT = b.lastT;
    a.last = b.last;
  }
  if (a.sketch && b.sketch) a.sketch.merge(b.sketch);
}
