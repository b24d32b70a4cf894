// The CASPaxos proposer: a pure state machine driven by submit(), step()
// (acceptor replies) and tick() (time, in ticks the caller supplies);
// outputs are collected and taken with drain(): messages to send and
// completed operations. No timers, no I/O, randomness injected.
//
// One operation = change(key, f). An attempt:
//   1. prepare(b) to every acceptor, b = (counter + 1, id);
//   2. on promises from a majority: take the state accepted at the highest
//      ballot among them (EMPTY_REGISTER if none), run f on it;
//   3. accept(b, f(state)) to every acceptor; on a majority of Accepted the
//      new state is chosen and the operation completes with f's result.
// A conflict (an acceptor saw a higher ballot) or a timeout ends the
// attempt; the next one starts after a backoff with full jitter (random in
// [0, min(backoffMax, backoffMin * 2^attempt)] ticks) with a higher counter,
// so duelling proposers spread out instead of livelocking.
//
// One-round-trip optimization (paper 2.2.1, optional `oneRoundTrip`): each
// accept also carries next = (b.n + 1, id). An acceptor that accepts b
// promises `next` in the same step, so after a majority of Accepted the
// proposer holds promises for `next` from a majority whose highest accepted
// state is the one it just wrote: the next operation on that key skips
// phase 1 (accept only). A cached ballot is used once; if another proposer
// intervened the accept meets a conflict, and the attempt falls back to
// both phases.
//
// Outcomes: an operation whose accept was sent but not confirmed may still
// become chosen later (another proposer's prepare can pick it up), so a
// failed operation says `applied: "unknown"`; it is "no" only if no accept
// left. Because a retry re-runs f on the state it reads, f must be pure and
// should be idempotent for its caller (e.g. carry a request id in the value
// and recognise it): see cloud/lock/paxos-lock.ts and sim/kv-register.ts.
//
// Operations on one key from one proposer run one at a time, in order (a
// proposer never duels with itself); different keys run in parallel.
// Ballot uniqueness needs a proposer id unique per incarnation: a restarted
// proposer that reused (n, id) could send two values under one ballot.

import {
  EMPTY_REGISTER,
  MsgKind,
  PAXOS_LIMITS,
  assert,
  compareBallots,
  keyProblem,
  majority,
  proposerIdProblem,
} from "./types";
import type { AcceptorId, AcceptorReply, AcceptorRequest, Ballot, RegisterState } from "./types";

/** What a change function decides: keep the state (still written back, so the read is chosen) or write new data. */
export type ChangeOutcome<R> =
  | { readonly write: false; readonly result: R }
  | { readonly write: true; readonly data: Uint8Array | null; readonly result: R };

/** A pure function of the register's current state. May run once per attempt. */
export type Change<R> = (current: RegisterState) => ChangeOutcome<R>;

export const OpError = {
  /** No majority answered within attemptsMax attempts (conflicts, timeouts). */
  Unavailable: "unavailable",
  /** An acceptor refused (limits) or the request was invalid; retrying will not help. */
  Refused: "refused",
  /** The change function threw. */
  ChangeFailed: "change-failed",
  /** Too many operations queued at this proposer. */
  Overloaded: "overloaded",
} as const;
export type OpError = (typeof OpError)[keyof typeof OpError];

export type OpOutcome<R> =
  | { readonly ok: true; readonly result: R; readonly state: RegisterState; readonly attempts: number }
  | { readonly ok: false; readonly error: OpError; readonly applied: "no" | "unknown"; readonly attempts: number; readonly message: string };

export interface ProposerLimits {
  /** Ticks a phase waits for a majority before the attempt counts as failed. */
  readonly attemptTimeoutTicks: number;
  readonly backoffMinTicks: number;
  readonly backoffMaxTicks: number;
  /** Attempts per operation before it fails as unavailable. */
  readonly attemptsMax: number;
  /** Operations waiting or running at once (all keys). */
  readonly opsMax: number;
  /** Keys whose one-round-trip promise is remembered (least recently used go first). */
  readonly cachedKeysMax: number;
}

export const PROPOSER_DEFAULTS: ProposerLimits = {
  attemptTimeoutTicks: 50,
  backoffMinTicks: 1,
  backoffMaxTicks: 32,
  attemptsMax: 16,
  opsMax: 16_384,
  cachedKeysMax: 4_096,
};

