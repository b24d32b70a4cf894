// Window specifications and the windows a timestamp falls in.
//
// Contract: windows are half-open [start, end) in ms of event time, aligned to
// epoch 0 (a 60 s tumbling window starts on whole minutes UTC). Tumbling and
// hopping windows are computed, never stored; session windows depend on the
// data and live in the window operator. Pure and XS-safe.

import { streamLimits } from "./limits";

export type WindowSpec =
  | { kind: "tumbling"; sizeMs: number }
  | { kind: "hopping"; sizeMs: number; hopMs: number }
  | { kind: "session"; gapMs: number };

export interface WindowBounds {
  start: number;
  end: number;
}

/** The windows (ascending start) containing t, for tumbling and hopping specs; [] for session. */
export function windowsOf(spec: WindowSpec, t: number): WindowBounds[] {
  if (spec.kind === "session") return [];
  const size = spec.sizeMs;
  const hop = spec.kind === "tumbling" ? size : spec.hopMs;
  const last = Math.floor(t / hop) * hop; // latest aligned start <= t
  const out: WindowBounds[] = [];
  for (let s = last; s + size > t; s -= hop) out.push({ start: s, end: s + size });
  out.reverse();
  return out;
}

/** Checks a spec; returns error messages naming the field under `at` ([] = valid). */
export function checkWindowSpec(spec: unknown, at = "window"): string[] {
  const errs: string[] = [];
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) return [`${at}: must be an object`];
  const o = spec as Record<string, unknown>;
  const ms = (field: string): number | null => {
    const v = o[field];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > streamLimits.windowMsMax) {
      errs.push(`${at}.${field}: must be an integer number of ms in 1..${streamLimits.windowMsMax}`);
      return null;
    }
    return v;
  };
  const allowed: Record<string, string[]> = {
    tumbling: ["kind", "sizeMs"],
    hopping: ["kind", "sizeMs", "hopMs"],
    session: ["kind", "gapMs"],
  };
  const kind = o.kind;
  if (kind !== "tumbling" && kind !== "hopping" && kind !== "session") {
    return [`${at}.kind: must be "tumbling", "hopping" or "session"`];
  }
  for (const k of Object.keys(o)) if (!allowed[kind]!.includes(k)) errs.push(`${at}.${k}: unknown field`);
  if (kind === "session") {
    ms("gapMs");
    return errs;
  }
  const size = ms("sizeMs");
  if (kind === "hopping") {
    const hop = ms("hopMs");
    if (size !== null && hop !== null) {
      if (hop > size) errs.push(`${at}.hopMs: must be <= sizeMs (${size})`);
      else if (size / hop > streamLimits.windowsPerPointMax) {
        errs.push(`${at}.hopMs: sizeMs / hopMs must be <= ${streamLimits.windowsPerPointMax}`);
      }
    }
  }
  return errs;
}
