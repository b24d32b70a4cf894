// Dotted version vector set (DVV set) for one field of a device shadow: a
// multi-value register whose concurrent writes are kept as siblings and
// whose causally later writes replace what they saw. XS-safe (plain ES,
// no platform APIs), JSON-friendly (plain objects), pure (inputs are never
// mutated; results are new frozen-shape objects).
//
// Model (Preguiça, Baquero, Almeida et al., "Dotted Version Vectors"; the
// optimized multi-value register of delta-state CRDTs):
//   set = { siblings: [(dot, value)], context: version vector }
//   - a dot (writer, counter) names one write; the writer that issues it
//     (a replica: an API node, the device, a gateway) is the only one that
//     issues dots with its id, counters 1, 2, 3, … without gaps;
//   - the context names every write this replica has seen, compactly:
//     context[w] = n means writes (w,1)…(w,n) were all seen;
//   - invariant: every sibling's dot is covered by the context; sibling dots
//     are distinct; siblings are sorted by (writer, counter).
// put(value, ctx, writer) (ctx = the context a reader got with its read):
//   the siblings covered by ctx are replaced (causally later wins), the
//   others stay (concurrent: kept, never lost), the new write gets the dot
//   (writer, max(context[writer], ctx[writer]) + 1).
// Why dots rather than plain vector clocks per value (versioned.ts): the
// dot issuer here is a *server* (an API node writes for many operators); two
// operators writing through one node with the same stale context would get
// clocks where one falsely dominates the other with plain version vectors.
// With dots the new value's causal past is exactly the context the client
// read, so both writes stay as siblings.
// join(a, b): a sibling survives if the other side also has it or has not
// seen its dot; contexts join pointwise. Commutative, associative,
// idempotent (a lattice join), so replicas converge in any delivery order.
//
// Bounds: `dvvWritersMax` writers per context, `siblingsMax` per put (a put
// that would leave more concurrent values is refused: resolve first), dot
// counters ≤ Number.MAX_SAFE_INTEGER, writer ids `dvvWriterIdPattern`.
// A join keeps all it is given (a join may not refuse), so a joined set
// holds at most writersMax × siblingsMax values.
// Untrusted input (JSON from storage or the wire) goes through
// `dvvValidate` first.

export type DvvContext = Readonly<Record<string, number>>;

export interface DvvSibling {
  readonly writer: string;
  readonly counter: number;
  readonly value: string;
}

export interface DvvSet {
  readonly siblings: readonly DvvSibling[];
  readonly context: DvvContext;
}

export interface DvvLimits {
  /** Most concurrent values a put may leave behind. */
  siblingsMax: number;
  /** Most distinct writers one context may name. */
  writersMax: number;
  /** Longest value (UTF-16 code units). */
  valueLengthMax: number;
}

export const dvvSiblingsMaxDefault = 8;
export const dvvWritersMaxDefault = 32;
export const dvvValueLengthMaxDefault = 1024;
/** Writer ids: also used as NATS KV key tokens, so no dots or wildcards. */
export const dvvWriterIdPattern = /^[A-Za-z0-9_=-]{1,64}$/;

export const dvvLimitsDefault: DvvLimits = Object.freeze({
  siblingsMax: dvvSiblingsMaxDefault,
  writersMax: dvvWritersMaxDefault,
  valueLengthMax: dvvValueLengthMaxDefault,
});

export const DvvErrorCode = Object.freeze({
  BadWriter: "bad-writer",
  BadCounter: "bad-counter",
  BadValue: "bad-value",
  WritersMax: "writers-max",
  SiblingsMax: "siblings-max",
  /** A sibling's dot is outside the context, or dots repeat / are unsorted. */
  BadShape: "bad-shape",
} as const);
export type DvvErrorCode = (typeof DvvErrorCode)[keyof typeof DvvErrorCode];

export class DvvError extends Error {
  readonly code: DvvErrorCode;
  constructor(code: DvvErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = "DvvError";
  }
}

function limitsOf(l: Partial<DvvLimits> | undefined): DvvLimits {
  if (!l) return dvvLimitsDefault;
  return {
    siblingsMax: l.siblingsMax ?? dvvSiblingsMaxDefault,
    writersMax: l.writersMax ?? dvvWritersMaxDefault,
    valueLengthMax: l.valueLengthMax ?? dvvValueLengthMaxDefault,
  };
}

const emptyContext: DvvContext = Object.freeze({});
const emptySet: DvvSet = Object.freeze({ siblings: Object.freeze([]) as readonly DvvSibling[], context: emptyContext });