export interface ProposerConfig {
  /** Unique per proposer incarnation (e.g. name + random suffix). */
  readonly id: string;
  readonly acceptors: readonly AcceptorId[];
  /** Uniform in [0, 1): backoff jitter. */
  readonly random: () => number;
  readonly oneRoundTrip?: boolean;
  readonly limits?: Partial<ProposerLimits>;
}

export interface Outgoing {
  readonly to: AcceptorId;
  readonly msg: AcceptorRequest;
}

export interface Completed {
  readonly op: number;
  readonly key: string;
  readonly outcome: OpOutcome<unknown>;
}

export interface ProposerStats {
  attempts: number;
  conflicts: number;
  timeouts: number;
  /** Operations that completed through the cached promise (accept only). */
  oneRoundTrips: number;
  completed: number;
  failed: number;
}

/** What one promise reported: the acceptor's last accepted ballot and state. */
export interface Promised {
  readonly accepted: Ballot;
  readonly state: RegisterState;
}

const Phase = { Backoff: 0, Preparing: 1, Accepting: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

interface Op {
  readonly id: number;
  readonly key: string;
  readonly change: Change<unknown>;
  phase: Phase;
  attempts: number;
  /** An accept of this operation left: it may be chosen even if the operation fails. */
  acceptSent: boolean;
  rid: number;
  ballot: Ballot;
  deadlineTick: number;
  wakeTick: number;
  oks: Set<AcceptorId>;
  nos: Set<AcceptorId>;
  /** Preparing: what each promise reported. */
  promises: Promised[];
  /** Accepting: the state sent, the change's result, the promised next ballot. */
  proposed: RegisterState | null;
  result: unknown;
  next: Ballot | null;
  viaCache: boolean;
  lastError: string;
}

export class Proposer {
  readonly id: string;
  readonly acceptors: readonly AcceptorId[];
  readonly limits: ProposerLimits;
  readonly oneRoundTrip: boolean;
  readonly stats: ProposerStats = { attempts: 0, conflicts: 0, timeouts: 0, oneRoundTrips: 0, completed: 0, failed: 0 };
  readonly #random: () => number;
  readonly #acceptorSet: Set<AcceptorId>;
  /** Per key: operations in submission order; the first one runs. */
  readonly #queues = new Map<string, Op[]>();
  readonly #byRid = new Map<number, Op>();
  /** key → the promised ballot and the state a prepare at it would find. */
  readonly #cache = new Map<string, { ballot: Ballot; state: RegisterState }>();
  #ops = 0;
  #opSeq = 0;
  #ridSeq = 0;
  /** Highest ballot counter used or seen; the next prepare uses counter + 1. */
  #counter = 0;
  #now = 0;
  #outbox: Outgoing[] = [];
  #completed: Completed[] = [];

  constructor(cfg: ProposerConfig) {
    const idProblem = proposerIdProblem(cfg.id);
    assert(idProblem === undefined, `proposer: ${idProblem}`);
    assert(cfg.acceptors.length >= 1, "proposer: at least one acceptor");
    for (const a of cfg.acceptors) assert(Number.isSafeInteger(a) && a >= 1, `proposer: acceptor id ${a} is not a positive integer`);
    this.#acceptorSet = new Set(cfg.acceptors);
    assert(this.#acceptorSet.size === cfg.acceptors.length, "proposer: duplicate acceptor ids");
    this.id = cfg.id;
    this.acceptors = [...cfg.acceptors];
    this.#random = cfg.random;
    this.oneRoundTrip = cfg.oneRoundTrip ?? true;
    this.limits = { ...PROPOSER_DEFAULTS, ...cfg.limits };
    const l = this.limits;
    for (const [k, v] of Object.entries(l)) assert(Number.isSafeInteger(v) && v >= 1, `proposer: limit ${k} must be a positive integer, got ${v}`);
    assert(l.backoffMaxTicks >= l.backoffMinTicks, "proposer: backoffMaxTicks < backoffMinTicks");
  }

  get nowTick(): number {
    return this.#now;
  }

  /** Operations waiting or running. */
  get pending(): number {
    return this.#ops;
  }

  /** Starts `change` on `key`; its outcome comes out of drain() under the returned id. */
  submit<R>(key: string, change: Change<R>): number {
    const id = ++this.#opSeq;
    const kp = keyProblem(key);
    if (kp !== undefined) {
      this.#completed.push({ op: id, key, outcome: failure(OpError.Refused, "no", 0, kp) });
      return id;
    }
    if (this.#ops >= this.limits.opsMax) {
      this.#completed.push({ op: id, key, outcome: failure(OpError.Overloaded, "no", 0, `${this.limits.opsMax} operations pending (opsMax)`) });
      return id;
    }
    const op: Op = {
      id, key, change: change as Change<unknown>, phase: Phase.Backoff, attempts: 0, acceptSent: false, rid: 0, ballot: { n: 0, p: this.id },
      deadlineTick: 0, wakeTick: this.#now, oks: new Set(), nos: new Set(), promises: [], proposed: null, result: undefined, next: null,
      viaCache: false, lastError: "",
    };
    this.#ops++;
    const q = this.#queues.get(key);
    if (q) {
      q.push(op);
    } else {
      this.#queues.set(key, [op]);
      this.#startAttempt(op);
    }
    return id;
  }

  tick(): void {
    this.#now++;
    for (const q of this.#queues.values()) {
      const op = q[0]!;
      if (op.phase === Phase.Backoff) {
        if (this.#now >= op.wakeTick) this.#startAttempt(op);
      } else if (this.#now >= op.deadlineTick) {
        this.stats.timeouts++;
        this.#failAttempt(op, `no majority within ${this.limits.attemptTimeoutTicks} ticks`);
      }
    }
  }

  step(from: AcceptorId, reply: AcceptorReply): void {
    if (!this.#acceptorSet.has(from)) return;
    const op = this.#byRid.get(reply.rid);
    if (!op || op.key !== reply.key || op.oks.has(from) || op.nos.has(from)) return;
    switch (reply.kind) {
      case MsgKind.Promise:
        if (op.phase !== Phase.Preparing) return;
        op.oks.add(from);
        op.promises.push({ accepted: reply.accepted, state: reply.state });
        if (op.oks.size >= this.prepareQuorum()) this.#propose(op, this.pickState(op.promises));
        return;
      case MsgKind.Accepted:
        if (op.phase !== Phase.Accepting) return;
        op.oks.add(from);
        if (op.oks.size >= this.acceptQuorum()) this.#chosen(op);
        return;
      case MsgKind.Conflict:
        op.nos.add(from);
        this.stats.conflicts++;
        if (reply.seen.n > this.#counter) this.#counter = reply.seen.n;
        if (op.nos.size > this.acceptors.length - this.#quorumOf(op)) this.#failAttempt(op, `conflict: acceptor ${from} promised ${reply.seen.n}.${reply.seen.p}`);
        return;
      case MsgKind.Refused:
        op.nos.add(from);
        op.lastError = `acceptor ${from} refused: ${reply.reason}`;
        if (op.nos.size > this.acceptors.length - this.#quorumOf(op)) {
          this.#finish(op, failure(OpError.Refused, op.acceptSent ? "unknown" : "no", op.attempts, op.lastError));
        }
        return;
    }
  }

  /** Takes the messages to send and the operations completed since the last call. */
  drain(): { messages: Outgoing[]; completed: Completed[] } {
    const out = { messages: this.#outbox, completed: this.#completed };
    this.#outbox = [];
    this.#completed = [];
    return out;
  }

  hasOutput(): boolean {
    return this.#outbox.length > 0 || this.#completed.length > 0;
  }

  /** Majority for phase 1. Protected so the simulator's mutation check can break it. */
  protected prepareQuorum(): number {
    return majority(this.acceptors.length);
  }

  /** Majority for phase 2. Protected so the simulator's mutation check can break it. */
  protected acceptQuorum(): number {
    return majority(this.acceptors.length);
  }

  /** The state accepted at the highest ballot among the promises. Protected for the mutation check. */
  protected pickState(promises: readonly Promised[]): RegisterState {
    let best: Promised | undefined;
    for (const p of promises) if (!best || compareBallots(p.accepted, best.accepted) > 0) best = p;
    return best?.state ?? EMPTY_REGISTER;
  }

  #quorumOf(op: Op): number {
    return op.phase === Phase.Accepting ? this.acceptQuorum() : this.prepareQuorum();
  }

  #startAttempt(op: Op): void {
    if (op.attempts >= this.limits.attemptsMax) {
      this.#finish(op, failure(OpError.Unavailable, op.acceptSent ? "unknown" : "no", op.attempts, `gave up after ${op.attempts} attempts: ${op.lastError}`));
      return;
    }
    op.attempts++;
    this.stats.attempts++;
    const cached = this.oneRoundTrip ? this.#cache.get(op.key) : undefined;
    if (cached) {
      // A promised ballot is spent by one accept, whatever its outcome.
      this.#cache.delete(op.key);
      op.ballot = cached.ballot;
      op.viaCache = true;
      this.#propose(op, cached.state);
      return;
    }
    op.viaCache = false;
    this.#counter++;
    op.ballot = { n: this.#counter, p: this.id };
    this.#newPhase(op, Phase.Preparing);
    op.promises = [];
    for (const to of this.acceptors) this.#outbox.push({ to, msg: { kind: MsgKind.Prepare, rid: op.rid, key: op.key, ballot: op.ballot } });
  }

  #propose(op: Op, current: RegisterState): void {
    let decided;
    try {
      decided = op.change(current);
    } catch (err) {
      this.#finish(op, failure(OpError.ChangeFailed, op.acceptSent ? "unknown" : "no", op.attempts, `change function threw: ${(err as Error).message}`));
      return;
    }
    const data = decided.write ? decided.data : current.data;
    if (data !== null && !(data instanceof Uint8Array)) {
      this.#finish(op, failure(OpError.Refused, op.acceptSent ? "unknown" : "no", op.attempts, "change function wrote something that is not a Uint8Array or null"));
      return;
    }
    if (data !== null && data.byteLength > PAXOS_LIMITS.valueBytesMax) {
      this.#finish(op, failure(OpError.Refused, op.acceptSent ? "unknown" : "no", op.attempts, `value of ${data.byteLength} bytes exceeds ${PAXOS_LIMITS.valueBytesMax}`));
      return;
    }
    op.proposed = decided.write ? { version: current.version + 1, data } : current;
    op.result = decided.result;
    op.next = this.oneRoundTrip ? { n: op.ballot.n + 1, p: this.id } : null;
    if (op.next && op.next.n > this.#counter) this.#counter = op.next.n;
    if (op.ballot.n > this.#counter) this.#counter = op.ballot.n;
    this.#newPhase(op, Phase.Accepting);
    op.acceptSent = true;
    for (const to of this.acceptors) {
      this.#outbox.push({ to, msg: { kind: MsgKind.Accept, rid: op.rid, key: op.key, ballot: op.ballot, state: op.proposed, next: op.next } });
    }
  }

  #chosen(op: Op): void {
    const state = op.proposed!;
    if (op.next) this.#remember(op.key, op.next, state);
    if (op.viaCache) this.stats.oneRoundTrips++;
    this.#finish(op, { ok: true, result: op.result, state, attempts: op.attempts });
  }

  #remember(key: string, ballot: Ballot, state: RegisterState): void {
    this.#cache.delete(key);
    this.#cache.set(key, { ballot, state });
    if (this.#cache.size > this.limits.cachedKeysMax) this.#cache.delete(this.#cache.keys().next().value!);
  }

  #newPhase(op: Op, phase: Phase): void {
    if (op.rid !== 0) this.#byRid.delete(op.rid);
    op.phase = phase;
    op.rid = ++this.#ridSeq;
    op.oks = new Set();
    op.nos = new Set();
    op.deadlineTick = this.#now + this.limits.attemptTimeoutTicks;
    this.#byRid.set(op.rid, op);
  }

  #failAttempt(op: Op, why: string): void {
    op.lastError = why;
    this.#cache.delete(op.key);
    this.#byRid.delete(op.rid);
    op.rid = 0;
    op.phase = Phase.Backoff;
    const l = this.limits;
    const cap = Math.min(l.backoffMaxTicks, l.backoffMinTicks * 2 ** Math.min(op.attempts - 1, 30));
    op.wakeTick = this.#now + Math.max(1, Math.floor(this.#random() * (cap + 1)));
  }

  #finish(op: Op, outcome: OpOutcome<unknown>): void {
    if (op.rid !== 0) this.#byRid.delete(op.rid);
    op.rid = 0;
    const q = this.#queues.get(op.key)!;
    assert(q[0] === op, `proposer: finishing an operation that is not running on ${op.key}`);
    q.shift();
    this.#ops--;
    if (outcome.ok) this.stats.completed++;
    else this.stats.failed++;
    this.#completed.push({ op: op.id, key: op.key, outcome });
    if (q.length === 0) this.#queues.delete(op.key);
    else this.#startAttempt(q[0]!);
  }
}

function failure(error: OpError, applied: "no" | "unknown", attempts: number, message: string): OpOutcome<never> {
  return { ok: false, error, applied, attempts, message };
}
