// One simulated server: RawNode + in-memory "disk" + the KV state machine
// behind client sessions. It follows the Ready discipline exactly: write, wait for the
// (possibly slow) fsync, then send, apply and advance. A crash throws away
// everything not synced (optionally keeping a torn prefix).

import type { KvInput } from "../../check/lincheck";
import { contextKey } from "../read-only";
import { RawNode } from "../rawnode";
import type { Ready } from "../rawnode";
import { MemoryStorage } from "../storage/memory";
import { ConfChangeType, EntryType, StateType, decodeConfChange } from "../types";
import type { Entry, Message, NodeId, ProposalError, RaftConfig } from "../types";
import type { Invariants } from "./invariants";
import { KvStateMachine, decodeKvRequest, encodeKvRequest, type KvReply } from "./kv";
import type { SimNetwork } from "./network";
import type { Prng } from "../../base";

export type CommandWaiter = (r: KvReply) => void;
export type ReadWaiter = (value: string | null) => void;

export interface NodeParams {
  readonly raft: Omit<RaftConfig, "id" | "random" | "applied">;
  /** Compact the log once this many applied entries are above the snapshot (0 = never). */
  readonly compactEntries: number;
  readonly sessionsMax: number;
  readonly sessionTtlMs: number;
}

export class SimNode {
  readonly id: NodeId;
  readonly #params: NodeParams;
  readonly #rng: Prng;
  readonly #inv: Invariants;
  storage: MemoryStorage;
  raw!: RawNode;
  kv!: KvStateMachine;
  up = true;
  appliedIndex = 0;
  /** A Ready written to storage, waiting for its fsync to complete at `doneAt`. */
  #pending: { rd: Ready; doneAt: number } | undefined;
  diskSlowUntilMs = 0;
  #commands = new Map<string, CommandWaiter>();
  #reads = new Map<string, { key: string; waiter: ReadWaiter }>();
  #readyReads: { index: number; key: string; waiter: ReadWaiter }[] = [];
  readonly tickPhaseMs: number;
  crashes = 0;
  /** Fault injection: crash right after the next Ready is written, before its fsync. */
  crashOnNextWrite = false;
  /** Crashes that lost at least one unsynced write. */
  lostWriteCrashes = 0;
  snapshotsTaken = 0;
  snapshotsInstalled = 0;

  /** Called when this node applies a committed RemoveNode. */
  onRemoveApplied: (id: NodeId) => void = () => {};

  constructor(id: NodeId, storage: MemoryStorage, params: NodeParams, rng: Prng, inv: Invariants, tickMs: number) {
    this.id = id;
    this.storage = storage;
    this.#params = params;
    this.#rng = rng;
    this.#inv = inv;
    this.tickPhaseMs = rng.int(tickMs);
    this.#boot();
  }

