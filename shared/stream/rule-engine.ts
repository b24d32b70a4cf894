// Rule engine: evaluates RuleDefs over points, presence and ticks; emits alert
// transitions (raised / cleared), one per episode, with their actions.
//
// Contract (docs/analytics.md "Rules and alerts"):
// - state per (rule, key); key = device, or the device's metadata field named
//   by match.groupBy (setMetadata). Rules evaluate points in event-time order
//   per key: a point older than the key's latest is counted (outOfOrder) and
//   skipped (backfill belongs to windows, alerts are about the present).
// - each leaf condition is a latch: threshold/window latch on when the bound
//   is crossed and off only past the clear bound (hysteresis); rate compares
//   with the key's previous point; absence is decided by tick(now) and presence.
// - raised when the combined condition held for raiseForMs; cleared when it
//   stopped holding for clearForMs. Durations run on the key's clock = its
//   latest event time, moved to `now` by a tick that saw no point for the key
//   since the previous tick (a condition last seen holding still holds).
// - one "raised" per episode (episode = 1, 2, ...), then exactly one
//   "cleared"; transition id `${ruleId}:${key}:${episode}:${state}` is the
//   idempotency key for publication and for actions.
// - a rule removed or changed by setRules clears its raised alerts (reason
//   says so, clear actions included). Pure: explicit time, state in snapshot().

import { streamLimits } from "./limits";
import { type ActionDef, type Condition, type RuleDef, canonicalJson, validateRule } from "./rules";
import { WindowOperator, type WindowOperatorSnapshot } from "./window-operator";

export interface AlertTransition {
  ruleId: string;
  key: string;
  episode: number;
  state: "raised" | "cleared";
  /** Time of the transition: the point's event time, or the tick's now. */
  t: number;
  /** The point's value when a point caused it. */
  value?: number;
  reason: string;
  /** The rule's actions for this transition (on: "raise" or on: "clear"). */
  actions: ActionDef[];
  /** `${ruleId}:${key}:${episode}:${state}`: idempotency key. */
  id: string;
}

export interface RuleEngineStats {
  points: number;
  /** Points older than their key's latest, skipped by rules. */
  outOfOrder: number;
  /** Points whose device lacks the groupBy metadata field. */
  ungrouped: number;
  /** Points or states refused: bad input, or keysMax reached. */
  refused: number;
  raised: number;
  cleared: number;
  /** Transitions dropped because pendingTransitionsMax were waiting undrained. */
  transitionsDropped: number;
}

export interface RuleEngineOptions {
  /** (rule, key) states held, all rules together (default and max: streamLimits.keysMax). */
  keysMax?: number;
}

export interface RuleKeyStateJson {
  ruleId: string;
  key: string;
  leaves: { on: boolean; prevT: number | null; prevV: number | null }[];
  maxT: number | null;
  clock: number | null;
  lastSeen: number | null;
  offlineSince: number | null;
  touched: boolean;
  raised: boolean;
  episode: number;
  holdSince: number | null;
}

export interface RuleEngineSnapshot {
  version: 1;
  /** Canonical JSON of each rule the states belong to: states of changed rules are not restored. */
  rules: { id: string; def: string }[];
  stats: RuleEngineStats;
  metadata: { device: string; fields: Record<string, string> }[];
  states: RuleKeyStateJson[];
  windows: { operator: string; snapshot: WindowOperatorSnapshot }[];
  pending: AlertTransition[];
}

interface Leaf {
  cond: Condition;
  index: number;
  op: WindowOperator | null;
}

interface Compiled {
  def: RuleDef;
  canon: string;
  leaves: Leaf[];
  absence: boolean;
  devices: Set<string> | null;
}

interface LeafState {
  on: boolean;
  prevT: number | null;
  prevV: number | null;
}

