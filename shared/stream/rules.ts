// Declarative alert rules as plain JSON, and their validation.
//
// Contract: a RuleDef is data (stored in the control plane, sent to edges);
// validateRule(json) is the only way in: it refuses anything malformed or
// over a named limit with messages that name the field
// (`when.above: must be a finite number`), and unknown fields too (typos
// must not silently change a rule). Semantics are in rule-engine.ts and
// docs/analytics.md "Rules and alerts". Pure and XS-safe.

import { utf8Length } from "../proto/utf8";
import { streamLimits } from "./limits";
import { type WindowAggregate, windowAggregates } from "./window-operator";
import { checkWindowSpec, type WindowSpec } from "./window-spec";

export interface ThresholdCondition {
  kind: "threshold";
  /** Holds when value > above ... */
  above?: number;
  /** ... or value < below. */
  below?: number;
  /** Hysteresis: once holding through `above`, stops only when value < clearBelow (default: value <= above). */
  clearBelow?: number;
  /** Hysteresis: once holding through `below`, stops only when value > clearAbove (default: value >= below). */
  clearAbove?: number;
}

export interface RateCondition {
  kind: "rate";
  /** Holds when the change since the key's previous point, per minute of event time, is > this ... */
  perMinuteAbove?: number;
  /** ... or < this (e.g. -2: falling faster than 2 per minute). */
  perMinuteBelow?: number;
}

export interface AbsenceCondition {
  kind: "absence";
  /** Holds when the key sent no point on the channel for forMs, or its device is offline for forMs (checked by tick). */
  forMs: number;
}

export interface WindowCondition {
  kind: "window";
  window: WindowSpec;
  aggregate: WindowAggregate;
  above?: number;
  below?: number;
  clearBelow?: number;
  clearAbove?: number;
}

export interface CompositeCondition {
  kind: "all" | "any";
  of: Condition[];
}

export type Condition = ThresholdCondition | RateCondition | AbsenceCondition | WindowCondition | CompositeCondition;

export type ActionOn = "raise" | "clear";

export type ActionDef =
  | { kind: "command"; device: string; command: string; args?: Record<string, string | number | boolean>; on: ActionOn }
  | { kind: "event"; on: ActionOn }
  | { kind: "webhook"; url: string; on: ActionOn };

export type Severity = "info" | "warning" | "critical";

export interface RuleDef {
  /** [A-Za-z0-9_.-]+: part of alert ids, so no ':'. */
  id: string;
  name?: string;
  /** Default true; a disabled rule keeps no state. */
  enabled?: boolean;
  /** Default "warning". */
  severity?: Severity;
  match: {
    /** Only these devices (default: every device). */
    devices?: string[];
    channel: string;
    /** "device" (default) or a device metadata field (site, zone, ...): the alert key. */
    groupBy?: string;
  };
  when: Condition;
  /** The condition must hold this long (event time) before the alert is raised. */
  raiseForMs?: number;
  /** The condition must stop holding this long before the alert clears. */
  clearForMs?: number;
  actions?: ActionDef[];
}

export type RuleValidation = { ok: true; rule: RuleDef } | { ok: false; errors: string[] };

const idPattern = /^[A-Za-z0-9_.-]+$/;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

class Checker {
  readonly errors: string[] = [];
  nodes = 0;

  fail(at: string, msg: string): void {
    if (this.errors.length < 50) this.errors.push(`${at}: ${msg}`);
  }

