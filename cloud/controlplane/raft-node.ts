// The Raft driver: one RawNode, the disk WAL, the NATS transport and the
// control-plane state machine, wired in etcd's order:
//
//   step queued inbound messages, tick, propose queued commands, read-index
//   while hasReady:
//     rd = ready()
//     WAL ← snapshot, entries, hard state; fsync if rd.mustSync   (persist…)
//     transport ← rd.messages                                      (…before send)
//       (a leader in a stable term sends MsgApp/heartbeats first and fsyncs
//       while they travel: §10.2.1, `parallelLeaderAppend`)
//     state machine ← snapshot, committed entries; resolve proposals
//     read states → serve reads once applied ≥ read index
//     advance(rd); snapshot + compact every `snapshotEntries`
//
// Socket callbacks only queue; all Raft work happens in `#run`, one pass at
// a time, so messages that arrive during an fsync are stepped together in
// the next pass (natural group commit). Every queue has a named maximum.
//
// Always on, a few performance.now() readings per proposal and per Ready
// time where a write spends its time here (stage-timings.ts): the service
// hands each request a ProposalClock, the loop fills in when the proposal
// was stepped, its MsgApp written to the socket, the committing ack
// received and stepped, the entry applied; a follower times each MsgApp
// with entries from arrival to its ack. Summaries: status().stages.
//
// Entries proposed here carry a header (node id, incarnation, proposal
// counter) so the node that proposed can match the applied entry to the
// waiting caller; other replicas ignore the header. Incarnation is random per
// process start, so re-applied entries after a restart never match a new
// waiter.

import { randomInt } from "node:crypto";
import { performance } from "node:perf_hooks";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { encodeEnvelope } from "../control";
import { resolveLimits, type ControlLimits } from "../control";
import { ControlStateMachine } from "../control";
import { CONTROL_FORMAT_VERSION, ControlError, failure, type ApplyResult, type Command, type Envelope, type ReadCommand, type SessionRef } from "../control";
import { RawNode, type Ready } from "../raft";
import { WalStorage } from "../raft/storage";
import {
  EntryType, MessageType, NONE, STATE_NAMES, StateType, isEmptySnapshot, message,
  type ConfChange, type ConfState, type Entry, type Message, type NodeId, type RaftLogger,
} from "../raft";
import { NatsRaftTransport } from "./transport";
import { StageTimings, type ProposalClock, type StageObserver, type StageSummary } from "./stage-timings";

export const NODE_LIMITS = {
  /** Proposals queued for the next pass plus those waiting to apply. */
  proposalsPendingMax: 16_384,
  /** Reads waiting for a read index or for apply. */
  readsPendingMax: 16_384,
  /** Entries stepped in one Prop message. */
  proposalBatchMax: 1024,
} as const;

export const NodeError = {
  NotLeader: "not-leader",
  /** The proposal may or may not commit (leadership lost, timeout): retry with the same session. */
  Unknown: "unknown-outcome",
  Overloaded: "overloaded",
  Stopped: "stopped",
  /** A membership change or transfer that raft refused (another pending, unknown node, …). */
  Rejected: "rejected",
} as const;
export type NodeError = (typeof NodeError)[keyof typeof NodeError];

export type NodeOutcome<T> = { ok: true; value: T } | { ok: false; error: NodeError; leader: NodeId; message: string };

export interface RaftNodeOptions {
  readonly id: NodeId;
  /** Raft group name (subject token); all members must agree. */
  readonly group?: string;
  /** Initial voters, used only when the data dir is new. */
  readonly peers: readonly NodeId[];
  /** Initial learners (a node joining an existing cluster lists itself here). */
  readonly learners?: readonly NodeId[];
  readonly dataDir: string;
  readonly nc: NatsConnection;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** Take a snapshot and compact the log after this many applied entries. */
  readonly snapshotEntries?: number;
  /** A proposal or read that has not completed by then fails with unknown-outcome / not-leader. */
  readonly requestTimeoutMs?: number;
  readonly limits?: Partial<ControlLimits>;
  /**
   * Raft thesis §10.2.1 / etcd: a leader whose term and vote are already
   * durable sends its MsgApp/heartbeats before its own fsync completes, so
   * its fsync overlaps the followers' instead of preceding them. Default on;
   * false: every message waits for the fsync of its Ready (the strict order).
   */
  readonly parallelLeaderAppend?: boolean;
  readonly log?: (msg: string) => void;
  /** Each WAL fsync's duration in seconds (metrics). */
  readonly onFsync?: (seconds: number) => void;
  /** Each stage timing (stage-timings.ts) in seconds (metrics). */
  readonly onStage?: StageObserver;
}

