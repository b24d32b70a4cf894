// The Raft log as the core sees it: stable entries (in storage) followed by
// unstable ones (appended, not yet persisted), plus commit/applied cursors.
//
// Invariants:
//   snapshotIndex <= applied <= applying <= committed <= lastIndex
//   unstable.entries[i].index == unstable.offset + i
//   unstable.snapshot, if any, has index == unstable.offset - 1

import type { LogReader } from "./storage/types";
import { assert } from "./types";
import type { Entry, Snapshot } from "./types";

export class RaftLog {
  readonly storage: LogReader;
  committed: number;
  /** Highest index the application confirmed applied (advance()). */
  applied: number;
  /** Highest index handed to the application, not yet confirmed. */
  applying: number;
  unstableSnapshot: Snapshot | undefined = undefined;
  unstableEntries: Entry[] = [];
  unstableOffset: number;

  constructor(storage: LogReader, applied: number) {
    this.storage = storage;
    const first = storage.firstIndex();
    const { hardState } = storage.initialState();
    this.unstableOffset = storage.lastIndex() + 1;
    this.committed = Math.max(hardState.commit, first - 1);
    this.applied = Math.max(first - 1, Math.min(applied, this.committed));
    this.applying = this.applied;
    assert(this.committed <= this.lastIndex(), `commit ${this.committed} beyond last index ${this.lastIndex()}`);
  }

  firstIndex(): number {
    if (this.unstableSnapshot) return this.unstableSnapshot.metadata.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstableEntries.length > 0) return this.unstableOffset + this.unstableEntries.length - 1;
    if (this.unstableSnapshot) return this.unstableSnapshot.metadata.index;
    return this.storage.lastIndex();
  }

  /** Term of entry i, or undefined when compacted or beyond the log. */
  term(i: number): number | undefined {
    if (i === 0) return 0;
    if (i >= this.unstableOffset) {
      const e = this.unstableEntries[i - this.unstableOffset];
      return e?.term;
    }
    if (this.unstableSnapshot) {
      if (i === this.unstableSnapshot.metadata.index) return this.unstableSnapshot.metadata.term;
      return undefined;
    }
    return this.storage.term(i);
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, `term of last index ${this.lastIndex()} unknown`);
    return t;
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** §5.4.1: is (lastIndex, lastTerm) at least as up to date as our log? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Follower side of AppendEntries: if our entry at `index` has `logTerm`,
   * append `ents` (dropping the conflicting suffix) and commit up to
   * min(leaderCommit, last new index). Returns the last new index or undefined.
   */
  maybeAppend(index: number, logTerm: number, leaderCommit: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(ci > this.committed, `entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** First index whose term differs from ours (or that we lack); 0 if none. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Largest index <= `index` whose term is <= `term`, with that term: the
   * fast log-repair hint (etcd findConflictByTerm).
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (let i = index; i >= 0; i--) {
      const t = this.term(i);
      if (t === undefined) return [i, 0];
      if (t <= term) return [i, t];
    }
    return [0, 0];
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    assert(after >= this.committed, `append after ${after} would overwrite committed ${this.committed}`);
    assert(after <= this.lastIndex(), `append after ${after} leaves a gap after ${this.lastIndex()}`);
    if (after + 1 === this.unstableOffset + this.unstableEntries.length) {
      this.unstableEntries.push(...ents);
    } else if (after + 1 <= this.unstableOffset) {
      // Replaces everything unstable (and the stable suffix, which storage truncates on append).
      this.unstableOffset = after + 1;
      this.unstableEntries = ents.slice();
    } else {
      this.unstableEntries = this.unstableEntries.slice(0, after + 1 - this.unstableOffset).concat(ents);
    }
    return this.lastIndex();
  }

  /** Entries [lo, lastIndex], at most bytesMax (at least one); undefined if lo is compacted. */
  entriesFrom(lo: number, bytesMax: number): Entry[] | undefined {
    if (lo > this.lastIndex()) return [];
    return this.slice(lo, this.lastIndex() + 1, bytesMax);
  }

  slice(lo: number, hi: number, bytesMax: number): Entry[] | undefined {
    assert(lo <= hi, `slice ${lo} > ${hi}`);
    if (lo < this.firstIndex()) return undefined;
    assert(hi <= this.lastIndex() + 1, `slice to ${hi} beyond last ${this.lastIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    if (lo < this.unstableOffset) {
      const stableHi = Math.min(hi, this.unstableOffset);
      const stable = this.storage.entries(lo, stableHi, bytesMax);
      for (const e of stable) bytes += e.data.byteLength + 24;
      out.push(...stable);
      if (stable.length < stableHi - lo) return out; // byte limit hit
    }
    for (let i = Math.max(lo, this.unstableOffset); i < hi; i++) {
      const e = this.unstableEntries[i - this.unstableOffset]!;
      bytes += e.data.byteLength + 24;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(e);
    }
    return out;
  }

  commitTo(to: number): void {
    if (to <= this.committed) return;
    assert(to <= this.lastIndex(), `commit ${to} beyond last index ${this.lastIndex()}`);
    this.committed = to;
  }

  /** §5.4.2: commit only by counting entries of the current term. */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  /** Committed entries not yet handed to the application. */
  nextCommittedEntries(bytesMax: number): Entry[] {
    if (this.applying >= this.committed) return [];
    return this.slice(this.applying + 1, this.committed + 1, bytesMax) ?? [];
  }

  hasNextCommittedEntries(): boolean {
    return this.applying < this.committed && this.applying + 1 >= this.firstIndex();
  }

  acceptApplying(to: number): void {
    assert(to <= this.committed, `applying ${to} beyond committed ${this.committed}`);
    this.applying = Math.max(this.applying, to);
  }

  appliedTo(i: number): void {
    // A snapshot restored meanwhile may already have moved applied past i.
    if (i <= this.applied) return;
    assert(i <= this.committed, `applied ${i} beyond committed ${this.committed}`);
    this.applied = i;
    this.applying = Math.max(this.applying, i);
  }

  /** Entries [unstableOffset, index] with term `term` are now durable. */
  stableTo(index: number, term: number): void {
    if (index < this.unstableOffset) return;
    if (this.term(index) !== term) return; // replaced meanwhile; persisted again next Ready
    const n = index + 1 - this.unstableOffset;
    this.unstableEntries = this.unstableEntries.slice(n);
    this.unstableOffset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.unstableSnapshot && this.unstableSnapshot.metadata.index === index) this.unstableSnapshot = undefined;
  }

  /** Snapshot the leader sends (the pending unstable one or the stored one). */
  snapshot(): Snapshot {
    return this.unstableSnapshot ?? this.storage.snapshot();
  }

  /** Follower installs a snapshot from the leader: the whole log is replaced. */
  restore(snap: Snapshot): void {
    const idx = snap.metadata.index;
    assert(idx > this.committed, `restoring snapshot ${idx} at or below commit ${this.committed}`);
    this.committed = idx;
    this.applied = Math.max(this.applied, idx);
    this.applying = Math.max(this.applying, idx);
    this.unstableOffset = idx + 1;
    this.unstableEntries = [];
    this.unstableSnapshot = snap;
  }
}
