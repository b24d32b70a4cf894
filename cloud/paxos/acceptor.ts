// The CASPaxos acceptor: a pure state machine, one slot per key.
//
//   prepare(b):        b > promise            → promise := b; reply Promise(accepted, state)
//                      otherwise               → Conflict(promise)
//   accept(b, s, nx):  b >= promise           → accepted := b, state := s,
//                                               promise := max(b, nx); reply Accepted
//                      otherwise               → Conflict(promise)
//
// handle() returns the reply and the slot to persist. The caller must make
// the slot durable (fsync) before the reply leaves: a promise or an accept
// that is forgotten in a crash breaks Paxos. (The simulator's mutation check
// shows what happens when a driver replies first: cloud/paxos/sim.)
//
// Prepare requires a strictly higher ballot, so a duplicated prepare is
// answered once with a promise and then with a conflict; accept allows an
// equal ballot, so the proposer that holds the promise for b (by prepare or
// by the one-round-trip `next`) can use it, and a duplicated accept is
// idempotent. Invariant: accepted <= promise for every slot.
//
// Limits: `keysMax` slots; a prepare or accept for a new key beyond it, an
// oversized value or a malformed ballot is refused (a typed reply, nothing
// stored). Slots are never deleted: the version in a register is a fencing
// token that must not restart.

import {
  MsgKind,
  PAXOS_LIMITS,
  EMPTY_SLOT,
  assert,
  ballotLess,
  keyProblem,
  maxBallot,
  sameState,
  compareBallots,
  proposerIdProblem,
} from "./types";
import type { Accept, AcceptorId, AcceptorReply, AcceptorRequest, Ballot, Prepare, Slot } from "./types";

export interface AcceptorLimits {
  /** Registers (keys) one acceptor holds. */
  readonly keysMax: number;
}

export const ACCEPTOR_DEFAULTS: AcceptorLimits = { keysMax: 100_000 };

export interface Handled {
  readonly reply: AcceptorReply;
  /** Persist before sending the reply; null when nothing changed. */
  readonly write: { readonly key: string; readonly slot: Slot } | null;
}

export interface AcceptorStats {
  prepares: number;
  accepts: number;
  conflicts: number;
  refused: number;
}

export class Acceptor {
  readonly id: AcceptorId;
  readonly limits: AcceptorLimits;
  readonly stats: AcceptorStats = { prepares: 0, accepts: 0, conflicts: 0, refused: 0 };
  readonly #slots = new Map<string, Slot>();

  constructor(id: AcceptorId, slots: Iterable<readonly [string, Slot]> = [], limits: Partial<AcceptorLimits> = {}) {
    assert(Number.isSafeInteger(id) && id >= 1, `acceptor id must be a positive integer, got ${id}`);
    this.id = id;
    this.limits = { ...ACCEPTOR_DEFAULTS, ...limits };
    assert(Number.isSafeInteger(this.limits.keysMax) && this.limits.keysMax >= 1, `keysMax must be a positive integer`);
    for (const [key, slot] of slots) {
      assert(!ballotLess(slot.promise, slot.accepted), `loaded slot ${key}: accepted above promise`);
      this.#slots.set(key, slot);
    }
  }

  get size(): number {
    return this.#slots.size;
  }

  slot(key: string): Slot | undefined {
    return this.#slots.get(key);
  }

  slots(): IterableIterator<[string, Slot]> {
    return this.#slots.entries();
  }

  handle(req: AcceptorRequest): Handled {
    const refusal = this.#refusal(req);
    if (refusal !== undefined) {
      this.stats.refused++;
      return { reply: { kind: MsgKind.Refused, rid: req.rid, key: req.key, reason: refusal }, write: null };
    }
    return req.kind === MsgKind.Prepare ? this.#prepare(req) : this.#accept(req);
  }

  /**
   * Whether an accept at `ballot` may overwrite `slot`. Protected so the
   * simulator's mutation check can break it; nothing else overrides it.
   */
  protected mayAccept(slot: Slot, ballot: Ballot): boolean {
    return !ballotLess(ballot, slot.promise);
  }

  #prepare(req: Prepare): Handled {
    this.stats.prepares++;
    const slot = this.#slots.get(req.key) ?? EMPTY_SLOT;
    if (compareBallots(req.ballot, slot.promise) <= 0) return this.#conflict(req, slot);
    const next: Slot = { promise: req.ballot, accepted: slot.accepted, state: slot.state };
    this.#slots.set(req.key, next);
    return {
      reply: { kind: MsgKind.Promise, rid: req.rid, key: req.key, accepted: slot.accepted, state: slot.state },
      write: { key: req.key, slot: next },
    };
  }

  #accept(req: Accept): Handled {
    this.stats.accepts++;
    const slot = this.#slots.get(req.key) ?? EMPTY_SLOT;
    if (!this.mayAccept(slot, req.ballot)) return this.#conflict(req, slot);
    const promise = maxBallot(slot.promise, req.next ?? req.ballot);
    const next: Slot = { promise: maxBallot(promise, req.ballot), accepted: req.ballot, state: req.state };
    const unchanged = compareBallots(next.promise, slot.promise) === 0 && compareBallots(next.accepted, slot.accepted) === 0 && sameState(next.state, slot.state);
    if (!unchanged) this.#slots.set(req.key, next);
    return { reply: { kind: MsgKind.Accepted, rid: req.rid, key: req.key }, write: unchanged ? null : { key: req.key, slot: next } };
  }

  #conflict(req: AcceptorRequest, slot: Slot): Handled {
    this.stats.conflicts++;
    return { reply: { kind: MsgKind.Conflict, rid: req.rid, key: req.key, seen: slot.promise }, write: null };
  }

  #refusal(req: AcceptorRequest): string | undefined {
    const kp = keyProblem(req.key);
    if (kp) return kp;
    const bp = ballotProblem(req.ballot);
    if (bp) return bp;
    if (!this.#slots.has(req.key) && this.#slots.size >= this.limits.keysMax) return `acceptor ${this.id} holds ${this.limits.keysMax} keys (keysMax)`;
    if (req.kind === MsgKind.Accept) {
      const data = req.state.data;
      if (data !== null && data.byteLength > PAXOS_LIMITS.valueBytesMax) return `value of ${data.byteLength} bytes exceeds ${PAXOS_LIMITS.valueBytesMax}`;
      if (!Number.isSafeInteger(req.state.version) || req.state.version < 0) return `version ${req.state.version} is not a non-negative integer`;
      if (req.next !== null) {
        const np = ballotProblem(req.next);
        if (np) return `next ${np}`;
        if (!ballotLess(req.ballot, req.next)) return "next ballot must be above the accept ballot";
      }
    }
    return undefined;
  }
}

export function ballotProblem(b: Ballot): string | undefined {
  if (!Number.isSafeInteger(b.n) || b.n < 1) return `ballot counter ${b.n} is not a positive integer`;
  return proposerIdProblem(b.p);
}