export interface ProposeOptions {
  /** Applies once per client session and sequence number. */
  readonly session?: SessionRef;
  /** Filled in as the proposal passes each step (index and term once in the log): the stage
   *  timings (always on; see proposalReplied) and a traced request's spans read it. */
  readonly clock?: ProposalClock;
}

export interface NodeStatus {
  readonly id: NodeId;
  readonly state: string;
  readonly leader: NodeId;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly confState: ConfState;
  /** Leader only: match index per peer. */
  readonly progress?: Record<string, number>;
  readonly fsyncs: number;
  readonly transport: NatsRaftTransport["stats"];
  /** Where writes spent their time on this replica (stage-timings.ts). */
  readonly stages: StageSummary;
}

interface Waiter<T> {
  resolve(o: NodeOutcome<T>): void;
  timer: NodeJS.Timeout;
}

interface PendingRead {
  /** What to read once applied >= index (a state-machine read, or the whole snapshot). */
  readonly run: (nowMs: number) => unknown;
  waiter: Waiter<unknown>;
  /** Set once the leader confirmed the read index. */
  index: number;
}

interface ConfWaiter {
  readonly index: number;
  readonly term: number;
  waiter: Waiter<ConfState>;
}

const HEADER_MAGIC = 0xc1;
const HEADER_BYTES = 1 + 4 + 4 + 4;

/** Prefixes envelope bytes with the proposer's identity. */
export function frameEntry(node: NodeId, incarnation: number, counter: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + body.byteLength);
  const v = new DataView(out.buffer);
  v.setUint8(0, HEADER_MAGIC);
  v.setUint32(1, node);
  v.setUint32(5, incarnation);
  v.setUint32(9, counter);
  out.set(body, HEADER_BYTES);
  return out;
}

export function unframeEntry(data: Uint8Array): { node: NodeId; incarnation: number; counter: number; body: Uint8Array } | undefined {
  if (data.byteLength < HEADER_BYTES || data[0] !== HEADER_MAGIC) return undefined;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { node: v.getUint32(1), incarnation: v.getUint32(5), counter: v.getUint32(9), body: data.subarray(HEADER_BYTES) };
}

interface Bootstrap { voters: NodeId[]; learners: NodeId[] }

