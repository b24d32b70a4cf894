// RaftNode: the I/O loop around the pure core. One async loop owns the
// RawNode: it counts timer ticks, steps queued network messages, then for
// each Ready persists (and awaits fsync), sends, applies and advances. Timer
// and socket callbacks only queue work and wake the loop.
//
// Proposals are wrapped in an envelope [0xE1][proposer u32][request f64] so
// the proposing node can hand the state machine's response back to its
// caller; the state machine sees the payload only.

import { contextKey } from "./read-only";
import { RawNode } from "./rawnode";
import type { Ready, Status } from "./rawnode";
import type { StateMachine } from "./session";
import type { RaftStorage } from "./storage/types";
import type { RaftTransport } from "./transport/types";
import { EntryType } from "./types";
import type { ConfChange, Entry, NodeId, RaftConfig, RandomInt } from "./types";

const ENVELOPE_MAGIC = 0xe1;
const ENVELOPE_BYTES = 13;

export class RaftNodeError extends Error {
  constructor(
    readonly code: "not-leader" | "dropped" | "timeout" | "stopped" | "busy" | "rejected",
    message: string,
  ) {
    super(`raft node: ${message}`);
    this.name = "RaftNodeError";
  }
}

export interface RaftNodeOptions {
  readonly raft: Omit<RaftConfig, "random" | "applied"> & { readonly random?: RandomInt };
  readonly storage: RaftStorage;
  readonly transport: RaftTransport;
  readonly stateMachine: StateMachine;
  readonly tickMs: number;
  /** A proposal not applied within this time fails with "timeout" (its outcome is unknown). */
  readonly proposalTimeoutMs?: number;
  readonly pendingProposalsMax?: number;
  /** Take a snapshot and compact once this many entries were applied since the last one (0 = never). */
  readonly snapshotEntries?: number;
  readonly onError?: (err: Error) => void;
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Network messages stepped per loop iteration, so ticks are never starved. */
const RECEIVE_BATCH_MAX = 512;

export class RaftNode {
  readonly id: NodeId;
  readonly #raw: RawNode;
  readonly #storage: RaftStorage;
  readonly #transport: RaftTransport;
  readonly #sm: StateMachine;
  readonly #opts: RaftNodeOptions;
  #applied: number;
  #pendingTicks = 0;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #poked = false;
  #running = true;
  #loop: Promise<void>;
  #requestSeq = 0;
  #proposals = new Map<number, Waiter<Uint8Array>>();
  #reads = new Map<string, Waiter<void>>();
  #readyReads: { index: number; key: string }[] = [];
  #failure: Error | undefined;