interface KeyState {
  key: string;
  leaves: LeafState[];
  maxT: number;
  clock: number;
  lastSeen: number | null;
  offlineSince: number | null;
  touched: boolean;
  raised: boolean;
  episode: number;
  holdSince: number | null;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function leavesOf(c: Condition, out: Condition[]): Condition[] {
  if (c.kind === "all" || c.kind === "any") for (const x of c.of) leavesOf(x, out);
  else out.push(c);
  return out;
}

/** Threshold latch with hysteresis: on past above/below, off only past the clear bounds. */
function latch(c: { above?: number; below?: number; clearBelow?: number; clearAbove?: number }, was: boolean, v: number): boolean {
  const hit = (c.above !== undefined && v > c.above) || (c.below !== undefined && v < c.below);
  if (hit || !was) return hit;
  const hiClear = c.above === undefined || (c.clearBelow !== undefined ? v < c.clearBelow : v <= c.above);
  const loClear = c.below === undefined || (c.clearAbove !== undefined ? v > c.clearAbove : v >= c.below);
  return !(hiClear && loClear);
}

function describe(c: Condition): string {
  const b = (x: { above?: number; below?: number }): string =>
    [x.above !== undefined ? `above ${x.above}` : "", x.below !== undefined ? `below ${x.below}` : ""].filter((s) => s).join(" or ");
  switch (c.kind) {
    case "threshold":
      return b(c);
    case "rate":
      return [c.perMinuteAbove !== undefined ? `rising faster than ${c.perMinuteAbove}/min` : "", c.perMinuteBelow !== undefined ? `changing slower than ${c.perMinuteBelow}/min` : ""]
        .filter((s) => s).join(" or ");
    case "absence":
      return `no data for ${c.forMs} ms`;
    case "window":
      return `${c.window.kind} window ${c.aggregate} ${b(c)}`;
    default:
      return `${c.kind}(${c.of.map(describe).join(", ")})`;
  }
}

export class RuleEngine {
  readonly stats: RuleEngineStats = { points: 0, outOfOrder: 0, ungrouped: 0, refused: 0, raised: 0, cleared: 0, transitionsDropped: 0 };
  private rules: Compiled[] = [];
  private readonly states = new Map<string, Map<string, KeyState>>();
  private readonly meta = new Map<string, Record<string, string>>();
  private pending: AlertTransition[] = [];
  private stateCount = 0;
  private readonly keysMax: number;

  constructor(rules: RuleDef[], opts: RuleEngineOptions = {}) {
    const km = opts.keysMax ?? streamLimits.keysMax;
    if (!Number.isInteger(km) || km < 1 || km > streamLimits.keysMax) throw new Error(`RuleEngine: keysMax must be an integer in 1..${streamLimits.keysMax}`);
    this.keysMax = km;
    this.setRules(rules);
  }

  /** Replaces the rule set; unchanged rules (same canonical JSON) keep their state. Throws on an invalid rule. */
  setRules(rules: RuleDef[], now?: number): void {
    if (rules.length > streamLimits.rulesMax) throw new Error(`RuleEngine: at most ${streamLimits.rulesMax} rules`);
    const next: Compiled[] = [];
    const seen = new Set<string>();
    for (const r of rules) {
      const v = validateRule(r);
      if (!v.ok) throw new Error(`RuleEngine: rule ${JSON.stringify((r as { id?: unknown }).id)}: ${v.errors.join("; ")}`);
      if (seen.has(v.rule.id)) throw new Error(`RuleEngine: duplicate rule id ${JSON.stringify(v.rule.id)}`);
      seen.add(v.rule.id);
      if (v.rule.enabled === false) continue;
      const canon = canonicalJson(v.rule);
      const old = this.rules.find((c) => c.def.id === v.rule.id && c.canon === canon);
      next.push(old ?? this.compile(v.rule, canon));
    }
    next.sort((a, b) => cmp(a.def.id, b.def.id));
    for (const old of this.rules) {
      if (next.includes(old)) continue;
      const gone = next.every((c) => c.def.id !== old.def.id);
      const states = this.states.get(old.def.id);
      if (states) {
        for (const key of [...states.keys()].sort()) {
          const st = states.get(key)!;
          if (st.raised) this.transition(old, st, "cleared", now ?? st.clock, undefined, gone ? "rule removed" : "rule changed");
        }
        this.stateCount -= states.size;
        this.states.delete(old.def.id);
      }
    }
    this.rules = next;
  }

  /** (rule, key) states held (bounded by keysMax). */
  get keyCount(): number {
    return this.stateCount;
  }

  /** The rules in force (enabled ones), by id. */
  ruleIds(): string[] {
    return this.rules.map((c) => c.def.id);
  }

  /** Device metadata for groupBy (site, zone, ...). Replaces the device's fields. */
  setMetadata(device: string, fields: Record<string, string>): void {
    this.meta.set(device, { ...fields });
  }