  fields(o: Obj, at: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) this.fail(at === "" ? k : `${at}.${k}`, "unknown field");
  }

  name(v: unknown, at: string, opts: { optional?: boolean; pattern?: RegExp } = {}): void {
    if (v === undefined && opts.optional) return;
    if (typeof v !== "string" || v.length === 0 || v.length > streamLimits.nameMax) {
      this.fail(at, `must be a non-empty string of at most ${streamLimits.nameMax} chars`);
    } else if (opts.pattern && !opts.pattern.test(v)) {
      this.fail(at, "may contain only letters, digits, '_', '-' and '.'");
    }
  }

  finite(v: unknown, at: string): boolean {
    if (v === undefined) return false;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      this.fail(at, "must be a finite number");
      return false;
    }
    return true;
  }

  ms(v: unknown, at: string, min: number): void {
    if (v === undefined) return;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > streamLimits.windowMsMax) {
      this.fail(at, `must be an integer number of ms in ${min}..${streamLimits.windowMsMax}`);
    }
  }

  /** above/below with their hysteresis bounds (threshold and window conditions). */
  bounds(o: Obj, at: string): void {
    const hasAbove = this.finite(o.above, `${at}.above`);
    const hasBelow = this.finite(o.below, `${at}.below`);
    if (o.above === undefined && o.below === undefined) this.fail(at, "needs above or below (or both)");
    if (this.finite(o.clearBelow, `${at}.clearBelow`)) {
      if (o.above === undefined) this.fail(`${at}.clearBelow`, "only with above");
      else if (hasAbove && (o.clearBelow as number) > (o.above as number)) this.fail(`${at}.clearBelow`, "must be <= above");
    }
    if (this.finite(o.clearAbove, `${at}.clearAbove`)) {
      if (o.below === undefined) this.fail(`${at}.clearAbove`, "only with below");
      else if (hasBelow && (o.clearAbove as number) < (o.below as number)) this.fail(`${at}.clearAbove`, "must be >= below");
    }
    if (hasAbove && hasBelow && (o.below as number) > (o.above as number)) {
      this.fail(at, "below must be <= above (the condition holds outside [below, above])");
    }
  }

  condition(v: unknown, at: string, depth: number): void {
    if (++this.nodes > streamLimits.conditionNodesMax) {
      if (this.nodes === streamLimits.conditionNodesMax + 1) this.fail(at, `more than ${streamLimits.conditionNodesMax} conditions in one rule`);
      return;
    }
    if (depth > streamLimits.conditionDepthMax) {
      this.fail(at, `conditions nest deeper than ${streamLimits.conditionDepthMax}`);
      return;
    }
    if (!isObj(v)) {
      this.fail(at, "must be an object");
      return;
    }
    switch (v.kind) {
      case "threshold":
        this.fields(v, at, ["kind", "above", "below", "clearBelow", "clearAbove"]);
        this.bounds(v, at);
        return;
      case "rate":
        this.fields(v, at, ["kind", "perMinuteAbove", "perMinuteBelow"]);
        this.finite(v.perMinuteAbove, `${at}.perMinuteAbove`);
        this.finite(v.perMinuteBelow, `${at}.perMinuteBelow`);
        if (v.perMinuteAbove === undefined && v.perMinuteBelow === undefined) this.fail(at, "needs perMinuteAbove or perMinuteBelow");
        return;
      case "absence":
        this.fields(v, at, ["kind", "forMs"]);
        if (v.forMs === undefined) this.fail(`${at}.forMs`, "is required");
        this.ms(v.forMs, `${at}.forMs`, 1);
        return;
      case "window":
        this.fields(v, at, ["kind", "window", "aggregate", "above", "below", "clearBelow", "clearAbove"]);
        for (const e of checkWindowSpec(v.window, `${at}.window`)) this.errors.push(e);
        if (!windowAggregates.includes(v.aggregate as WindowAggregate)) {
          this.fail(`${at}.aggregate`, `must be one of ${windowAggregates.join(", ")}`);
        }
        this.bounds(v, at);
        return;
      case "all":
      case "any":
        this.fields(v, at, ["kind", "of"]);
        if (!Array.isArray(v.of) || v.of.length === 0) {
          this.fail(`${at}.of`, "must be a non-empty array of conditions");
          return;
        }
        v.of.forEach((c, i) => this.condition(c, `${at}.of[${i}]`, depth + 1));
        return;
      default:
        this.fail(`${at}.kind`, 'must be "threshold", "rate", "absence", "window", "all" or "any"');
    }
  }

  action(v: unknown, at: string): void {
    if (!isObj(v)) {
      this.fail(at, "must be an object");
      return;
    }
    if (v.on !== "raise" && v.on !== "clear") this.fail(`${at}.on`, 'must be "raise" or "clear"');
    switch (v.kind) {
      case "command": {
        this.fields(v, at, ["kind", "device", "command", "args", "on"]);
        this.name(v.device, `${at}.device`);
        this.name(v.command, `${at}.command`);
        if (v.args === undefined) return;
        if (!isObj(v.args)) {
          this.fail(`${at}.args`, "must be an object");
          return;
        }
        const keys = Object.keys(v.args);
        if (keys.length > streamLimits.commandArgsMax) this.fail(`${at}.args`, `at most ${streamLimits.commandArgsMax} arguments`);
        for (const k of keys) {
          const a = v.args[k];
          if (k.length === 0 || k.length > streamLimits.nameMax) this.fail(`${at}.args`, `argument names must be 1..${streamLimits.nameMax} chars`);
          const okArg = typeof a === "boolean" || (typeof a === "number" && Number.isFinite(a)) ||
            (typeof a === "string" && a.length <= streamLimits.urlMax);
          if (!okArg) this.fail(`${at}.args.${k}`, "must be a string, a finite number or a boolean");
        }
        return;
      }
      case "event":
        this.fields(v, at, ["kind", "on"]);
        return;
      case "webhook":
        this.fields(v, at, ["kind", "url", "on"]);
        if (typeof v.url !== "string" || !/^https?:\/\/[^\s/]+/.test(v.url) || v.url.length > streamLimits.urlMax) {
          this.fail(`${at}.url`, `must be an http:// or https:// URL of at most ${streamLimits.urlMax} chars`);
        }
        return;
      default:
        this.fail(`${at}.kind`, 'must be "command", "event" or "webhook"');
    }
  }
}

