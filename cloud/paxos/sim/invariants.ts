// Safety invariants of CASPaxos, checked at the step they could break:
//
//   Promise monotonic:   within one acceptor incarnation a key's promise
//                        never decreases, and accepted <= promise.
//   Promise durable:     after a crash an acceptor has, for every key, a
//                        promise >= every ballot it ever replied with
//                        (promised, accepted, promised-next, or reported
//                        in a conflict). Unsynced writes may be lost, but
//                        never one that a reply depended on.
//   One value a ballot:  all acceptors that accept (key, ballot) accept the
//                        same state (ballots are unique to one proposal).
//   Chosen is final:     once a quorum of acceptors replied Accepted for
//                        (key, b, S) — a reply leaves only after its write is
//                        durable, so an accept lost in a crash before its
//                        fsync does not count — every state accepted at a
//                        higher ballot descends from S: a higher version, or
//                        the same version and the same bytes (an unchanged
//                        write-back).
//
// Linearizability of what clients saw is checked separately on the
// recorded history (cluster.ts, cloud/check/lincheck).

import { InvariantViolation } from "../../raft/sim";
import { compareBallots, formatBallot, maxBallot, sameState, ZERO_BALLOT } from "../types";
import type { AcceptorId, Ballot, RegisterState, Slot } from "../types";

interface Accepted {
  readonly ballot: Ballot;
  readonly state: RegisterState;
  readonly by: Set<AcceptorId>;
  chosen: boolean;
}

export class PaxosInvariants {
  readonly quorum: number;
  checks = 0;
  chosen = 0;
  /** acceptor → key → highest ballot it replied with. */
  readonly #replied = new Map<AcceptorId, Map<string, Ballot>>();
  /** key → ballot text → what was accepted there. */
  readonly #accepted = new Map<string, Map<string, Accepted>>();

  constructor(acceptors: number) {
    this.quorum = Math.floor(acceptors / 2) + 1;
  }

  /** An acceptor changed a slot (in memory, before persisting). */
  onWrite(a: AcceptorId, key: string, before: Slot | undefined, after: Slot): void {
    this.checks++;
    if (before && compareBallots(after.promise, before.promise) < 0) {
      throw new InvariantViolation(`acceptor ${a} key ${key}: promise went down from ${formatBallot(before.promise)} to ${formatBallot(after.promise)}`);
    }
    if (compareBallots(after.accepted, after.promise) > 0) {
      throw new InvariantViolation(`acceptor ${a} key ${key}: accepted ${formatBallot(after.accepted)} above promise ${formatBallot(after.promise)}`);
    }
    const changedAccept = !before || compareBallots(after.accepted, before.accepted) !== 0 || !sameState(after.state, before.state);
    if (changedAccept && compareBallots(after.accepted, ZERO_BALLOT) > 0) this.#record(a, key, after.accepted, after.state);
  }

  /** Acceptor `a` sent Accepted for (key, ballot, state): it counts toward choosing it. */
  onAcceptedReply(a: AcceptorId, key: string, ballot: Ballot, state: RegisterState): void {
    const rec = this.#record(a, key, ballot, state);
    rec.by.add(a);
    if (rec.chosen || rec.by.size < this.quorum) return;
    rec.chosen = true;
    this.chosen++;
    for (const other of this.#accepted.get(key)!.values()) {
      if (compareBallots(other.ballot, ballot) > 0) this.#mustDescend(key, other, rec);
      if (other.chosen && compareBallots(other.ballot, ballot) < 0) this.#mustDescend(key, rec, other);
    }
  }

  /** A reply left acceptor `a` that depends on its promise being at least `ballot`. */
  onReplySent(a: AcceptorId, key: string, ballot: Ballot): void {
    let m = this.#replied.get(a);
    if (!m) this.#replied.set(a, (m = new Map()));
    m.set(key, maxBallot(m.get(key) ?? ZERO_BALLOT, ballot));
  }

  /** Acceptor `a` restarted with `slots` loaded from its disk. */
  onRestart(a: AcceptorId, slots: ReadonlyMap<string, Slot>): void {
    this.checks++;
    for (const [key, ballot] of this.#replied.get(a) ?? []) {
      const promise = slots.get(key)?.promise ?? ZERO_BALLOT;
      if (compareBallots(promise, ballot) < 0) {
        throw new InvariantViolation(`acceptor ${a} key ${key}: restarted with promise ${formatBallot(promise)} but had replied with ${formatBallot(ballot)} (a reply left before its write was durable)`);
      }
    }
  }

  /** What was accepted at (key, ballot): one state only; descends from every state chosen below it. */
  #record(a: AcceptorId, key: string, ballot: Ballot, state: RegisterState): Accepted {
    let byBallot = this.#accepted.get(key);
    if (!byBallot) this.#accepted.set(key, (byBallot = new Map()));
    const id = formatBallot(ballot);
    let rec = byBallot.get(id);
    if (!rec) {
      rec = { ballot, state, by: new Set(), chosen: false };
      byBallot.set(id, rec);
      for (const other of byBallot.values()) {
        if (other.chosen && compareBallots(other.ballot, ballot) < 0) this.#mustDescend(key, rec, other);
      }
    } else if (!sameState(rec.state, state)) {
      throw new InvariantViolation(`key ${key} ballot ${id}: acceptor ${a} accepted version ${state.version}, another accepted version ${rec.state.version} with other bytes (two values in one ballot)`);
    }
    return rec;
  }

  #mustDescend(key: string, later: Accepted, chosen: Accepted): void {
    this.checks++;
    const v = later.state.version;
    const c = chosen.state.version;
    if (v > c || (v === c && sameState(later.state, chosen.state))) return;
    throw new InvariantViolation(
      `key ${key}: state chosen at ${formatBallot(chosen.ballot)} (version ${c}) is not an ancestor of the state accepted at ` +
      `${formatBallot(later.ballot)} (version ${v}${v === c ? ", other bytes" : ""}): a chosen value was lost`,
    );
  }
}
