// The storage seam of the Raft core. The core only reads (LogReader); the
// caller writes what a Ready asks for and calls sync() before sending any
// message of that Ready. Implementations: MemoryStorage (simulation; models
// lost unsynced writes, torn last write and slow fsync) and WalStorage
// (segment files with CRC32 per record, group-committed fsync).

import type { ConfState, Entry, HardState, Snapshot } from "../types";

/** Read side used by the Raft log. Indexes are 1-based; index 0 is the empty log. */
export interface LogReader {
  /** Hard state and membership at open (membership from the latest snapshot). */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if any, at most `bytesMax` bytes beyond the first. */
  entries(lo: number, hi: number, bytesMax: number): Entry[];
  /** Term of entry i for firstIndex()-1 <= i <= lastIndex(); undefined otherwise. */
  term(i: number): number | undefined;
  /** Index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** Write side: writes are visible to reads at once, durable after sync(). */
export interface RaftStorage extends LogReader {
  /** Appends entries, replacing any existing suffix from entries[0].index. */
  append(entries: readonly Entry[]): void;
  setHardState(hs: HardState): void;
  /** Replaces the whole log by a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void;
  /** Records a snapshot the local state machine took at `index` (<= applied) and compacts the log to it. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot;
  /** Resolves once every earlier write is durable. Concurrent calls share one fsync. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export class StorageError extends Error {
  constructor(
    readonly code: "compacted" | "unavailable" | "corrupt" | "closed" | "invalid",
    message: string,
  ) {
    super(`raft storage: ${message}`);
    this.name = "StorageError";
  }
}
