// Black-box causal consistency checker for multi-value registers (device
// shadow fields): judges a recorded history using only what clients sent
// and got back, never the store's internal clocks.
//
// History: operations per session, in each session's order (the order of
// `ops` restricted to one session). A write names the key, the value and the
// dot the store answered (its unique id); a read names the key and the
// siblings it returned (dot + value each). Writes whose reply was lost have
// no dot: a read may still return them (matched by key and value).
//
// Causal order (happens-before) is built from the history alone: session
// order on one key, and "read observes write" (a read that returns a
// sibling comes after that write and after everything before it). It is
// per key because the store's causality is: a client writes a field with
// the context it read of that field (Dynamo/Riak contexts), so a write can
// only supersede what its session saw of the same field. (A cross-key
// order — a session that read field A, which depended on a write to B, then
// writes B with an older context of B — is not promised, and a checker
// that assumed it fails correct shadows.) past(op) is the set of
// writes that happen before op. Every read r of key k must:
//   1. return only writes that exist, with the values written (no invention);
//   2. return an antichain: no returned write happens before another one
//      (a causally later write replaces what it saw);
//   3. reflect its whole causal past: every write on k in past(r) is
//      returned, or happens before a returned write (no update lost, every
//      read reflects all causally preceding writes).
// Reads marked `final` (after all writers stopped and replicas settled)
// must also agree across sessions per key (convergence).
// The happens-before graph must be acyclic (a read cannot observe a write
// that depends on the read).
//
// Deletes (a delete is written with the context the session read, so it
// removes exactly what its session had seen): a delete takes part in the
// happens-before order like a write, but leaves no dot, so no read can
// show that it observed one. Hence:
//   4. a read must not return a write that happens before an acknowledged
//      delete of the key in the read's causal past (a deleted value never
//      comes back to a session that knows of the delete);
//   3'. a write in the read's past that is not returned is excused when a
//      delete of the key that does not happen after the read (concurrent or
//      earlier) happened after the write: the store may already apply it.
// Not covered: a history over 20 000 operations (ops > opsMax: refused).

export interface CausalDot { readonly writer: string; readonly counter: number }

export interface CausalWrite {
  readonly kind: "write";
  readonly session: string;
  readonly key: string;
  readonly value: string;
  /** undefined: the reply was lost (the write may or may not have happened). */
  readonly dot: CausalDot | undefined;
}

export interface CausalRead {
  readonly kind: "read";
  readonly session: string;
  readonly key: string;
  readonly siblings: ReadonlyArray<CausalDot & { readonly value: string }>;
  /** Taken after every writer stopped: must agree with other final reads of the key. */
  readonly final?: boolean;
}

export interface CausalDelete {
  readonly kind: "delete";
  readonly session: string;
  readonly key: string;
  /** The reply was lost: the delete may or may not have happened. */
  readonly lost?: boolean;
}

export type CausalOp = CausalWrite | CausalRead | CausalDelete;

export interface CausalReport {
  readonly ok: boolean;
  /** The first violations found, each a sentence (at most violationsMax). */
  readonly violations: string[];
  readonly reads: number;
  readonly writes: number;
  readonly deletes: number;
  /** Writes on a key in a read's causal past that the read reflected (summed over reads). */
  readonly pastWritesChecked: number;
}

export const causalOpsMax = 20_000;
const violationsMax = 20;

const dotId = (key: string, d: CausalDot): string => `${key}\u0000${d.writer}:${d.counter}`;