  onPoint(device: string, channel: string, t: number, v: number): void {
    this.stats.points++;
    if (typeof device !== "string" || device.length === 0 || !Number.isFinite(t) || !Number.isFinite(v)) {
      this.stats.refused++;
      return;
    }
    for (const rule of this.rules) {
      if (rule.def.match.channel !== channel || (rule.devices && !rule.devices.has(device))) continue;
      const key = this.keyOf(rule, device);
      if (key === null) {
        this.stats.ungrouped++;
        continue;
      }
      const st = this.state(rule, key, t);
      if (!st) continue;
      if (t < st.maxT) {
        this.stats.outOfOrder++;
        continue;
      }
      st.maxT = t;
      if (t > st.clock) st.clock = t;
      if (st.lastSeen === null || t > st.lastSeen) st.lastSeen = t;
      st.offlineSince = null;
      st.touched = true;
      for (const leaf of rule.leaves) this.feedLeaf(leaf, st, key, channel, t, v);
      this.evaluate(rule, st, st.clock, v);
    }
  }

  /** Device online/offline (presence events): feeds absence conditions of rules grouped by device. */
  onPresence(device: string, online: boolean, t: number): void {
    if (!Number.isFinite(t)) {
      this.stats.refused++;
      return;
    }
    for (const rule of this.rules) {
      if (!rule.absence || (rule.def.match.groupBy ?? "device") !== "device" || (rule.devices && !rule.devices.has(device))) continue;
      const st = this.state(rule, device, t);
      if (!st) continue;
      if (online) {
        st.offlineSince = null;
        if (st.lastSeen === null || t > st.lastSeen) st.lastSeen = t;
      } else if (st.offlineSince === null) st.offlineSince = t;
      if (t > st.clock) st.clock = t;
      this.checkAbsence(rule, st, t);
    }
  }

  /** Time passes (wall clock, same timebase as device time): absence and durations of idle keys. */
  tick(now: number): void {
    if (!Number.isFinite(now)) return;
    for (const rule of this.rules) {
      if (rule.absence && rule.devices && (rule.def.match.groupBy ?? "device") === "device") {
        // Listed devices are expected: absence counts from the first tick.
        for (const d of [...rule.devices].sort()) if (!this.states.get(rule.def.id)?.has(d)) this.state(rule, d, now);
      }
      const states = this.states.get(rule.def.id);
      if (!states) continue;
      for (const key of [...states.keys()].sort()) {
        const st = states.get(key)!;
        if (!st.touched && now > st.clock) st.clock = now;
        st.touched = false;
        if (rule.absence) this.checkAbsence(rule, st, now);
        else this.evaluate(rule, st, st.clock, undefined);
      }
    }
  }