/** Validates untrusted JSON as a rule; errors name the field. */
export function validateRule(json: unknown): RuleValidation {
  const c = new Checker();
  let text: string;
  try {
    text = JSON.stringify(json) ?? "";
  } catch {
    return { ok: false, errors: ["rule: must be plain JSON"] };
  }
  if (utf8Length(text) > streamLimits.ruleBytesMax) {
    return { ok: false, errors: [`rule: larger than ${streamLimits.ruleBytesMax} bytes of JSON`] };
  }
  if (!isObj(json)) return { ok: false, errors: ["rule: must be an object"] };
  const r = json;
  c.fields(r, "", ["id", "name", "enabled", "severity", "match", "when", "raiseForMs", "clearForMs", "actions"]);
  c.name(r.id, "id", { pattern: idPattern });
  c.name(r.name, "name", { optional: true });
  if (r.enabled !== undefined && typeof r.enabled !== "boolean") c.fail("enabled", "must be a boolean");
  if (r.severity !== undefined && r.severity !== "info" && r.severity !== "warning" && r.severity !== "critical") {
    c.fail("severity", 'must be "info", "warning" or "critical"');
  }
  if (!isObj(r.match)) c.fail("match", "must be an object");
  else {
    const m = r.match;
    c.fields(m, "match", ["devices", "channel", "groupBy"]);
    c.name(m.channel, "match.channel");
    c.name(m.groupBy, "match.groupBy", { optional: true });
    if (m.devices !== undefined) {
      if (!Array.isArray(m.devices) || m.devices.length === 0 || m.devices.length > streamLimits.matchDevicesMax) {
        c.fail("match.devices", `must be a non-empty array of at most ${streamLimits.matchDevicesMax} device ids`);
      } else m.devices.forEach((d, i) => c.name(d, `match.devices[${i}]`));
    }
  }
  if (r.when === undefined) c.fail("when", "is required");
  else c.condition(r.when, "when", 1);
  c.ms(r.raiseForMs, "raiseForMs", 0);
  c.ms(r.clearForMs, "clearForMs", 0);
  if (r.actions !== undefined) {
    if (!Array.isArray(r.actions)) c.fail("actions", "must be an array");
    else if (r.actions.length > streamLimits.actionsMax) c.fail("actions", `at most ${streamLimits.actionsMax} actions`);
    else r.actions.forEach((a, i) => c.action(a, `actions[${i}]`));
  }
  if (c.errors.length > 0) return { ok: false, errors: c.errors };
  // A deep copy: the caller's object can change later, the rule cannot.
  return { ok: true, rule: JSON.parse(text) as RuleDef };
}

/** Canonical JSON (sorted keys): equal rules give equal strings on every engine. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (isObj(v)) {
    return `{${Object.keys(v).filter((k) => v[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}