export function checkCausal(ops: readonly CausalOp[]): CausalReport {
  if (ops.length > causalOpsMax) throw new Error(`history of ${ops.length} operations (limit ${causalOpsMax})`);
  const violations: string[] = [];
  const fail = (m: string) => { if (violations.length < violationsMax) violations.push(m); };

  // Index writes by dot; lost-reply writes by key+value.
  const writeByDot = new Map<string, number>();
  const maybeWrites = new Map<string, number[]>();
  ops.forEach((op, i) => {
    if (op.kind !== "write") return;
    if (op.dot) {
      const id = dotId(op.key, op.dot);
      if (writeByDot.has(id)) fail(`dot ${op.dot.writer}:${op.dot.counter} on ${op.key} was issued to two writes (#${writeByDot.get(id)} and #${i})`);
      writeByDot.set(id, i);
    } else {
      const k = `${op.key}\u0000${op.value}`;
      maybeWrites.set(k, [...(maybeWrites.get(k) ?? []), i]);
    }
  });

  // The write a returned sibling stands for (undefined: none, already reported).
  const resolved = new Map<string, number>();
  const writeOf = (r: CausalRead, ri: number, s: CausalDot & { value: string }): number | undefined => {
    const id = dotId(r.key, s);
    let w = writeByDot.get(id) ?? resolved.get(id);
    if (w === undefined) {
      const cands = maybeWrites.get(`${r.key}\u0000${s.value}`);
      if (cands && cands.length > 0) {
        w = cands.shift()!;
        resolved.set(id, w);
      } else {
        fail(`read #${ri} (${r.session}) returned ${s.writer}:${s.counter}=${s.value} on ${r.key}, which no write produced`);
        return undefined;
      }
    }
    const wo = ops[w] as CausalWrite;
    if (wo.value !== s.value) fail(`read #${ri} (${r.session}) returned ${s.writer}:${s.counter}=${s.value} on ${r.key}, but that write wrote ${wo.value}`);
    return w;
  };

  // Predecessors: the previous op of the session, and for reads the writes observed.
  // Session order is per key: a client's contexts are per key (per shadow field), so the
  // store can only order a session's operations on one key (see the header).
  const prevInSession = new Array<number>(ops.length).fill(-1);
  const last = new Map<string, number>();
  ops.forEach((op, i) => {
    const sk = `${op.session}\u0000${op.key}`;
    prevInSession[i] = last.get(sk) ?? -1;
    last.set(sk, i);
  });
  const observed: number[][] = ops.map((op, i) => {
    if (op.kind !== "read") return [];
    const out: number[] = [];
    for (const s of op.siblings) {
      const w = writeOf(op, i, s);
      if (w !== undefined) out.push(w);
    }
    return out;
  });

  // past(op): writes and deletes that happen before op; iterative DFS (sessions are long).
  const past: Array<Set<number> | undefined> = new Array(ops.length);
  const state = new Uint8Array(ops.length); // 0 new, 1 on stack, 2 done
  const preds = (i: number): number[] => {
    const p = observed[i]!.slice();
    if (prevInSession[i]! >= 0) p.push(prevInSession[i]!);
    return p;
  };
  let cyclic = false;
  for (let root = 0; root < ops.length && !cyclic; root++) {
    if (state[root] === 2) continue;
    const stack: number[] = [root];
    while (stack.length > 0) {
      const i = stack[stack.length - 1]!;
      if (state[i] === 0) {
        state[i] = 1;
        for (const p of preds(i)) {
          if (state[p] === 1) {
            fail(`cycle in happens-before through op #${i} (${ops[i]!.session}) and #${p} (${ops[p]!.session})`);
            cyclic = true;
          } else if (state[p] === 0) stack.push(p);
        }
        continue;
      }
      stack.pop();
      if (state[i] === 2) continue;
      const set = new Set<number>();
      for (const p of preds(i)) {
        for (const w of past[p] ?? []) set.add(w);
        if (ops[p]!.kind !== "read") set.add(p);
      }
      past[i] = set;
      state[i] = 2;
    }
  }
  if (cyclic) return { ok: false, violations, reads: 0, writes: 0, deletes: 0, pastWritesChecked: 0 };

  // The first write or delete after each read in its session: a delete happens after
  // the read exactly when it is that op or has it in its past.
  const nextUpdate = new Array<number>(ops.length).fill(-1);
  const pendingReads = new Map<string, number[]>();
  ops.forEach((op, i) => {
    const sk = `${op.session}\u0000${op.key}`;
    if (op.kind === "read") {
      pendingReads.set(sk, [...(pendingReads.get(sk) ?? []), i]);
      return;
    }
    for (const ri of pendingReads.get(sk) ?? []) nextUpdate[ri] = i;
    pendingReads.delete(sk);
  });
  const deletesOf = new Map<string, number[]>();
  ops.forEach((op, i) => { if (op.kind === "delete") deletesOf.set(op.key, [...(deletesOf.get(op.key) ?? []), i]); });
  const afterRead = (d: number, ri: number): boolean => {
    const nx = nextUpdate[ri]!;
    return nx >= 0 && (nx === d || past[d]!.has(nx));
  };

  let reads = 0;
  let pastWritesChecked = 0;
  const finals = new Map<string, { i: number; sig: string }>();
  ops.forEach((op, i) => {
    if (op.kind !== "read") return;
    reads++;
    const got = observed[i]!;
    // 2. antichain
    for (const a of got) for (const b of got) {
      if (a !== b && past[b]!.has(a)) fail(`read #${i} (${op.session}) on ${op.key} returned write #${a} beside #${b}, which happened after it`);
    }
    // 4. nothing a known delete removed
    for (const d of past[i]!) {
      const dop = ops[d]!;
      if (dop.kind !== "delete" || dop.key !== op.key || dop.lost) continue;
      for (const g of got) if (past[d]!.has(g)) fail(`read #${i} (${op.session}) on ${op.key} returned write #${g}, which delete #${d} (${dop.session}) in its causal past removed`);
    }
    const deletes = deletesOf.get(op.key) ?? [];
    // 3. reflects its causal past
    for (const w of past[i]!) {
      if (ops[w]!.kind !== "write") continue;
      const wo = ops[w] as CausalWrite;
      // A write whose reply was lost need not have happened; required only once observed.
      if (wo.key !== op.key || (!wo.dot && ![...resolved.values()].includes(w))) continue;
      pastWritesChecked++;
      if (got.includes(w) || got.some((g) => past[g]!.has(w))) continue;
      if (deletes.some((d) => past[d]!.has(w) && !afterRead(d, i))) continue;
      fail(`read #${i} (${op.session}) on ${op.key} does not reflect write #${w} (${wo.session}: ${wo.value}) that happened before it`);
    }
    if (op.final) {
      const sig = [...op.siblings].map((s) => `${s.writer}:${s.counter}=${s.value}`).sort().join(",");
      const prev = finals.get(op.key);
      if (prev && prev.sig !== sig) fail(`final reads #${prev.i} and #${i} of ${op.key} disagree: [${prev.sig}] vs [${sig}]`);
      if (!prev) finals.set(op.key, { i, sig });
    }
  });
  const writes = ops.filter((o) => o.kind === "write").length;
  const deletes = ops.filter((o) => o.kind === "delete").length;
  return { ok: violations.length === 0, violations, reads, writes, deletes, pastWritesChecked };
}