  constructor(opts: RaftNodeOptions) {
    if (!(opts.tickMs > 0)) throw new Error(`raft node: tickMs must be > 0, got ${opts.tickMs}`);
    this.id = opts.raft.id;
    this.#opts = opts;
    this.#storage = opts.storage;
    this.#transport = opts.transport;
    this.#sm = opts.stateMachine;
    const snap = opts.storage.snapshot();
    if (snap.metadata.index > 0) this.#sm.restore(snap.data);
    this.#applied = snap.metadata.index;
    const random = opts.raft.random ?? ((n: number) => Math.floor(Math.random() * n));
    this.#raw = new RawNode({ ...opts.raft, random, applied: this.#applied }, opts.storage);
    this.#transport.onReceive(() => this.#poke());
    this.#timer = setInterval(() => {
      this.#pendingTicks++;
      this.#poke();
    }, opts.tickMs);
    this.#loop = this.#run();
  }

  get applied(): number {
    return this.#applied;
  }

  status(): Status {
    return this.#raw.status();
  }

  /** Proposes `data`; resolves with the state machine's response once applied here. */
  propose(data: Uint8Array): Promise<Uint8Array> {
    this.#checkRunning();
    const max = this.#opts.pendingProposalsMax ?? 10_000;
    if (this.#proposals.size >= max) return Promise.reject(new RaftNodeError("busy", `${max} proposals pending`));
    const req = ++this.#requestSeq;
    const env = new Uint8Array(ENVELOPE_BYTES + data.byteLength);
    const v = new DataView(env.buffer);
    v.setUint8(0, ENVELOPE_MAGIC);
    v.setUint32(1, this.id);
    v.setFloat64(5, req);
    env.set(data, ENVELOPE_BYTES);
    return new Promise<Uint8Array>((resolve, reject) => {
      const res = this.#raw.propose(env);
      if (!res.ok) {
        reject(new RaftNodeError(res.error === "not-leader" ? "not-leader" : "dropped", `proposal ${res.error}`));
        return;
      }
      const timer = setTimeout(() => {
        this.#proposals.delete(req);
        reject(new RaftNodeError("timeout", "proposal not applied in time; its outcome is unknown"));
      }, this.#opts.proposalTimeoutMs ?? 5000);
      this.#proposals.set(req, { resolve, reject, timer });
      this.#poke();
    });
  }

  /** Resolves once this node's state machine reflects every write committed before the call (ReadIndex). */
  readBarrier(): Promise<void> {
    this.#checkRunning();
    const ctx = new Uint8Array(12);
    const v = new DataView(ctx.buffer);
    v.setUint32(0, this.id);
    v.setFloat64(4, ++this.#requestSeq);
    const key = contextKey(ctx);
    return new Promise<void>((resolve, reject) => {
      const res = this.#raw.readIndex(ctx);
      if (!res.ok) {
        reject(new RaftNodeError(res.error === "not-leader" ? "not-leader" : "dropped", `read ${res.error}`));
        return;
      }
      const timer = setTimeout(() => {
        this.#reads.delete(key);
        reject(new RaftNodeError("timeout", "read index not confirmed in time"));
      }, this.#opts.proposalTimeoutMs ?? 5000);
      this.#reads.set(key, { resolve, reject, timer });
      this.#poke();
    });
  }

  proposeConfChange(cc: ConfChange): void {
    this.#checkRunning();
    const res = this.#raw.proposeConfChange(cc);
    if (!res.ok) throw new RaftNodeError("rejected", `conf change ${res.error}`);
    this.#poke();
  }

  campaign(): void {
    this.#raw.campaign();
    this.#poke();
  }

  transferLeader(to: NodeId): void {
    this.#raw.transferLeader(to);
    this.#poke();
  }

  async stop(): Promise<void> {
    if (!this.#running) return this.#loop;
    this.#running = false;
    clearInterval(this.#timer);
    this.#poke();
    await this.#loop;
    this.#failAll(new RaftNodeError("stopped", "node stopped"));
    await this.#transport.close();
    await this.#storage.close();
  }

  #checkRunning(): void {
    if (this.#failure) throw this.#failure;
    if (!this.#running) throw new RaftNodeError("stopped", "node stopped");
  }

  /** Wakes the loop; a poke while it is busy is remembered so no wakeup is lost. */
  #poke(): void {
    this.#poked = true;
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async #run(): Promise<void> {
    try {
      while (this.#running) {
        this.#poked = false;
        for (; this.#pendingTicks > 0; this.#pendingTicks--) this.#raw.tick();
        for (const m of this.#transport.receive(RECEIVE_BATCH_MAX)) this.#raw.step(m);
        while (this.#raw.hasReady() && this.#running) await this.#handleReady(this.#raw.ready());
        if (!this.#poked && this.#running) await new Promise<void>((r) => (this.#wake = r));
      }
    } catch (err) {
      // Storage failure or broken invariant: stop rather than risk acting on lost state.
      this.#failure = err as Error;
      this.#running = false;
      clearInterval(this.#timer);
      this.#failAll(this.#failure);
      this.#opts.onError?.(this.#failure);
    }
  }

  async #handleReady(rd: Ready): Promise<void> {
    if (rd.snapshot) this.#storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) this.#storage.append(rd.entries);
    if (rd.hardState) this.#storage.setHardState(rd.hardState);
    // Persist before send: a vote or an ack must survive a crash.
    if (rd.mustSync || rd.hardState) await this.#storage.sync();
    this.#transport.send(rd.messages);
    if (rd.snapshot) {
      this.#sm.restore(rd.snapshot.data);
      this.#applied = rd.snapshot.metadata.index;
    }
    for (const e of rd.committedEntries) this.#apply(e);
    for (const rs of rd.readStates) this.#readyReads.push({ index: rs.index, key: contextKey(rs.context) });
    this.#raw.advance(rd);
    this.#serveReads();
    this.#maybeSnapshot();
  }

  #apply(e: Entry): void {
    if (e.index <= this.#applied) return;
    this.#applied = e.index;
    if (e.type !== EntryType.Normal || e.data.byteLength === 0) return;
    const d = e.data;
    if (d.byteLength < ENVELOPE_BYTES || d[0] !== ENVELOPE_MAGIC) {
      this.#sm.apply(e);
      return;
    }
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const proposer = v.getUint32(1);
    const req = v.getFloat64(5);
    const out = this.#sm.apply({ ...e, data: d.subarray(ENVELOPE_BYTES) });
    if (proposer !== this.id) return;
    const w = this.#proposals.get(req);
    if (!w) return;
    this.#proposals.delete(req);
    clearTimeout(w.timer);
    w.resolve(out);
  }

  #serveReads(): void {
    const still: { index: number; key: string }[] = [];
    for (const r of this.#readyReads) {
      if (r.index > this.#applied) {
        still.push(r);
        continue;
      }
      const w = this.#reads.get(r.key);
      if (!w) continue;
      this.#reads.delete(r.key);
      clearTimeout(w.timer);
      w.resolve();
    }
    this.#readyReads = still;
  }

  #maybeSnapshot(): void {
    const every = this.#opts.snapshotEntries ?? 0;
    if (every === 0) return;
    const snapIndex = this.#storage.snapshot().metadata.index;
    if (this.#applied - snapIndex < every || this.#applied > this.#storage.lastIndex()) return;
    this.#storage.createSnapshot(this.#applied, this.#raw.raft.confState(), this.#sm.snapshot());
  }

  #failAll(err: Error): void {
    for (const w of this.#proposals.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.#proposals.clear();
    for (const w of this.#reads.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.#reads.clear();
  }
}
