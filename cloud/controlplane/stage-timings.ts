// Where a write's time goes inside one replica, always on: each proposal
// served by the leader carries a ProposalClock (a few performance.now()
// readings, filled in by the service and the Raft driver as it passes each
// step); when its reply is published the clock becomes one duration per
// stage. A follower times each MsgApp with entries from its arrival to its
// ack, the leader each MsgApp with entries from its send to that follower's
// ack (so the broker legs between them are the difference). Kept per stage: cumulative count and sum (a reader takes the
// difference of two readings to cover exactly one phase of a benchmark) and
// the last `STAGE_WINDOW` values (recent mean and median). A traced
// request's spans (spans.ts) take their times from the same clock.
//
// Leader stages, back to back (each boundary is clamped to be no earlier
// than the one before, so they are never negative and add up exactly to
// total_in_leader):
//
//   receive      request received by the service → proposal queued for the
//                Raft pass (parse, validate, encode)
//   queue        queued → stepped into Raft (waiting for the Raft pass)
//   append_send  stepped → its MsgApp written to the NATS socket (Ready, WAL
//                write, encoding; with --strict-leader-append also the fsync)
//   replication  MsgApp written → the ack that committed it received by the
//                leader's socket callback (NATS legs + the follower's work)
//   commit_wait  ack received → ack stepped into Raft (waiting for the Raft
//                pass, e.g. behind the leader's own fsync)
//   apply        commit stepped → applied to the state machine
//   reply        applied → reply handed to NATS (msg.respond returned)
//
// Besides: total_in_leader (received → reply handed to NATS), leader_fsync
// (the fdatasync of the Ready that carried the entry; with the parallel
// leader append it runs during `replication`) and follower_round_trip (a
// MsgApp with entries written to the socket → that follower's ack received;
// per follower, where `replication` is the faster of them). Follower stages:
// follower_ack (a MsgApp with entries received by the socket callback → its
// ack written to the socket), back to back: follower_queue (received →
// stepped: waiting for the Raft pass), follower_persist (→ WAL written and
// synced, ack handed to NATS; follower_fsync, its fdatasync, is part of it),
// follower_send (→ ack written to the socket).
import { performance } from "node:perf_hooks";

/** Values per stage kept for the recent mean and median (a benchmark point of a few seconds fills it). */
export const STAGE_WINDOW = 256;

export const LEADER_STAGES = ["receive", "queue", "append_send", "replication", "commit_wait", "apply", "reply"] as const;
export const STAGES = [...LEADER_STAGES, "total_in_leader", "leader_fsync", "follower_round_trip", "follower_ack", "follower_queue", "follower_persist", "follower_send", "follower_fsync"] as const;
export type Stage = (typeof STAGES)[number];
/** A stage's slot in the arrays below (add() runs per write and per MsgApp). */
const STAGE_INDEX: ReadonlyMap<Stage, number> = new Map(STAGES.map((s, i) => [s, i]));
const TOTAL = STAGES.indexOf("total_in_leader");
const LEADER_FSYNC = STAGES.indexOf("leader_fsync");

/** performance.now() readings of one proposal on the leader; 0 = not reached. */
export interface ProposalClock {
  receivedAt: number;
  queuedAt: number;
  steppedAt: number;
  sentAt: number;
  ackArrivedAt: number;
  committedAt: number;
  appliedAt: number;
  /** The leader's fdatasync of the Ready that carried the entry (ms). */
  fsyncMs: number;
  /** The entry's place in the log once stepped (0: not yet). */
  index: number;
  term: number;
}

export function newProposalClock(): ProposalClock {
  return { receivedAt: performance.now(), queuedAt: 0, steppedAt: 0, sentAt: 0, ackArrivedAt: 0, committedAt: 0, appliedAt: 0, fsyncMs: 0, index: 0, term: 0 };
}

export interface StageStats {
  /** Values observed since the process started. */
  readonly count: number;
  readonly sumMs: number;
  /** Over the last `window` values (at most STAGE_WINDOW). */
  readonly window: number;
  readonly meanMs: number;
  readonly p50Ms: number;
}

/** The compact summary in raft.status: stages with at least one value. */
export type StageSummary = Partial<Record<Stage, StageStats>>;

export type StageObserver = (stage: Stage, seconds: number) => void;

export class StageTimings {
  readonly #count = new Float64Array(STAGES.length);
  readonly #sum = new Float64Array(STAGES.length);
  readonly #recent = STAGES.map(() => new Float64Array(STAGE_WINDOW));
  readonly #observe: StageObserver | undefined;

  constructor(observe?: StageObserver) {
    this.#observe = observe;
  }

  add(stage: Stage, ms: number): void {
    this.#add(STAGE_INDEX.get(stage)!, ms);
  }

  /** A proposal whose reply was just handed to NATS at `repliedAt`. */
  addProposal(c: ProposalClock, repliedAt: number): void {
    let at = c.receivedAt;
    at = this.#step(0, at, c.queuedAt, repliedAt);
    at = this.#step(1, at, c.steppedAt, repliedAt);
    at = this.#step(2, at, c.sentAt, repliedAt);
    at = this.#step(3, at, c.ackArrivedAt, repliedAt);
    at = this.#step(4, at, c.committedAt, repliedAt);
    at = this.#step(5, at, c.appliedAt, repliedAt);
    this.#step(6, at, repliedAt, repliedAt);
    this.#add(TOTAL, Math.max(0, repliedAt - c.receivedAt));
    if (c.fsyncMs > 0) this.#add(LEADER_FSYNC, c.fsyncMs);
  }

  /** Stage `i` from `from` to `t` (not reached: 0), clamped to [from, last]; returns its end. */
  #step(i: number, from: number, t: number, last: number): number {
    const end = Math.max(from, Math.min(t || from, last));
    this.#add(i, end - from);
    return end;
  }

  #add(i: number, ms: number): void {
    this.#recent[i]![this.#count[i]! % STAGE_WINDOW] = ms;
    this.#count[i]!++;
    this.#sum[i]! += ms;
    this.#observe?.(STAGES[i]!, ms / 1000);
  }

  summary(): StageSummary {
    const out: StageSummary = {};
    const scratch = new Float64Array(STAGE_WINDOW);
    STAGES.forEach((stage, i) => {
      const count = this.#count[i]!;
      if (count === 0) return;
      const n = Math.min(count, STAGE_WINDOW);
      const recent = scratch.subarray(0, n);
      recent.set(this.#recent[i]!.subarray(0, n));
      recent.sort();
      let sum = 0;
      for (const v of recent) sum += v;
      out[stage] = { count, sumMs: round(this.#sum[i]!), window: n, meanMs: round(sum / n), p50Ms: round(recent[Math.floor(n / 2)]!) };
    });
    return out;
  }
}

/** Microsecond resolution is plenty for a status answer. */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
