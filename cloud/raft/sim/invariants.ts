// Safety invariants of Raft (Figure 3 of the paper), checked incrementally
// as the simulation runs, so a violation is reported at the step it happens.
//
//   Election safety:      at most one leader per term.
//   Log matching:         same (index, term) => same entry and same history;
//                         checked inductively: same (index, term) => same
//                         data and same term at index - 1.
//   Leader completeness:  an entry applied anywhere is in every later leader's log.
//   State machine safety: no two nodes apply different entries at one index.

import type { Entry, NodeId } from "../types";

export class InvariantViolation extends Error {
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = "InvariantViolation";
  }
}

export function entryHash(e: Entry): number {
  let h = 0x811c9dc5 ^ e.type;
  for (const b of e.data) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export interface LeaderView {
  readonly id: NodeId;
  readonly term: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  termAt(i: number): number | undefined;
}

export class Invariants {
  readonly leaders = new Map<number, NodeId>();
  readonly #entries = new Map<string, { hash: number; prevTerm: number }>();
  readonly #applied = new Map<number, { term: number; hash: number; by: NodeId }>();
  maxApplied = 0;
  checks = 0;

  /** Election safety, and leader completeness when a node is first seen leading `term`. */
  onLeader(v: LeaderView): void {
    this.checks++;
    const known = this.leaders.get(v.term);
    if (known !== undefined) {
      if (known !== v.id) throw new InvariantViolation(`election safety: nodes ${known} and ${v.id} both lead term ${v.term}`);
      return;
    }
    this.leaders.set(v.term, v.id);
    for (let i = Math.max(v.firstIndex, 1); i <= this.maxApplied; i++) {
      const a = this.#applied.get(i);
      if (!a) continue;
      const t = v.termAt(i);
      if (t !== a.term) {
        throw new InvariantViolation(
          `leader completeness: leader ${v.id} of term ${v.term} has term ${t} at index ${i}, but node ${a.by} applied term ${a.term} there`,
        );
      }
    }
  }

  /** Log matching, for entries a node just made durable. */
  onPersist(id: NodeId, entries: readonly Entry[], termBefore: (index: number) => number | undefined): void {
    let prevTerm = entries.length > 0 ? termBefore(entries[0]!.index - 1) : undefined;
    for (const e of entries) {
      this.checks++;
      const k = `${e.index}:${e.term}`;
      const h = entryHash(e);
      const seen = this.#entries.get(k);
      if (prevTerm === undefined) throw new InvariantViolation(`node ${id} persisted ${k} without a known predecessor`);
      if (!seen) this.#entries.set(k, { hash: h, prevTerm });
      else if (seen.hash !== h || seen.prevTerm !== prevTerm) {
        throw new InvariantViolation(
          `log matching: node ${id} has entry ${k} (hash ${h}, prev term ${prevTerm}) but another node has (hash ${seen.hash}, prev term ${seen.prevTerm})`,
        );
      }
      prevTerm = e.term;
    }
  }

  /** State machine safety. */
  onApply(id: NodeId, e: Entry): void {
    this.checks++;
    const a = this.#applied.get(e.index);
    const h = entryHash(e);
    if (!a) {
      this.#applied.set(e.index, { term: e.term, hash: h, by: id });
      if (e.index > this.maxApplied) this.maxApplied = e.index;
      return;
    }
    if (a.term !== e.term || a.hash !== h) {
      throw new InvariantViolation(
        `state machine safety: node ${id} applied ${e.index}:${e.term} but node ${a.by} applied ${e.index}:${a.term} (different entry)`,
      );
    }
  }

  /** A snapshot at (index, term) must agree with what was applied there. */
  onSnapshot(id: NodeId, index: number, term: number): void {
    const a = this.#applied.get(index);
    if (a && a.term !== term) {
      throw new InvariantViolation(`node ${id} installed snapshot ${index}:${term} but ${a.by} applied ${index}:${a.term}`);
    }
  }
}
