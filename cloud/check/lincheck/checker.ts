// Linearizability checker in the style of Porcupine (Wing & Gong's search
// with Lowe's memoization): for each partition of the history (e.g. per
// key), search for a total order of operations that respects real time and
// the sequential model. Operations whose outcome is unknown (timed out) have
// an infinite return time and an unknown output: they may take effect at any
// point after their call, or never matter to anyone.

export interface Operation<I, O> {
  readonly clientId: number;
  readonly input: I;
  /** undefined when the outcome is unknown. */
  readonly output: O | undefined;
  readonly callTime: number;
  /** Number.POSITIVE_INFINITY when the outcome is unknown. */
  readonly returnTime: number;
}

export interface Model<S, I, O> {
  init(): S;
  /** Applies input to state; ok=false when `output` is impossible from `state`. output undefined = unknown. */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /** Independent sub-histories (e.g. by key); default: the whole history. */
  partition?(ops: readonly Operation<I, O>[]): Operation<I, O>[][];
  /** Hashable identity of a state for the memo cache. */
  key(state: S): string;
  describe?(op: Operation<I, O>): string;
}

export const CheckResult = {
  Ok: "ok",
  Illegal: "illegal",
  /** The search budget ran out: neither proven nor refuted. */
  Unknown: "unknown",
} as const;
export type CheckResult = (typeof CheckResult)[keyof typeof CheckResult];

export interface CheckReport<I, O> {
  readonly result: CheckResult;
  /** For Illegal: the partition that could not be linearized. */
  readonly failingPartition?: readonly Operation<I, O>[];
  readonly partitions: number;
}

interface Node {
  readonly id: number;
  readonly isCall: boolean;
  readonly time: number;
  readonly opIndex: number;
  match: Node | undefined;
  prev: Node | undefined;
  next: Node | undefined;
}

/** Search steps per partition before giving up with Unknown. */
export const SEARCH_STEPS_MAX = 5_000_000;

export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  stepsMax = SEARCH_STEPS_MAX,
): CheckReport<I, O> {
  const parts = model.partition ? model.partition(history) : [history.slice()];
  let unknown = false;
  for (const part of parts) {
    const r = checkPartition(model, part, stepsMax);
    if (r === CheckResult.Illegal) return { result: r, failingPartition: part, partitions: parts.length };
    if (r === CheckResult.Unknown) unknown = true;
  }
  return { result: unknown ? CheckResult.Unknown : CheckResult.Ok, partitions: parts.length };
}

function buildList(ops: readonly Operation<unknown, unknown>[]): Node {
  const events: Node[] = [];
  ops.forEach((op, i) => {
    if (!(op.returnTime >= op.callTime)) throw new Error(`lincheck: op ${i} returns (${op.returnTime}) before its call (${op.callTime})`);
    const call: Node = { id: i, isCall: true, time: op.callTime, opIndex: i, match: undefined, prev: undefined, next: undefined };
    const ret: Node = { id: i, isCall: false, time: op.returnTime, opIndex: i, match: undefined, prev: undefined, next: undefined };
    call.match = ret;
    events.push(call, ret);
  });
  // By time; at equal times calls first (treated as concurrent: the permissive reading).
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Node = { id: -1, isCall: false, time: -Infinity, opIndex: -1, match: undefined, prev: undefined, next: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  return head;
}

function lift(call: Node): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Node): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

class Bitset {
  readonly words: Uint32Array;
  constructor(n: number, words?: Uint32Array) {
    this.words = words ?? new Uint32Array(Math.ceil(n / 32) || 1);
  }
  set(i: number): Bitset {
    const b = new Bitset(0, this.words.slice());
    b.words[i >>> 5]! |= 1 << (i & 31);
    return b;
  }
  key(): string {
    return Array.from(this.words, (w) => w.toString(36)).join(".");
  }
}

function checkPartition<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], stepsMax: number): CheckResult {
  if (ops.length === 0) return CheckResult.Ok;
  const head = buildList(ops);
  let state = model.init();
  let linearized = new Bitset(ops.length);
  const cache = new Set<string>();
  const stack: { call: Node; state: S; linearized: Bitset }[] = [];
  let entry = head.next;
  let steps = 0;
  while (head.next !== undefined) {
    if (++steps > stepsMax) return CheckResult.Unknown;
    if (entry === undefined) throw new Error("lincheck: ran off the event list");
    if (entry.isCall) {
      const op = ops[entry.opIndex]!;
      const r = model.step(state, op.input, op.output);
      if (r.ok) {
        const next = linearized.set(entry.opIndex);
        const k = `${next.key()}|${model.key(r.state)}`;
        if (!cache.has(k)) {
          cache.add(k);
          stack.push({ call: entry, state, linearized });
          state = r.state;
          linearized = next;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // A return reached with its call not linearized: backtrack.
      const top = stack.pop();
      if (!top) return CheckResult.Illegal;
      state = top.state;
      linearized = top.linearized;
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return CheckResult.Ok;
}
