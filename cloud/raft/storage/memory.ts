// In-memory storage for tests and the deterministic simulation. Writes go to
// the visible state at once and are queued as "unsynced" until sync(); a
// simulated crash keeps only the durable state plus (optionally) a prefix of
// the unsynced writes, the last of which may be torn (a prefix of its
// entries). Slow fsync is modelled by the caller deciding when syncNow() runs.

import type { ConfState, Entry, HardState, Snapshot } from "../types";
import { LogState } from "./log-state";
import { StorageError } from "./types";
import type { RaftStorage } from "./types";

type Op =
  | { kind: "append"; entries: readonly Entry[] }
  | { kind: "hardState"; hardState: HardState }
  | { kind: "applySnapshot"; snapshot: Snapshot }
  | { kind: "createSnapshot"; index: number; confState: ConfState; data: Uint8Array };

export interface CrashOptions {
  /** Unsynced writes that made it to disk anyway (a prefix, in order). */
  keepOps: number;
  /** If the next write after the kept ones is an append, keep this many of its entries (torn write). */
  tornEntries: number;
}

export class MemoryStorage implements RaftStorage {
  #visible: LogState;
  #durable: LogState;
  #unsynced: Op[] = [];
  #closed = false;

  /** Simulated fsync latency of sync() (syncNow() is instant; the simulator schedules it itself). */
  syncLatencyMs: number;

  constructor(initial?: { confState?: ConfState; durable?: LogState; syncLatencyMs?: number }) {
    this.syncLatencyMs = initial?.syncLatencyMs ?? 0;
    const base = initial?.durable ?? (initial?.confState ? LogState.withConfState(initial.confState) : new LogState());
    this.#durable = base;
    this.#visible = base.clone();
  }

  /** Raft bootstrap by log entries (etcd style): committed AddNode entries at term 1. */
  static bootstrap(entries: readonly Entry[]): MemoryStorage {
    const s = new LogState();
    s.append(entries);
    s.hardState = { term: 1, vote: 0, commit: entries.length };
    return new MemoryStorage({ durable: s });
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.#visible.hardState, confState: this.#visible.snapshot.metadata.confState };
  }
  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    return this.#visible.slice(lo, hi, bytesMax);
  }
  term(i: number): number | undefined {
    return this.#visible.term(i);
  }
  firstIndex(): number {
    return this.#visible.firstIndex();
  }
  lastIndex(): number {
    return this.#visible.lastIndex();
  }
  snapshot(): Snapshot {
    return this.#visible.snapshot;
  }

  append(entries: readonly Entry[]): void {
    this.#write({ kind: "append", entries: entries.slice() });
  }
  setHardState(hs: HardState): void {
    this.#write({ kind: "hardState", hardState: hs });
  }
  applySnapshot(snap: Snapshot): void {
    this.#write({ kind: "applySnapshot", snapshot: snap });
  }
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    this.#write({ kind: "createSnapshot", index, confState, data });
    return this.#visible.snapshot;
  }

  async sync(): Promise<void> {
    // Everything written before the call is covered, even if more is written while we "wait".
    const upTo = this.#unsynced.length;
    if (this.syncLatencyMs > 0) await new Promise((r) => setTimeout(r, this.syncLatencyMs));
    if (this.#closed) throw new StorageError("closed", "memory storage crashed during sync");
    this.#syncFirst(upTo);
  }

  /** Makes every write so far durable (synchronous, for the simulator). */
  syncNow(): void {
    this.#checkOpen();
    this.#syncFirst(this.#unsynced.length);
  }

  #syncFirst(n: number): void {
    for (const op of this.#unsynced.slice(0, n)) applyOp(this.#durable, op);
    this.#unsynced = this.#unsynced.slice(n);
  }

  get unsyncedWrites(): number {
    return this.#unsynced.length;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /**
   * Simulates power loss: returns the storage a restarted process would see.
   * This instance becomes unusable.
   */
  crash(opts: CrashOptions = { keepOps: 0, tornEntries: 0 }): MemoryStorage {
    this.#closed = true;
    const state = this.#durable.clone();
    const keep = Math.min(opts.keepOps, this.#unsynced.length);
    for (let i = 0; i < keep; i++) applyOp(state, this.#unsynced[i]!);
    const next = this.#unsynced[keep];
    if (next !== undefined && next.kind === "append" && opts.tornEntries > 0) {
      applyOp(state, { kind: "append", entries: next.entries.slice(0, opts.tornEntries) });
    }
    return new MemoryStorage({ durable: state });
  }

  #write(op: Op): void {
    this.#checkOpen();
    applyOp(this.#visible, op);
    this.#unsynced.push(op);
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError("closed", "memory storage is closed (crashed)");
  }
}

function applyOp(s: LogState, op: Op): void {
  switch (op.kind) {
    case "append":
      s.append(op.entries);
      return;
    case "hardState":
      s.hardState = op.hardState;
      return;
    case "applySnapshot":
      s.applySnapshot(op.snapshot);
      return;
    case "createSnapshot":
      s.createSnapshot(op.index, op.confState, op.data);
      return;
  }
}
