// In-memory log + snapshot + hard state, shared by MemoryStorage and
// WalStorage (which keeps the whole uncompacted log in memory for reads and
// the WAL for durability).

import { EMPTY_HARD_STATE, EMPTY_SNAPSHOT, assert } from "../types";
import type { ConfState, Entry, HardState, Snapshot } from "../types";
import { StorageError } from "./types";

export class LogState {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: Snapshot = EMPTY_SNAPSHOT;
  /**
   * entries[0] is a dummy holding the snapshot index and term.
   * Invariant: entries[i].index == entries[0].index + i.
   */
  entries: Entry[] = [dummy(0, 0)];

  static withConfState(cs: ConfState): LogState {
    const s = new LogState();
    s.snapshot = { metadata: { index: 0, term: 0, confState: cs }, data: new Uint8Array(0) };
    return s;
  }

  clone(): LogState {
    const s = new LogState();
    s.hardState = this.hardState;
    s.snapshot = this.snapshot;
    s.entries = this.entries.slice();
    return s;
  }

  offset(): number {
    return this.entries[0]!.index;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.entries.length - 1;
  }

  term(i: number): number | undefined {
    const off = this.offset();
    if (i < off || i > this.lastIndex()) return undefined;
    return this.entries[i - off]!.term;
  }

  slice(lo: number, hi: number, bytesMax: number): Entry[] {
    const off = this.offset();
    if (lo <= off) throw new StorageError("compacted", `entries from ${lo} compacted (first ${off + 1})`);
    if (hi > this.lastIndex() + 1) throw new StorageError("unavailable", `entries to ${hi - 1} beyond last ${this.lastIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.entries[i - off]!;
      bytes += e.data.byteLength + 24;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(e);
    }
    return out;
  }

  append(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const first = ents[0]!.index;
    for (let i = 1; i < ents.length; i++) {
      assert(ents[i]!.index === first + i, `appended entries not contiguous at ${ents[i]!.index}`);
    }
    const off = this.offset();
    if (first + ents.length - 1 <= off) return; // entirely compacted: already in the snapshot
    let from = ents;
    if (first <= off) from = ents.slice(off + 1 - first);
    const start = from[0]!.index;
    if (start > this.lastIndex() + 1) {
      throw new StorageError("invalid", `append at ${start} leaves a gap after ${this.lastIndex()}`);
    }
    this.entries.length = start - off;
    for (const e of from) this.entries.push(e);
  }

  applySnapshot(snap: Snapshot): void {
    const idx = snap.metadata.index;
    if (idx <= this.snapshot.metadata.index && this.snapshot.metadata.index > 0) {
      throw new StorageError("invalid", `snapshot ${idx} is older than ${this.snapshot.metadata.index}`);
    }
    this.snapshot = snap;
    this.entries = [dummy(idx, snap.metadata.term)];
  }

  createSnapshot(index: number, cs: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snapshot.metadata.index) {
      throw new StorageError("invalid", `snapshot ${index} not newer than ${this.snapshot.metadata.index}`);
    }
    const term = this.term(index);
    if (term === undefined) throw new StorageError("unavailable", `snapshot index ${index} not in log`);
    this.snapshot = { metadata: { index, term, confState: cs }, data };
    this.compact(index);
    return this.snapshot;
  }

  compact(index: number): void {
    const off = this.offset();
    if (index <= off) return;
    assert(index <= this.lastIndex(), `compact ${index} beyond last ${this.lastIndex()}`);
    const e = this.entries[index - off]!;
    this.entries = [dummy(e.index, e.term), ...this.entries.slice(index - off + 1)];
  }
}

function dummy(index: number, term: number): Entry {
  return { index, term, type: 0, data: new Uint8Array(0) };
}