  drain(): AlertTransition[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /** Alerts currently raised, by rule then key. */
  raised(): { ruleId: string; key: string; episode: number }[] {
    const out: { ruleId: string; key: string; episode: number }[] = [];
    for (const rule of this.rules) {
      const states = this.states.get(rule.def.id);
      if (!states) continue;
      for (const key of [...states.keys()].sort()) {
        const st = states.get(key)!;
        if (st.raised) out.push({ ruleId: rule.def.id, key, episode: st.episode });
      }
    }
    return out;
  }

  snapshot(): RuleEngineSnapshot {
    const states: RuleKeyStateJson[] = [];
    const windows: RuleEngineSnapshot["windows"] = [];
    for (const rule of this.rules) {
      const m = this.states.get(rule.def.id);
      for (const key of m ? [...m.keys()].sort() : []) {
        const st = m!.get(key)!;
        states.push({
          ruleId: rule.def.id,
          key,
          leaves: st.leaves.map((l) => ({ on: l.on, prevT: l.prevT, prevV: l.prevV })),
          maxT: st.maxT === -Infinity ? null : st.maxT,
          clock: st.clock === -Infinity ? null : st.clock,
          lastSeen: st.lastSeen,
          offlineSince: st.offlineSince,
          touched: st.touched,
          raised: st.raised,
          episode: st.episode,
          holdSince: st.holdSince,
        });
      }
      for (const leaf of rule.leaves) if (leaf.op) windows.push({ operator: leaf.op.cfg.id, snapshot: leaf.op.snapshot() });
    }
    return {
      version: 1,
      rules: this.rules.map((c) => ({ id: c.def.id, def: c.canon })),
      stats: { ...this.stats },
      metadata: [...this.meta.keys()].sort().map((device) => ({ device, fields: { ...this.meta.get(device)! } })),
      states,
      windows,
      pending: this.pending.map((p) => ({ ...p, actions: p.actions.map((a) => ({ ...a })) })),
    };
  }

  /** Replaces this engine's state by a snapshot's (states of rules not in force, or changed, are dropped). */
  restore(snap: RuleEngineSnapshot): void {
    if (typeof snap !== "object" || snap === null || snap.version !== 1) throw new Error("RuleEngine.restore: version must be 1");
    for (const f of ["rules", "metadata", "states", "windows", "pending"] as const) {
      if (!Array.isArray(snap[f])) throw new Error(`RuleEngine.restore: ${f}: must be an array`);
    }
    const num = (v: unknown, at: string): number => {
      if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`RuleEngine.restore: ${at}: must be a finite number`);
      return v;
    };
    const opt = (v: unknown, at: string): number | null => (v === null ? null : num(v, at));
    const same = new Map<string, Compiled>();
    for (const r of snap.rules) {
      if (typeof r !== "object" || r === null) continue;
      const c = this.rules.find((x) => x.def.id === r.id && x.canon === r.def);
      if (c) same.set(r.id, c);
    }
    this.states.clear();
    this.stateCount = 0;
    for (const f of Object.keys(this.stats) as (keyof RuleEngineStats)[]) this.stats[f] = num(snap.stats?.[f], `stats.${f}`);
    this.meta.clear();
    for (const m of snap.metadata) {
      if (typeof m?.device !== "string" || typeof m.fields !== "object" || m.fields === null) throw new Error("RuleEngine.restore: metadata[]: must be {device, fields}");
      this.meta.set(m.device, { ...m.fields });
    }
    for (const s of snap.states) {
      const rule = same.get(s?.ruleId);
      if (!rule || !Array.isArray(s.leaves) || s.leaves.length !== rule.leaves.length || typeof s.key !== "string") continue;
      if (this.stateCount >= this.keysMax) throw new Error("RuleEngine.restore: more states than keysMax");
      const st: KeyState = {
        key: s.key,
        leaves: s.leaves.map((l, i) => ({ on: l.on === true, prevT: opt(l.prevT, `leaves[${i}].prevT`), prevV: opt(l.prevV, `leaves[${i}].prevV`) })),
        maxT: s.maxT === null ? -Infinity : num(s.maxT, "maxT"),
        clock: s.clock === null ? -Infinity : num(s.clock, "clock"),
        lastSeen: opt(s.lastSeen, "lastSeen"),
        offlineSince: opt(s.offlineSince, "offlineSince"),
        touched: s.touched === true,
        raised: s.raised === true,
        episode: num(s.episode, "episode"),
        holdSince: opt(s.holdSince, "holdSince"),
      };
      let m = this.states.get(s.ruleId);
      if (!m) this.states.set(s.ruleId, (m = new Map()));
      m.set(s.key, st);
      this.stateCount++;
    }
    for (const rule of this.rules) {
      for (const leaf of rule.leaves) {
        if (!leaf.op) continue;
        const w = same.has(rule.def.id) ? snap.windows.find((x) => x.operator === leaf.op!.cfg.id) : undefined;
        leaf.op = w ? WindowOperator.restore(leaf.op.cfg, w.snapshot) : new WindowOperator(leaf.op.cfg);
      }
    }
    this.pending = snap.pending.map((p) => ({ ...p, actions: p.actions.map((a) => ({ ...a })) }));
  }

  /** A new engine for `rules` continuing from a snapshot. */
  static restore(rules: RuleDef[], snap: RuleEngineSnapshot, opts: RuleEngineOptions = {}): RuleEngine {
    const e = new RuleEngine(rules, opts);
    e.restore(snap);
    return e;
  }

  // -- internals -------------------------------------------------------------

  private compile(def: RuleDef, canon: string): Compiled {
    const leaves = leavesOf(def.when, []).map((cond, index): Leaf => ({
      cond,
      index,
      op: cond.kind === "window"
        ? new WindowOperator({ id: `${def.id}#w${index}`, spec: cond.window, allowedLatenessMs: 0, aggregates: [cond.aggregate] })
        : null,
    }));
    return {
      def,
      canon,
      leaves,
      absence: leaves.some((l) => l.cond.kind === "absence"),
      devices: def.match.devices ? new Set(def.match.devices) : null,
    };
  }

  private keyOf(rule: Compiled, device: string): string | null {
    const g = rule.def.match.groupBy ?? "device";
    if (g === "device") return device;
    const v = this.meta.get(device)?.[g];
    return typeof v === "string" && v.length > 0 ? v : null;
  }