/** The initial membership is fixed at first start and kept in the data dir. */
function loadBootstrap(dir: string, opts: RaftNodeOptions): Bootstrap {
  const file = path.join(dir, "bootstrap.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as Bootstrap;
  const b: Bootstrap = { voters: [...opts.peers], learners: [...(opts.learners ?? [])] };
  writeFileSync(`${file}.tmp`, JSON.stringify(b));
  renameSync(`${file}.tmp`, file);
  return b;
}

export class RaftNode {
  readonly id: NodeId;
  readonly control: ControlStateMachine;
  readonly limits: ControlLimits;
  readonly #raw: RawNode;
  readonly #wal: WalStorage;
  readonly #transport: NatsRaftTransport;
  readonly #tickMs: number;
  readonly #snapshotEntries: number;
  readonly #timeoutMs: number;
  readonly #log: (msg: string) => void;
  readonly #parallelLeaderAppend: boolean;
  readonly #incarnation = randomInt(1, 0xffffffff);
  #counter = 0;
  #applied: number;
  #snapshotIndex: number;
  #leader: NodeId = NONE;
  #state: StateType = StateType.Follower;
  readonly #queuedProposals: { data: Uint8Array; counter: number; clock: ProposalClock | undefined }[] = [];
  readonly #proposals = new Map<number, Waiter<ApplyResult>>();
  readonly #stages: StageTimings;
  /** Clocks of the proposals waiting to apply, by counter. */
  readonly #clocks = new Map<number, ProposalClock>();
  /** Clocks of the proposals stepped in this pass: their entries are in the pass's first Ready. */
  #steppedClocks: ProposalClock[] = [];
  /** The inbound message that last advanced the commit index: when it arrived and when it was stepped. */
  #commitArrivedAt = 0;
  #commitSteppedAt = 0;
  /** When the Ready being handled was taken: the commit time of entries no ack committed (a single voter). */
  #readyAt = 0;
  /** Follower: arrival of the oldest MsgApp with entries not yet acknowledged (0: none), and when it was stepped. */
  #appArrivedAt = 0;
  #appSteppedAt = 0;
  /** Leader: per follower, the oldest MsgApp with entries not yet acknowledged (its last index; sentAt 0 until written). */
  readonly #appsInFlight = new Map<NodeId, { index: number; sentAt: number }>();
  /** The last WAL fdatasync's duration (ms). */
  #lastFsyncMs = 0;
  readonly #queuedReads: PendingRead[] = [];
  /** Read batches keyed by context, waiting for their ReadState; `atMs` for sweeping lost ones. */
  readonly #readBatches = new Map<string, { atMs: number; reads: PendingRead[] }>();
  #readsInBatches = 0;
  /** Reads with a confirmed index, waiting for apply. */
  #readyReads: PendingRead[] = [];
  #readCounter = 0;
  readonly #confWaiters: ConfWaiter[] = [];
  readonly #leaderWaiters: { target: NodeId; waiter: Waiter<NodeId> }[] = [];
  /** Term and vote known to be on disk (after the last fsync). */
  #durableTerm = 0;
  #durableVote: NodeId = NONE;
  /** Last log index known to be on disk. */
  #durableLastIndex = 0;
  /** Messages held by #sendAfterReplies until this turn's replies were written. */
  readonly #deferred: Message[] = [];
  #pendingTicks = 0;
  #ticker: NodeJS.Timeout | undefined;
  #running = false;
  #again = false;
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();
  #fatal: Error | undefined;
  onFatal: (err: Error) => void = () => {};
  /** Role transitions seen by this replica (metrics): elections it started, leader changes it saw. */
  readonly transitions = { elections: 0, leaderChanges: 0 };

  private constructor(opts: RaftNodeOptions, wal: WalStorage, control: ControlStateMachine) {
    this.id = opts.id;
    this.#wal = wal;
    const onFsync = opts.onFsync;
    wal.onFsync = (seconds) => {
      this.#lastFsyncMs = seconds * 1000;
      onFsync?.(seconds);
    };
    this.#stages = new StageTimings(opts.onStage);
    this.control = control;
    this.limits = control.limits;
    this.#tickMs = opts.tickMs ?? 50;
    this.#snapshotEntries = opts.snapshotEntries ?? 10_000;
    this.#timeoutMs = opts.requestTimeoutMs ?? 5_000;
    this.#log = opts.log ?? (() => {});
    this.#parallelLeaderAppend = opts.parallelLeaderAppend ?? true;
    const snap = wal.snapshot();
    this.#applied = isEmptySnapshot(snap) ? 0 : snap.metadata.index;
    this.#snapshotIndex = this.#applied;
    this.#durableTerm = wal.initialState().hardState.term;
    this.#durableVote = wal.initialState().hardState.vote;
    this.#durableLastIndex = wal.lastIndex();
    const logger: RaftLogger = { debug() {}, warn: (m) => this.#log(m) };
    this.#raw = new RawNode({
      id: opts.id,
      electionTicks: opts.electionTicks ?? 10,
      heartbeatTicks: opts.heartbeatTicks ?? 1,
      random: (n) => randomInt(0, n),
      applied: this.#applied,
      preVote: true,
      checkQuorum: true,
      logger,
    }, wal);
    this.#transport = new NatsRaftTransport(opts.nc, opts.group ?? "control", opts.id);
  }

  static async open(opts: RaftNodeOptions): Promise<RaftNode> {
    if (!Number.isSafeInteger(opts.id) || opts.id < 1) throw new Error(`node id must be a positive integer, got ${opts.id}`);
    const walDir = path.join(opts.dataDir, "wal");
    mkdirSync(walDir, { recursive: true });
    const boot = loadBootstrap(opts.dataDir, opts);
    const log = opts.log ?? (() => {});
    const wal = await WalStorage.open(walDir, { confState: { voters: boot.voters, learners: boot.learners }, warn: log });
    const control = new ControlStateMachine({ limits: resolveLimits(opts.limits) });
    const snap = wal.snapshot();
    if (!isEmptySnapshot(snap)) control.restore(snap.data);
    const node = new RaftNode(opts, wal, control);
    node.#start();
    return node;
  }

  #start(): void {
    this.#transport.start(() => this.#wake());
    this.#ticker = setInterval(() => {
      this.#pendingTicks++;
      this.#wake();
    }, this.#tickMs);
    this.#wake();
  }

  get leader(): NodeId { return this.#leader; }
  get isLeader(): boolean { return this.#state === StateType.Leader; }
  get applied(): number { return this.#applied; }

  // ------------------------------------------------------------ public API

  /** Proposes a write; resolves once it is applied here (the leader) with the state machine's result. */
  propose(cmd: Command, opts: ProposeOptions = {}): Promise<NodeOutcome<ApplyResult>> {
    const { session, clock } = opts;
    const gate = this.#gate<ApplyResult>();
    if (gate) return Promise.resolve(gate);
    if (this.#proposals.size + this.#queuedProposals.length >= NODE_LIMITS.proposalsPendingMax) {
      return Promise.resolve(this.#fail(NodeError.Overloaded, `${NODE_LIMITS.proposalsPendingMax} proposals pending`));
    }
    const env: Envelope = session ? { v: CONTROL_FORMAT_VERSION, nowMs: Date.now(), session, cmd } : { v: CONTROL_FORMAT_VERSION, nowMs: Date.now(), cmd };
    let body: Uint8Array;
    try {
      body = encodeEnvelope(env, this.limits);
    } catch (err) {
      // Invalid commands never reach the log.
      return Promise.resolve({ ok: true, value: failure(ControlError.InvalidCommand, (err as Error).message) });
    }
    const counter = (this.#counter = (this.#counter + 1) >>> 0);
    return new Promise((resolve) => {
      const waiter = this.#waiter((o: NodeOutcome<ApplyResult>) => {
        this.#clocks.delete(counter);
        resolve(o);
      }, () => {
        this.#proposals.delete(counter);
        return this.#fail(NodeError.Unknown, `proposal not applied within ${this.#timeoutMs} ms`);
      });
      this.#proposals.set(counter, waiter);
      if (clock) {
        clock.queuedAt = performance.now();
        this.#clocks.set(counter, clock);
      }
      this.#queuedProposals.push({ data: frameEntry(this.id, this.#incarnation, counter, body), counter, clock });
      this.#wake();
    });
  }

  /** Linearizable read: confirms leadership (ReadIndex), waits for apply, then reads. */
  read(cmd: ReadCommand): Promise<NodeOutcome<ApplyResult>> {
    return this.#readIndexed((now) => this.control.read(cmd, now));
  }

  /**
   * A linearizable snapshot of the state machine (for backups): confirmed
   * by ReadIndex like a read, taken once everything up to the read index is
   * applied, so it holds every write acknowledged before the call.
   */
  readSnapshot(): Promise<NodeOutcome<{ index: number; bytes: Uint8Array }>> {
    return this.#readIndexed(() => ({ index: this.#applied, bytes: this.control.snapshot() }));
  }

  #readIndexed<T>(run: (nowMs: number) => T): Promise<NodeOutcome<T>> {
    const gate = this.#gate<T>();
    if (gate) return Promise.resolve(gate);
    if (this.#queuedReads.length + this.#readsInBatches + this.#readyReads.length >= NODE_LIMITS.readsPendingMax) {
      return Promise.resolve(this.#fail(NodeError.Overloaded, `${NODE_LIMITS.readsPendingMax} reads pending`));
    }
    return new Promise((resolve) => {
      const read: PendingRead = { run, index: 0, waiter: undefined as unknown as Waiter<unknown> };
      read.waiter = this.#waiter(resolve as (o: NodeOutcome<unknown>) => void, () => this.#fail(NodeError.NotLeader, `read not confirmed within ${this.#timeoutMs} ms`));
      this.#queuedReads.push(read);
      this.#wake();
    });
  }

  /** Proposes one membership change (leader only); resolves with the membership after it applied. */
  changeMembership(cc: ConfChange): Promise<NodeOutcome<ConfState>> {
    const gate = this.#gate<ConfState>();
    if (gate) return Promise.resolve(gate);
    const r = this.#raw.proposeConfChange(cc);
    if (!r.ok) return Promise.resolve(this.#fail(r.error === "not-leader" ? NodeError.NotLeader : NodeError.Rejected, `conf change refused: ${r.error}`));
    const index = this.#raw.raft.log.lastIndex();
    const term = this.#raw.raft.term;
    this.#wake();
    return new Promise((resolve) => {
      const cw: ConfWaiter = { index, term, waiter: undefined as unknown as Waiter<ConfState> };
      cw.waiter = this.#waiter(resolve, () => {
        removeItem(this.#confWaiters, cw);
        return this.#fail(NodeError.Unknown, `conf change at ${index} not applied within ${this.#timeoutMs} ms`);
      });
      this.#confWaiters.push(cw);
    });
  }

  /** Asks the leader (this node) to hand leadership to `target`; resolves when `target` leads. */
  transferLeadership(target: NodeId): Promise<NodeOutcome<NodeId>> {
    const gate = this.#gate<NodeId>();
    if (gate) return Promise.resolve(gate);
    if (target === this.id) return Promise.resolve({ ok: true, value: this.id });
    const voters = this.#raw.raft.voters();
    if (!voters.includes(target)) return Promise.resolve(this.#fail(NodeError.Rejected, `node ${target} is not a voter (${voters.join(",")})`));
    this.#raw.transferLeader(target);
    this.#wake();
    return new Promise((resolve) => {
      const lw = { target, waiter: undefined as unknown as Waiter<NodeId> };
      lw.waiter = this.#waiter(resolve, () => {
        removeItem(this.#leaderWaiters, lw);
        return this.#fail(NodeError.Unknown, `node ${target} did not take over within ${this.#timeoutMs} ms`);
      });
      this.#leaderWaiters.push(lw);
    });
  }

  /** Leader: match index of a peer (for waiting until a learner caught up). */
  matchIndex(peer: NodeId): number | undefined {
    return this.#raw.raft.prs.get(peer)?.match;
  }

  /**
   * The reply to a proposal made with `clock` was handed to NATS: its stage
   * timings are recorded if it was applied (failed proposals are not timed).
   */
  proposalReplied(clock: ProposalClock): void {
    if (clock.appliedAt > 0) this.#stages.addProposal(clock, performance.now());
  }

  status(): NodeStatus {
    const s = this.#raw.status();
    const stages = this.#stages;
    const progress: Record<string, number> = {};
    if (this.isLeader) for (const [id, p] of this.#raw.raft.prs) progress[String(id)] = p.match;
    return {
      id: this.id, state: STATE_NAMES[s.state], leader: s.lead, term: s.term, commit: s.commit, applied: this.#applied,
      lastIndex: s.lastIndex, snapshotIndex: this.#snapshotIndex, confState: s.confState,
      ...(this.isLeader ? { progress } : {}),
      fsyncs: this.#wal.fsyncCount, transport: { ...this.#transport.stats },
      // Built when read (raft.status serialises it): the metrics' gauges call status() several times per scrape and never read it.
      get stages(): StageSummary { return stages.summary(); },
    };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#ticker);
    await this.#transport.stop();
    await this.#loop;
    this.#failAll(NodeError.Stopped, "node stopped");
    await this.#wal.close();
  }

  // ------------------------------------------------------------ the loop

  #gate<T>(): NodeOutcome<T> | undefined {
    if (this.#stopped) return this.#fail(NodeError.Stopped, "node stopped");
    if (this.#fatal) return this.#fail(NodeError.Stopped, `node failed: ${this.#fatal.message}`);
    if (!this.isLeader) return this.#fail(NodeError.NotLeader, `node ${this.id} is not the leader`);
    return undefined;
  }

  #fail<T>(error: NodeError, msg: string): NodeOutcome<T> {
    return { ok: false, error, leader: this.#leader, message: msg };
  }

  #waiter<T>(resolve: (o: NodeOutcome<T>) => void, onTimeout: () => NodeOutcome<T>): Waiter<T> {
    let done = false;
    const w: Waiter<T> = {
      resolve: (o) => {
        if (done) return;
        done = true;
        clearTimeout(w.timer);
        resolve(o);
      },
      timer: setTimeout(() => {
        if (done) return;
        w.resolve(onTimeout());
      }, this.#timeoutMs),
    };
    return w;
  }

  #wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    this.#loop = new Promise<void>((r) => setImmediate(r)).then(() => this.#run());
  }

  async #run(): Promise<void> {
    try {
      do {
        this.#again = false;
        if (this.#stopped) return;
        this.#transport.drain(this.#stepInbound);
        if (this.#pendingTicks > 0) this.#sweepReadBatches();
        for (; this.#pendingTicks > 0; this.#pendingTicks--) this.#raw.tick();
        this.#proposeQueued();
        this.#readIndexQueued();
        while (this.#raw.hasReady() && !this.#stopped) await this.#handleReady(this.#raw.ready());
      } while (this.#again);
    } catch (err) {
      // A failed fsync or a broken invariant: this replica must not continue.
      this.#fatal = err as Error;
      this.#stopped = true;
      clearInterval(this.#ticker);
      this.#failAll(NodeError.Stopped, `node failed: ${(err as Error).message}`);
      this.onFatal(err as Error);
    } finally {
      this.#running = false;
    }
  }

  /** Steps one inbound message, noting what the stage timings need. */
  readonly #stepInbound = (m: Message, arrivedAt: number): void => {
    const committed = this.#raw.raft.log.committed;
    this.#raw.step(m);
    if (this.#raw.raft.log.committed !== committed) {
      this.#commitArrivedAt = arrivedAt;
      this.#commitSteppedAt = performance.now();
    }
    if (m.type === MessageType.App && m.entries.length > 0 && this.#appArrivedAt === 0) {
      this.#appArrivedAt = arrivedAt;
      this.#appSteppedAt = performance.now();
    }
    if (m.type === MessageType.AppResp && this.#appsInFlight.size > 0) {
      const f = this.#appsInFlight.get(m.from);
      if (f && (m.reject || m.index >= f.index)) {
        this.#appsInFlight.delete(m.from);
        if (!m.reject && f.sentAt > 0) this.#stages.add("follower_round_trip", arrivedAt - f.sentAt);
      }
    }
  };

  #proposeQueued(): void {
    while (this.#queuedProposals.length > 0) {
      const batch = this.#queuedProposals.splice(0, NODE_LIMITS.proposalBatchMax);
      const entries: Entry[] = batch.map((p) => ({ term: 0, index: 0, type: EntryType.Normal, data: p.data }));
      const r = this.#raw.raft.step(message({ type: MessageType.Prop, from: this.id, entries }));
      if (r.ok) {
        if (this.#clocks.size > 0) this.#appended(batch);
        continue;
      }
      const err = r.error === "not-leader" ? NodeError.NotLeader : r.error === "too-large" ? NodeError.Overloaded : NodeError.Unknown;
      for (const p of batch) {
        const w = this.#proposals.get(p.counter);
        this.#proposals.delete(p.counter);
        w?.resolve(this.#fail(err, `proposal refused by raft: ${r.error}`));
      }
    }
  }

  /** The batch just went into the log as its last entries: their clocks get the time, index and term. */
  #appended(batch: readonly { clock: ProposalClock | undefined }[]): void {
    const now = performance.now();
    const last = this.#raw.raft.log.lastIndex();
    const term = this.#raw.raft.term;
    batch.forEach((p, i) => {
      const c = p.clock;
      if (!c) return;
      c.steppedAt = now;
      c.index = last - (batch.length - 1 - i);
      c.term = term;
      this.#steppedClocks.push(c);
    });
  }

  #readIndexQueued(): void {
    if (this.#queuedReads.length === 0) return;
    const batch = this.#queuedReads.splice(0);
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setFloat64(0, ++this.#readCounter);
    const r = this.#raw.readIndex(ctx);
    if (!r.ok) {
      for (const read of batch) read.waiter.resolve(this.#fail(NodeError.NotLeader, `read index refused: ${r.error}`));
      return;
    }
    this.#readBatches.set(ctxKey(ctx), { atMs: Date.now(), reads: batch });
    this.#readsInBatches += batch.length;
  }

  /** A read index whose heartbeat round was lost never answers: forget it once its reads timed out. */
  #sweepReadBatches(): void {
    const cutoff = Date.now() - this.#timeoutMs;
    for (const [k, b] of this.#readBatches) {
      if (b.atMs >= cutoff) continue;
      this.#readBatches.delete(k);
      this.#readsInBatches -= b.reads.length;
      for (const r of b.reads) r.waiter.resolve(this.#fail(NodeError.NotLeader, "read index not confirmed"));
    }
  }

  async #handleReady(rd: Ready): Promise<void> {
    this.#readyAt = performance.now();
    if (rd.softState) this.#onSoftState(rd.softState.lead, rd.softState.state);
    // 1. Persist before anything leaves this node.
    if (rd.snapshot) this.#wal.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) this.#wal.append(rd.entries);
    if (rd.hardState) this.#wal.setHardState(rd.hardState);
    // Stage timings: this pass's proposals are in this Ready's entries; a follower acks MsgApps here.
    const clocks = rd.entries.length > 0 && this.#steppedClocks.length > 0 ? this.#takeSteppedClocks() : undefined;
    const apps = clocks ? this.#appsToTime(rd.messages) : undefined;
    const fsyncsBefore = this.#wal.fsyncCount;
    let flushBeforeApply = false;
    if (rd.mustSync && this.#canSendBeforeSync(rd)) {
      // Safe because the loop is sequential: commit can only cover these
      // entries after a follower acks them, which is stepped after this
      // fsync completes; we apply and answer clients only after it too.
      this.#send(rd.messages);
      if (clocks) markSent(clocks, apps);
      await this.#wal.sync();
    } else {
      if (rd.mustSync) await this.#wal.sync();
      // 2. Send. A Ready that only commits (nothing persisted) answers
      // clients: their replies go to the socket first, then its messages
      // (the commit index for followers), so a reply never waits behind them.
      if (!rd.mustSync && rd.committedEntries.length > 0 && this.#state === StateType.Leader) this.#sendAfterReplies(rd.messages);
      else {
        this.#send(rd.messages);
        flushBeforeApply = rd.messages.length > 0 && (rd.committedEntries.length > 0 || !!rd.snapshot);
      }
      if (clocks) markSent(clocks, apps);
    }
    const fsyncMs = this.#wal.fsyncCount !== fsyncsBefore ? this.#lastFsyncMs : 0;
    if (clocks) for (const c of clocks) c.fsyncMs = fsyncMs;
    if (this.#appArrivedAt > 0 && rd.messages.some((m) => m.type === MessageType.AppResp)) this.#ackSent(fsyncMs);
    if (rd.hardState && rd.mustSync) {
      this.#durableTerm = rd.hardState.term;
      this.#durableVote = rd.hardState.vote;
    }
    if (rd.snapshot) this.#durableLastIndex = rd.snapshot.metadata.index;
    if (rd.entries.length > 0) this.#durableLastIndex = rd.entries[rd.entries.length - 1]!.index;
    // The NATS client writes what was just published in a microtask it
    // queued on publish: let it run before applying (and maybe taking a
    // snapshot), so a follower's ack — the leader's commit — never waits
    // behind this node's state machine (follower_send at 256 clients: mean
    // 6-8 ms before, under 1 ms after). Safety is unchanged: everything
    // sent was persisted above; apply and replies still follow.
    if (flushBeforeApply) await Promise.resolve();
    // 3. Apply.
    if (rd.snapshot) {
      this.control.restore(rd.snapshot.data);
      this.#applied = rd.snapshot.metadata.index;
      this.#snapshotIndex = this.#applied;
    }
    for (const e of rd.committedEntries) this.#applyEntry(e);
    for (const rs of rd.readStates) {
      const batch = this.#readBatches.get(ctxKey(rs.context));
      if (!batch) continue;
      this.#readBatches.delete(ctxKey(rs.context));
      this.#readsInBatches -= batch.reads.length;
      for (const read of batch.reads) read.index = rs.index;
      this.#readyReads.push(...batch.reads);
    }
    this.#raw.advance(rd);
    this.#afterApply();
  }

  /** Leader: MsgApps with entries to followers that have none in flight, to time until their ack. */
  #appsToTime(msgs: readonly Message[]): { index: number; sentAt: number }[] | undefined {
    let out: { index: number; sentAt: number }[] | undefined;
    for (const m of msgs) {
      if (m.type !== MessageType.App || m.entries.length === 0 || this.#appsInFlight.has(m.to)) continue;
      const f = { index: m.entries[m.entries.length - 1]!.index, sentAt: 0 };
      this.#appsInFlight.set(m.to, f);
      (out ??= []).push(f);
    }
    return out;
  }

  #takeSteppedClocks(): ProposalClock[] {
    const taken = this.#steppedClocks;
    this.#steppedClocks = [];
    return taken;
  }

  /** Follower: the ack of the MsgApps received since #appArrivedAt was just handed to the transport. */
  #ackSent(fsyncMs: number): void {
    const arrivedAt = this.#appArrivedAt;
    const persistedAt = performance.now();
    this.#appArrivedAt = 0;
    this.#stages.add("follower_queue", this.#appSteppedAt - arrivedAt);
    this.#stages.add("follower_persist", persistedAt - this.#appSteppedAt);
    if (fsyncMs > 0) this.#stages.add("follower_fsync", fsyncMs);
    // After the NATS client's socket write, which it queued as a microtask on publish.
    queueMicrotask(() => {
      const now = performance.now();
      this.#stages.add("follower_send", now - persistedAt);
      this.#stages.add("follower_ack", now - arrivedAt);
    });
  }

  /** Sends now, after whatever #sendAfterReplies still holds (per-peer order is kept). */
  #send(msgs: readonly Message[]): void {
    this.#flushDeferred();
    this.#transport.send(msgs);
  }

  /**
   * Sends once this turn's microtasks ran: the replies of the entries just
   * applied travel through a few promise hops to msg.respond, and NATS
   * flushes a connection's pending publishes as one socket write per
   * microtask turn; sent now, these messages would take the first write and
   * the replies a second one behind it.
   */
  #sendAfterReplies(msgs: readonly Message[]): void {
    if (msgs.length === 0) return;
    this.#deferred.push(...msgs);
    if (this.#deferred.length === msgs.length) setImmediate(() => this.#flushDeferred());
  }

  #flushDeferred(): void {
    if (this.#deferred.length === 0) return;
    this.#transport.send(this.#deferred.splice(0));
  }

  /** Leader whose term and vote did not change in this Ready, sending only replication traffic. */
  #canSendBeforeSync(rd: Ready): boolean {
    if (!this.#parallelLeaderAppend || this.#state !== StateType.Leader || rd.snapshot) return false;
    const hs = rd.hardState;
    const st = this.#raw.raft;
    if (hs && (hs.term !== this.#durableTerm || hs.vote !== this.#durableVote)) return false;
    if (st.term !== this.#durableTerm) return false;
    // With a single voter the leader's own ack commits at append: never
    // announce a commit index that covers entries not yet on our disk.
    if (st.log.committed > this.#durableLastIndex) return false;
    return rd.messages.every((m) => m.type === MessageType.App || m.type === MessageType.Heartbeat);
  }

  #applyEntry(e: Entry): void {
    if (e.index <= this.#applied) return;
    this.#applied = e.index;
    if (e.type !== EntryType.Normal || e.data.byteLength === 0) return;
    const framed = unframeEntry(e.data);
    const result = this.control.apply(framed ? framed.body : e.data, e.index);
    if (framed && framed.node === this.id && framed.incarnation === this.#incarnation) {
      const w = this.#proposals.get(framed.counter);
      const c = this.#clocks.get(framed.counter);
      if (c) {
        // Committed by a follower's ack stepped after this entry was, or else by this node alone.
        const byAck = this.#commitSteppedAt >= c.steppedAt;
        c.ackArrivedAt = byAck ? this.#commitArrivedAt : this.#readyAt;
        c.committedAt = byAck ? this.#commitSteppedAt : this.#readyAt;
        c.appliedAt = performance.now();
      }
      if (w) {
        this.#proposals.delete(framed.counter);
        w.resolve({ ok: true, value: result });
      }
    }
  }

  #afterApply(): void {
    // Conf changes take effect in advance(): resolve their waiters now.
    for (let i = this.#confWaiters.length - 1; i >= 0; i--) {
      const cw = this.#confWaiters[i]!;
      if (cw.index > this.#applied) continue;
      this.#confWaiters.splice(i, 1);
      const term = this.#raw.raft.log.term(cw.index);
      if (term === cw.term || term === undefined) cw.waiter.resolve({ ok: true, value: this.#raw.raft.confState() });
      else cw.waiter.resolve(this.#fail(NodeError.Unknown, `conf change at ${cw.index} was overwritten (term ${term})`));
    }
    if (this.#readyReads.length > 0) {
      const now = Date.now();
      const keep: PendingRead[] = [];
      for (const read of this.#readyReads) {
        if (read.index <= this.#applied) read.waiter.resolve({ ok: true, value: read.run(now) });
        else keep.push(read);
      }
      this.#readyReads = keep;
    }
    if (this.#applied - this.#snapshotIndex >= this.#snapshotEntries) {
      this.#wal.createSnapshot(this.#applied, this.#raw.raft.confState(), this.control.snapshot());
      this.#snapshotIndex = this.#applied;
      this.#log(`raft ${this.id}: snapshot at ${this.#applied}`);
    }
  }

  #onSoftState(lead: NodeId, state: StateType): void {
    const wasLeader = this.#state === StateType.Leader;
    if (state === StateType.Candidate && this.#state !== StateType.Candidate) this.transitions.elections++;
    if (lead !== this.#leader && lead !== NONE) this.transitions.leaderChanges++;
    this.#leader = lead;
    this.#state = state;
    this.#log(`raft ${this.id}: ${STATE_NAMES[state]} term ${this.#raw.raft.term} leader ${lead}`);
    for (let i = this.#leaderWaiters.length - 1; i >= 0; i--) {
      const lw = this.#leaderWaiters[i]!;
      if (lw.target === lead) {
        this.#leaderWaiters.splice(i, 1);
        lw.waiter.resolve({ ok: true, value: lead });
      }
    }
    // A follower's unacknowledged MsgApp is no longer timed once the role changes.
    this.#appArrivedAt = 0;
    if (wasLeader && state !== StateType.Leader) {
      this.#steppedClocks = [];
      this.#appsInFlight.clear();
      // Our proposals may still commit under the next leader: the caller retries with its session.
      this.#failAll(NodeError.Unknown, `node ${this.id} lost leadership`, true);
    }
  }

  #failAll(error: NodeError, msg: string, keepLeaderWaiters = false): void {
    const out = (): NodeOutcome<never> => this.#fail(error, msg);
    for (const w of this.#proposals.values()) w.resolve(out());
    this.#proposals.clear();
    this.#queuedProposals.length = 0;
    const readOut = (): NodeOutcome<never> => this.#fail(error === NodeError.Unknown ? NodeError.NotLeader : error, msg);
    for (const r of this.#queuedReads.splice(0)) r.waiter.resolve(readOut());
    for (const b of this.#readBatches.values()) for (const r of b.reads) r.waiter.resolve(readOut());
    this.#readBatches.clear();
    this.#readsInBatches = 0;
    for (const r of this.#readyReads) r.waiter.resolve(readOut());
    this.#readyReads = [];
    for (const cw of this.#confWaiters.splice(0)) cw.waiter.resolve(out());
    if (!keepLeaderWaiters) for (const lw of this.#leaderWaiters.splice(0)) lw.waiter.resolve(out());
  }
}

/** After the NATS client's socket write (queued as a microtask on publish): the MsgApp is on its way. */
function markSent(clocks: readonly ProposalClock[], apps: readonly { sentAt: number }[] | undefined): void {
  queueMicrotask(() => {
    const now = performance.now();
    for (const c of clocks) c.sentAt = now;
    if (apps) for (const a of apps) a.sentAt = now;
  });
}

function removeItem<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

function ctxKey(ctx: Uint8Array): string {
  return Buffer.from(ctx).toString("hex");
}