export function dvvEmpty(): DvvSet {
  return emptySet;
}

// ---- contexts (version vectors as sorted plain objects) ----

export function contextGet(ctx: DvvContext, writer: string): number {
  return Object.prototype.hasOwnProperty.call(ctx, writer) ? ctx[writer]! : 0;
}

export function contextCovers(ctx: DvvContext, writer: string, counter: number): boolean {
  return counter <= contextGet(ctx, writer);
}

/** a ≤ b pointwise: b has seen everything a has. */
export function contextLeq(a: DvvContext, b: DvvContext): boolean {
  for (const w of Object.keys(a)) if (a[w]! > contextGet(b, w)) return false;
  return true;
}

function sortedContext(m: Record<string, number>): DvvContext {
  const out: Record<string, number> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k]!;
  return out;
}

/** Pointwise max; throws DvvError(WritersMax) past the limit. */
export function contextJoin(a: DvvContext, b: DvvContext, writersMax = dvvWritersMaxDefault): DvvContext {
  const m: Record<string, number> = {};
  for (const w of Object.keys(a)) m[w] = a[w]!;
  for (const w of Object.keys(b)) m[w] = Math.max(contextGet(m, w), b[w]!);
  const n = Object.keys(m).length;
  if (n > writersMax) throw new DvvError(DvvErrorCode.WritersMax, `context names ${n} writers (limit ${writersMax})`);
  return sortedContext(m);
}

function bySiblingDot(a: DvvSibling, b: DvvSibling): number {
  if (a.writer !== b.writer) return a.writer < b.writer ? -1 : 1;
  return a.counter - b.counter;
}

// ---- operations ----

export interface DvvPutResult {
  readonly set: DvvSet;
  /** The new write's dot. */
  readonly writer: string;
  readonly counter: number;
  /** Siblings the write replaced (their dots were in `context`). */
  readonly replaced: number;
}

/**
 * Writes `value` by `writer` after a read that returned `context`. Throws
 * DvvError for a bad writer/value, too many writers, or (SiblingsMax) when
 * more than siblingsMax concurrent values would remain.
 */
export function dvvPut(set: DvvSet, value: string, context: DvvContext, writer: string, limits?: Partial<DvvLimits>): DvvPutResult {
  const l = limitsOf(limits);
  checkWriter(writer);
  checkValue(value, l);
  const kept = set.siblings.filter((s) => !contextCovers(context, s.writer, s.counter));
  if (kept.length + 1 > l.siblingsMax) {
    throw new DvvError(DvvErrorCode.SiblingsMax, `${kept.length} concurrent values not covered by the context (limit ${l.siblingsMax}); read and write with the context read`);
  }
  const counter = Math.max(contextGet(set.context, writer), contextGet(context, writer)) + 1;
  if (counter > Number.MAX_SAFE_INTEGER) throw new DvvError(DvvErrorCode.BadCounter, `writer ${writer} has no counters left`);
  const ctx = contextJoin(contextJoin(set.context, context, l.writersMax), { [writer]: counter }, l.writersMax);
  const siblings = kept.concat([{ writer, counter, value }]).sort(bySiblingDot);
  return { set: { siblings, context: ctx }, writer, counter, replaced: set.siblings.length - kept.length };
}

/** Removes the siblings covered by `context` (a delete after a read); concurrent values stay. */
export function dvvDiscard(set: DvvSet, context: DvvContext, limits?: Partial<DvvLimits>): DvvSet {
  const l = limitsOf(limits);
  const siblings = set.siblings.filter((s) => !contextCovers(context, s.writer, s.counter));
  return { siblings, context: contextJoin(set.context, context, l.writersMax) };
}

export interface DvvJoinResult {
  readonly set: DvvSet;
  /** Same dot, different values on the two sides: a writer reused a counter
   *  (e.g. lost its state). Resolved deterministically (smaller value wins)
   *  so the join stays commutative; counted so it can be reported. */
  readonly dotConflicts: number;
}