  #boot(): void {
    this.kv = new KvStateMachine({ sessionsMax: this.#params.sessionsMax, sessionTtlMs: this.#params.sessionTtlMs });
    const snap = this.storage.snapshot();
    if (snap.metadata.index > 0) this.kv.restore(snap.data);
    this.appliedIndex = snap.metadata.index;
    const rng = this.#rng.fork();
    this.raw = new RawNode(
      { ...this.#params.raft, id: this.id, random: (n) => rng.int(n), applied: this.appliedIndex },
      this.storage,
    );
  }

  crash(): void {
    if (!this.up) return;
    this.up = false;
    this.crashes++;
    const keepOps = this.#rng.int(this.storage.unsyncedWrites + 1);
    if (keepOps < this.storage.unsyncedWrites) this.lostWriteCrashes++;
    this.storage = this.storage.crash({ keepOps, tornEntries: this.#rng.int(3) });
    this.#pending = undefined;
    this.#commands.clear();
    this.#reads.clear();
    this.#readyReads = [];
  }

  restart(): void {
    if (this.up) return;
    this.crashOnNextWrite = false;
    this.#boot();
    this.up = true;
  }

  isLeader(): boolean {
    return this.up && this.raw.raft.state === StateType.Leader;
  }

  step(m: Message): void {
    if (this.up) this.raw.step(m);
  }

  tick(): void {
    if (this.up) this.raw.tick();
  }

  command(clientId: string, seq: number, input: KvInput, nowMs: number, waiter: CommandWaiter): ProposalError | undefined {
    const data = encodeKvRequest({ clientId, seq, timeMs: nowMs, input });
    const res = this.raw.propose(data);
    if (!res.ok) return res.error;
    this.#commands.set(`${clientId}:${seq}`, waiter);
    return undefined;
  }

  read(key: string, ctx: Uint8Array, waiter: ReadWaiter): ProposalError | undefined {
    const res = this.raw.readIndex(ctx);
    if (!res.ok) return res.error;
    this.#reads.set(contextKey(ctx), { key, waiter });
    return undefined;
  }

  /** Drives the Ready loop at time `nowMs`. */
  process(nowMs: number, net: SimNetwork): void {
    for (let round = 0; round < 4 && this.up; round++) {
      if (this.#pending) {
        if (nowMs < this.#pending.doneAt) return;
        this.#complete(nowMs, net);
        continue;
      }
      if (!this.raw.hasReady()) return;
      const rd = this.raw.ready();
      if (rd.snapshot) this.storage.applySnapshot(rd.snapshot);
      if (rd.entries.length > 0) this.storage.append(rd.entries);
      if (rd.hardState) this.storage.setHardState(rd.hardState);
      if (this.crashOnNextWrite) {
        // Power loss between write and fsync.
        this.crashOnNextWrite = false;
        this.crash();
        return;
      }
      const slow = nowMs < this.diskSlowUntilMs;
      const delay = slow ? this.#rng.range(10, 60) : this.#rng.chance(0.3) ? 0 : this.#rng.range(1, 4);
      this.#pending = { rd, doneAt: nowMs + delay };
    }
  }

  #complete(nowMs: number, net: SimNetwork): void {
    const rd = this.#pending!.rd;
    this.#pending = undefined;
    this.storage.syncNow();
    const first = this.storage.firstIndex();
    const persisted = rd.entries.filter((e) => e.index >= first);
    this.#inv.onPersist(this.id, persisted, (i) => this.storage.term(i));
    // Durable: now the messages may leave.
    for (const m of rd.messages) net.send(nowMs, m);
    if (rd.snapshot) {
      this.#inv.onSnapshot(this.id, rd.snapshot.metadata.index, rd.snapshot.metadata.term);
      this.kv.restore(rd.snapshot.data);
      this.appliedIndex = rd.snapshot.metadata.index;
      this.snapshotsInstalled++;
    }
    for (const e of rd.committedEntries) this.#apply(e);
    for (const rs of rd.readStates) {
      const k = contextKey(rs.context);
      const req = this.#reads.get(k);
      if (!req) continue;
      this.#reads.delete(k);
      this.#readyReads.push({ index: rs.index, key: req.key, waiter: req.waiter });
    }
    this.raw.advance(rd);
    this.#serveReads();
    this.#maybeCompact();
  }

  #apply(e: Entry): void {
    if (e.index <= this.appliedIndex) return;
    if (e.index !== this.appliedIndex + 1) throw new Error(`node ${this.id}: applying ${e.index} after ${this.appliedIndex}`);
    this.#inv.onApply(this.id, e);
    this.appliedIndex = e.index;
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      if (cc.type === ConfChangeType.RemoveNode) this.onRemoveApplied(cc.nodeId);
      return;
    }
    if (e.data.byteLength === 0) return; // a new leader's empty entry
    const out = this.kv.apply(e);
    const req = decodeKvRequest(e.data);
    const k = `${req.clientId}:${req.seq}`;
    const w = this.#commands.get(k);
    if (w) {
      this.#commands.delete(k);
      w(out);
    }
  }

  #serveReads(): void {
    if (this.#readyReads.length === 0) return;
    const still: { index: number; key: string; waiter: ReadWaiter }[] = [];
    for (const r of this.#readyReads) {
      // Linearizable: serve only once the state machine caught up to the read index.
      if (r.index <= this.appliedIndex) r.waiter(this.kv.read(r.key));
      else still.push(r);
    }
    this.#readyReads = still;
  }

  #maybeCompact(): void {
    const every = this.#params.compactEntries;
    if (every === 0) return;
    const snapIndex = this.storage.snapshot().metadata.index;
    if (this.appliedIndex - snapIndex < every) return;
    if (this.appliedIndex > this.storage.lastIndex()) return;
    this.storage.createSnapshot(this.appliedIndex, this.raw.raft.confState(), this.kv.snapshot());
    this.snapshotsTaken++;
  }
}
