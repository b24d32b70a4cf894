// Pure operations on one shadow document (field → DVV set): put, delete and
// join of fields, validation of untrusted documents (device reports, stored
// values), views for readers and the desired/reported delta. No I/O.
//
// Invariants: field names match shadowFieldPattern; a document holds at most
// limits.fieldsMax fields after a put (a join keeps what it is given, so a
// joined document is bounded by fieldsMax × writers); values are canonical
// JSON text of at most valueBytesMax bytes.
import {
  type DvvContext, type DvvSet, DvvError, DvvErrorCode, contextLeq, dvvDiscard, dvvEmpty, dvvJoin, dvvPut, dvvValidate, dvvValidateContext,
} from "../../shared/clock/dvv";
import {
  type FieldView, type ShadowDelta, type ShadowDocView, type ShadowFields, type ShadowLimits, ShadowError, ShadowErrorCode, shadowFieldPattern,
} from "./types";

const enc = new TextEncoder();
/** Nesting bound of a value (shadow values are small settings). */
const valueDepthMax = 8;

// Canonical JSON: keys sorted, no whitespace, finite numbers in ECMAScript's
// shortest form (the same on XS and Node). Unlike the control plane's
// canonical form (safe integers only) it admits fractions: setpoints are.
function canonical(v: unknown, depth: number): string {
  if (depth > valueDepthMax) throw new Error(`nested deeper than ${valueDepthMax}`);
  if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
    return JSON.stringify(Object.is(v, -0) ? 0 : v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => canonical(x, depth + 1)).join(",")}]`;
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k], depth + 1)}`).join(",")}}`;
  }
  throw new Error(`cannot encode ${typeof v}`);
}

/** Canonical JSON text of a value, within the value bound. */
export function encodeValue(value: unknown, limits: ShadowLimits): string {
  if (value === undefined) throw new ShadowError(ShadowErrorCode.Invalid, "value is required (JSON; use delete to remove a field)");
  let text: string;
  try {
    text = canonical(value, 0);
  } catch (e) {
    throw new ShadowError(ShadowErrorCode.Invalid, `value is not JSON: ${(e as Error).message}`);
  }
  const bytes = enc.encode(text).length;
  if (bytes > limits.valueBytesMax) throw new ShadowError(ShadowErrorCode.TooLarge, `value is ${bytes} bytes of JSON (limit ${limits.valueBytesMax})`);
  return text;
}

/** A stored or reported value must be the canonical JSON text of a value. */
function checkValueText(text: string, field: string): void {
  let ok = false;
  try {
    ok = canonical(JSON.parse(text), 0) === text;
  } catch {
    ok = false;
  }
  if (!ok) throw new ShadowError(ShadowErrorCode.Invalid, `field ${field}: a value is not canonical JSON text`);
}

export function checkField(name: unknown): asserts name is string {
  if (typeof name !== "string" || !shadowFieldPattern.test(name)) throw new ShadowError(ShadowErrorCode.Invalid, `field name must match ${shadowFieldPattern}, got ${JSON.stringify(name)}`);
}

function dvvLimits(l: ShadowLimits) {
  // DVV values are canonical JSON text: its length in UTF-16 units ≤ its bytes.
  return { siblingsMax: l.siblingsMax, writersMax: l.writersMax, valueLengthMax: l.valueBytesMax };
}

function fromDvvError(e: unknown): never {
  if (e instanceof DvvError) {
    if (e.code === DvvErrorCode.SiblingsMax) throw new ShadowError(ShadowErrorCode.Conflict, e.message);
    if (e.code === DvvErrorCode.WritersMax) throw new ShadowError(ShadowErrorCode.TooLarge, e.message);
    throw new ShadowError(ShadowErrorCode.Invalid, e.message);
  }
  throw e;
}

export function validateContext(x: unknown, limits: ShadowLimits): DvvContext {
  if (x === undefined) return {};
  try {
    return dvvValidateContext(x, dvvLimits(limits));
  } catch (e) {
    return fromDvvError(e);
  }
}

/** Checks an untrusted document (a device's report, a stored value). */
export function validateFields(x: unknown, limits: ShadowLimits, fieldsMax = limits.fieldsMax): Record<string, DvvSet> {
  if (x === null || typeof x !== "object" || Array.isArray(x)) throw new ShadowError(ShadowErrorCode.Invalid, "fields must be an object of field → DVV set");
  const names = Object.keys(x);
  if (names.length > fieldsMax) throw new ShadowError(ShadowErrorCode.TooLarge, `${names.length} fields (limit ${fieldsMax})`);
  const out: Record<string, DvvSet> = {};
  for (const n of names.sort()) {
    checkField(n);
    try {
      out[n] = dvvValidate((x as Record<string, unknown>)[n], dvvLimits(limits));
    } catch (e) {
      fromDvvError(e);
    }
    for (const s of out[n]!.siblings) checkValueText(s.value, n);
  }
  return out;
}

export interface JoinedFields {
  fields: Record<string, DvvSet>;
  /** Dots found with two different values (a writer reused counters). */
  dotConflicts: number;
  /** Fields whose set changed in `a` by joining `b`. */
  changed: string[];
}

/** Joins document b into a (lattice join per field). */
export function joinFields(a: ShadowFields, b: ShadowFields, limits: ShadowLimits): JoinedFields {
  const fields: Record<string, DvvSet> = { ...a };
  let dotConflicts = 0;
  const changed: string[] = [];
  for (const n of Object.keys(b)) {
    const mine = a[n] ?? dvvEmpty();
    let r;
    try {
      r = dvvJoin(mine, b[n]!, dvvLimits(limits));
    } catch (e) {
      fromDvvError(e);
    }
    dotConflicts += r.dotConflicts;
    if (JSON.stringify(r.set) !== JSON.stringify(mine)) changed.push(n);
    fields[n] = r.set;
  }
  return { fields: sortFields(fields), dotConflicts, changed };
}

function sortFields(f: Record<string, DvvSet>): Record<string, DvvSet> {
  const out: Record<string, DvvSet> = {};
  for (const k of Object.keys(f).sort()) out[k] = f[k]!;
  return out;
}

export interface PutOutcome {
  fields: Record<string, DvvSet>;
  dot: { writer: string; counter: number };
  replaced: number;
}

/** A context must come from a read of this field: it cannot name writes the
 *  store has not seen (reads go to the stream leader, so every context a
 *  client got is ≤ the current one; a bigger one is forged or from a rolled
 *  back store, and would silently hide writes still to come). */
function checkContextSeen(fields: ShadowFields, field: string, context: DvvContext): void {
  if (!contextLeq(context, fields[field]?.context ?? {})) {
    throw new ShadowError(ShadowErrorCode.Invalid, `the context names writes of field ${field} this store has not seen; read the field and use the context returned`);
  }
}

export function putField(fields: ShadowFields, field: string, valueText: string, context: DvvContext, writer: string, limits: ShadowLimits): PutOutcome {
  checkField(field);
  checkContextSeen(fields, field, context);
  if (!fields[field] && Object.keys(fields).length >= limits.fieldsMax) {
    throw new ShadowError(ShadowErrorCode.TooLarge, `the document has ${Object.keys(fields).length} fields (limit ${limits.fieldsMax})`);
  }
  let r;
  try {
    r = dvvPut(fields[field] ?? dvvEmpty(), valueText, context, writer, dvvLimits(limits));
  } catch (e) {
    fromDvvError(e);
  }
  return { fields: sortFields({ ...fields, [field]: r.set }), dot: { writer: r.writer, counter: r.counter }, replaced: r.replaced };
}

export function deleteField(fields: ShadowFields, field: string, context: DvvContext, limits: ShadowLimits): Record<string, DvvSet> {
  checkField(field);
  checkContextSeen(fields, field, context);
  const cur = fields[field];
  if (!cur) return { ...fields }; // nothing was ever written: nothing to remember either
  let set;
  try {
    set = dvvDiscard(cur, context, dvvLimits(limits));
  } catch (e) {
    fromDvvError(e);
  }
  return sortFields({ ...fields, [field]: set });
}

export function fieldView(set: DvvSet): FieldView {
  const siblings = set.siblings.map((s) => ({ writer: s.writer, counter: s.counter, value: JSON.parse(s.value) as unknown }));
  return { values: siblings.map((s) => s.value), siblings, context: set.context };
}

export function docView(fields: ShadowFields, writers: string[]): ShadowDocView {
  const out: Record<string, FieldView> = {};
  for (const n of Object.keys(fields).sort()) out[n] = fieldView(fields[n]!);
  return { fields: out, writers: [...writers].sort() };
}

/** The desired fields the device still has to apply, as the desired DVV sets
 *  (what a downlink carries, with fieldsToWire), and the conflicted fields
 *  held back. A field is in the delta when the desired document holds one
 *  value the reported document does not, or when it was deleted from the
 *  desired document (no values) while the reported document still holds a
 *  value: then it rides as the empty set with its context, and the device
 *  removes its reported field (docs/shadow.md, "Configuration"). */
export function shadowDeltaSets(desired: ShadowFields, reported: ShadowFields): { sets: Record<string, DvvSet>; conflicts: string[] } {
  const sets: Record<string, DvvSet> = {};
  const conflicts: string[] = [];
  for (const n of Object.keys(desired).sort()) {
    const d = desired[n]!;
    const r = reported[n];
    if (d.siblings.length === 0) {
      if (r && r.siblings.length > 0) sets[n] = d; // deleted, still reported: remove
      continue;
    }
    if (d.siblings.length > 1) {
      conflicts.push(n);
      continue;
    }
    if (r && r.siblings.length === 1 && r.siblings[0]!.value === d.siblings[0]!.value) continue;
    sets[n] = d;
  }
  return { sets, conflicts };
}

/** The delta as readers see it (values parsed; deletions apart, with their contexts). */
export function shadowDelta(desired: ShadowFields, reported: ShadowFields): ShadowDelta {
  const { sets, conflicts } = shadowDeltaSets(desired, reported);
  const out: ShadowDelta = { fields: {}, deleted: {}, conflicts };
  for (const n of Object.keys(sets)) {
    const set = sets[n]!;
    if (set.siblings.length === 0) out.deleted[n] = { context: set.context };
    else out.fields[n] = { value: JSON.parse(set.siblings[0]!.value) as unknown, context: set.context };
  }
  return out;
}