/** Lattice join of two replicas of one field. */
export function dvvJoin(a: DvvSet, b: DvvSet, limits?: Partial<DvvLimits>): DvvJoinResult {
  const l = limitsOf(limits);
  const out: DvvSibling[] = [];
  let dotConflicts = 0;
  let i = 0;
  let j = 0;
  // Both sibling lists are sorted by dot: one merge pass.
  while (i < a.siblings.length || j < b.siblings.length) {
    const x = a.siblings[i];
    const y = b.siblings[j];
    const c = x && y ? bySiblingDot(x, y) : x ? -1 : 1;
    if (c === 0) {
      if (x!.value !== y!.value) dotConflicts++;
      out.push(x!.value <= y!.value ? x! : y!);
      i++;
      j++;
    } else if (c < 0) {
      if (!contextCovers(b.context, x!.writer, x!.counter)) out.push(x!);
      i++;
    } else {
      if (!contextCovers(a.context, y!.writer, y!.counter)) out.push(y!);
      j++;
    }
  }
  return { set: { siblings: out, context: contextJoin(a.context, b.context, l.writersMax) }, dotConflicts };
}

export function dvvValues(set: DvvSet): string[] {
  return set.siblings.map((s) => s.value);
}

export function dvvEquals(a: DvvSet, b: DvvSet): boolean {
  if (a.siblings.length !== b.siblings.length) return false;
  for (let i = 0; i < a.siblings.length; i++) {
    const x = a.siblings[i]!;
    const y = b.siblings[i]!;
    if (x.writer !== y.writer || x.counter !== y.counter || x.value !== y.value) return false;
  }
  const ka = Object.keys(a.context);
  const kb = Object.keys(b.context);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (a.context[k] !== contextGet(b.context, k)) return false;
  return true;
}

// ---- validation of untrusted input ----

function checkWriter(w: unknown): asserts w is string {
  if (typeof w !== "string" || !dvvWriterIdPattern.test(w)) throw new DvvError(DvvErrorCode.BadWriter, `bad writer id ${JSON.stringify(w)}`);
}

function checkCounter(n: unknown): asserts n is number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > Number.MAX_SAFE_INTEGER) {
    throw new DvvError(DvvErrorCode.BadCounter, `bad counter ${String(n)}`);
  }
}

function checkValue(v: unknown, l: DvvLimits): asserts v is string {
  if (typeof v !== "string" || v.length > l.valueLengthMax) throw new DvvError(DvvErrorCode.BadValue, `value must be a string of at most ${l.valueLengthMax} characters`);
}

/** Checks and canonicalizes a context from untrusted input. */
export function dvvValidateContext(x: unknown, limits?: Partial<DvvLimits>): DvvContext {
  const l = limitsOf(limits);
  if (x === null || typeof x !== "object" || Array.isArray(x)) throw new DvvError(DvvErrorCode.BadShape, "context must be an object of writer → counter");
  const keys = Object.keys(x);
  if (keys.length > l.writersMax) throw new DvvError(DvvErrorCode.WritersMax, `context names ${keys.length} writers (limit ${l.writersMax})`);
  const m: Record<string, number> = {};
  for (const k of keys) {
    checkWriter(k);
    const n = (x as Record<string, unknown>)[k];
    checkCounter(n);
    m[k] = n;
  }
  return sortedContext(m);
}

/** Checks and canonicalizes a set from untrusted input (sorts siblings; the
 *  invariants must hold: dots distinct and covered by the context). */
export function dvvValidate(x: unknown, limits?: Partial<DvvLimits>): DvvSet {
  const l = limitsOf(limits);
  if (x === null || typeof x !== "object") throw new DvvError(DvvErrorCode.BadShape, "DVV set must be an object");
  const o = x as { siblings?: unknown; context?: unknown };
  const context = dvvValidateContext(o.context, l);
  if (!Array.isArray(o.siblings)) throw new DvvError(DvvErrorCode.BadShape, "siblings must be an array");
  if (o.siblings.length > l.writersMax * l.siblingsMax) throw new DvvError(DvvErrorCode.SiblingsMax, `${o.siblings.length} siblings`);
  const siblings: DvvSibling[] = [];
  for (const s of o.siblings as unknown[]) {
    if (s === null || typeof s !== "object") throw new DvvError(DvvErrorCode.BadShape, "sibling must be an object");
    const { writer, counter, value } = s as Record<string, unknown>;
    checkWriter(writer);
    checkCounter(counter);
    checkValue(value, l);
    if (!contextCovers(context, writer, counter)) throw new DvvError(DvvErrorCode.BadShape, `sibling (${writer},${counter}) is outside the context`);
    siblings.push({ writer, counter, value });
  }
  siblings.sort(bySiblingDot);
  for (let i = 1; i < siblings.length; i++) {
    if (bySiblingDot(siblings[i - 1]!, siblings[i]!) === 0) throw new DvvError(DvvErrorCode.BadShape, "two siblings share a dot");
  }
  return { siblings, context };
}
