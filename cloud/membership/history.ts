// Bounded history of detections and recoveries, kept in memory by each node
// and served by the operator API. Oldest entries are dropped first.

import type { HistoryEntry, HistoryKind } from "./types";

export const HISTORY_ENTRIES_MAX_DEFAULT = 1000;

export class RecoveryHistory {
  readonly entriesMax: number;
  readonly nodeId: string;
  // Invariant: #entries.length <= entriesMax; ids strictly increase.
  #entries: HistoryEntry[] = [];
  #nextId = 1;
  /** Remote entries already ingested (dedup); invariant: size <= 2 * entriesMax, oldest evicted. */
  readonly #seenRemote = new Set<string>();
  #dropped = 0;
  readonly #listeners = new Set<(e: HistoryEntry) => void>();

  constructor(nodeId: string, entriesMax = HISTORY_ENTRIES_MAX_DEFAULT, readonly nowMs: () => number = Date.now) {
    if (!Number.isSafeInteger(entriesMax) || entriesMax < 1) throw new RangeError(`history entriesMax must be a positive integer, got ${entriesMax}`);
    this.entriesMax = entriesMax;
    this.nodeId = nodeId;
  }

  get dropped(): number {
    return this.#dropped;
  }

  record(kind: HistoryKind, subject: string, action: string, detail: Record<string, unknown> = {}, atMs = this.nowMs()): HistoryEntry {
    const id = this.#nextId++;
    return this.#push({ id, originId: id, atMs, kind, recordedBy: this.nodeId, subject, action, detail });
  }

  /** Adds an entry recorded by another node (received on xsfleet.v1.cluster.recovery.>); duplicates are ignored. */
  ingest(remote: Omit<HistoryEntry, "id">): HistoryEntry | undefined {
    if (remote.recordedBy === this.nodeId) return undefined;
    // A restarted recorder starts its ids over: the time tells its entries apart.
    const key = `${remote.recordedBy}#${remote.originId}#${remote.atMs}`;
    if (this.#seenRemote.has(key)) return undefined;
    if (this.#seenRemote.size >= 2 * this.entriesMax) this.#seenRemote.delete(this.#seenRemote.values().next().value as string);
    this.#seenRemote.add(key);
    return this.#push({ ...remote, id: this.#nextId++ });
  }

  #push(entry: HistoryEntry): HistoryEntry {
    if (this.#entries.length >= this.entriesMax) {
      this.#entries.shift();
      this.#dropped++;
    }
    this.#entries.push(entry);
    for (const l of this.#listeners) l(entry);
    return entry;
  }

  /** Entries with id > afterId, oldest first, at most `limit`, optionally of one kind. */
  list(opts: { afterId?: number; limit?: number; kind?: HistoryKind } = {}): HistoryEntry[] {
    const limit = Math.min(opts.limit ?? this.entriesMax, this.entriesMax);
    const out: HistoryEntry[] = [];
    for (const e of this.#entries) {
      if (e.id <= (opts.afterId ?? 0)) continue;
      if (opts.kind !== undefined && e.kind !== opts.kind) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  onRecord(listener: (e: HistoryEntry) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