  private state(rule: Compiled, key: string, t: number): KeyState | null {
    let m = this.states.get(rule.def.id);
    let st = m?.get(key);
    if (st) return st;
    if (this.stateCount >= this.keysMax) {
      this.stats.refused++;
      return null;
    }
    st = {
      key,
      leaves: rule.leaves.map(() => ({ on: false, prevT: null, prevV: null })),
      maxT: -Infinity,
      clock: -Infinity,
      lastSeen: t, // absence counts from when the key became known
      offlineSince: null,
      touched: false,
      raised: false,
      episode: 0,
      holdSince: null,
    };
    if (!m) this.states.set(rule.def.id, (m = new Map()));
    m.set(key, st);
    this.stateCount++;
    return st;
  }

  private feedLeaf(leaf: Leaf, st: KeyState, key: string, channel: string, t: number, v: number): void {
    const ls = st.leaves[leaf.index]!;
    const c = leaf.cond;
    switch (c.kind) {
      case "threshold":
        ls.on = latch(c, ls.on, v);
        return;
      case "rate":
        if (ls.prevT !== null && ls.prevV !== null && t > ls.prevT) {
          const perMin = ((v - ls.prevV) * 60000) / (t - ls.prevT);
          ls.on = (c.perMinuteAbove !== undefined && perMin > c.perMinuteAbove) || (c.perMinuteBelow !== undefined && perMin < c.perMinuteBelow);
        }
        if (ls.prevT === null || t > ls.prevT) {
          ls.prevT = t;
          ls.prevV = v;
        }
        return;
      case "absence":
        ls.on = false;
        return;
      case "window": {
        const op = leaf.op!;
        op.add(key, channel, t, v);
        for (const r of op.drain()) {
          if (r.revision !== 0 || r.key !== key) continue; // corrections come from late points: alerts are about the present
          const x = r[c.aggregate];
          if (typeof x === "number") ls.on = latch(c, ls.on, x);
        }
        return;
      }
      default:
        return;
    }
  }

  private checkAbsence(rule: Compiled, st: KeyState, now: number): void {
    if (!rule.absence) return;
    for (const leaf of rule.leaves) {
      if (leaf.cond.kind !== "absence") continue;
      const f = leaf.cond.forMs;
      st.leaves[leaf.index]!.on =
        (st.offlineSince !== null && now - st.offlineSince >= f) || (st.lastSeen !== null && now - st.lastSeen >= f);
    }
    this.evaluate(rule, st, st.clock, undefined);
  }

  private holds(c: Condition, st: KeyState, next: { i: number }): boolean {
    if (c.kind === "all" || c.kind === "any") {
      // Visit every child so leaf numbering stays in step (no short-circuit).
      const vals = c.of.map((x) => this.holds(x, st, next));
      return c.kind === "all" ? vals.every((x) => x) : vals.some((x) => x);
    }
    return st.leaves[next.i++]!.on;
  }

  private evaluate(rule: Compiled, st: KeyState, at: number, value: number | undefined): void {
    const cond = this.holds(rule.def.when, st, { i: 0 });
    if (cond === st.raised) {
      st.holdSince = null;
      return;
    }
    if (st.holdSince === null) st.holdSince = at;
    const need = st.raised ? (rule.def.clearForMs ?? 0) : (rule.def.raiseForMs ?? 0);
    if (at - st.holdSince < need) return;
    if (st.raised) this.transition(rule, st, "cleared", at, value, `no longer ${describe(rule.def.when)}`);
    else {
      const held = need > 0 ? ` for ${at - st.holdSince} ms` : "";
      this.transition(rule, st, "raised", at, value, `${rule.def.match.channel} ${describe(rule.def.when)}${held}`);
    }
  }

  private transition(rule: Compiled, st: KeyState, state: "raised" | "cleared", t: number, value: number | undefined, reason: string): void {
    if (state === "raised") {
      st.episode++;
      st.raised = true;
      this.stats.raised++;
    } else {
      st.raised = false;
      this.stats.cleared++;
    }
    st.holdSince = null;
    const on = state === "raised" ? "raise" : "clear";
    const tr: AlertTransition = {
      ruleId: rule.def.id,
      key: st.key,
      episode: st.episode,
      state,
      t,
      reason,
      actions: (rule.def.actions ?? []).filter((a) => a.on === on).map((a) => JSON.parse(JSON.stringify(a)) as ActionDef),
      id: `${rule.def.id}:${st.key}:${st.episode}:${state}`,
    };
    if (value !== undefined) tr.value = value;
    if (this.pending.length >= streamLimits.pendingTransitionsMax) {
      // Nobody drains: drop the oldest tenth at once (not one by one: O(n) each).
      const n = Math.ceil(this.pending.length / 10);
      this.pending.splice(0, n);
      this.stats.transitionsDropped += n;
    }
    this.pending.push(tr);
  }
}
