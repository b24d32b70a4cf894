// The leader's view of one follower (etcd's tracker.Progress): how far its
// log matches, what to send next, and how much may be in flight.
//
//   Probe:     one MsgApp per heartbeat interval until the match is found.
//   Replicate: optimistic pipelining, bounded by Inflights.
//   Snapshot:  the follower needs a snapshot; MsgApp stops until it lands.

import { Inflights } from "./inflights";
import { assert } from "./types";

export const ProgressState = {
  Probe: 0,
  Replicate: 1,
  Snapshot: 2,
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];
export const PROGRESS_STATE_NAMES = ["Probe", "Replicate", "Snapshot"] as const;

export class Progress {
  /** Invariant: 0 <= match < next. */
  match = 0;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** In Probe: a MsgApp was sent and no response or heartbeat has come since. */
  probeSent = false;
  /** Snapshot state: index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Snapshot state: byte offset of the next chunk to send. */
  snapshotOffset = 0;
  /** Snapshot state: ticks since the last chunk ack, for retransmission. */
  snapshotIdleTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, inflightMsgsMax: number, inflightBytesMax: number, isLearner: boolean) {
    assert(next >= 1, `progress next must be >= 1, got ${next}`);
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(inflightMsgsMax, inflightBytesMax);
  }

  #resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotOffset = 0;
    this.snapshotIdleTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it: the follower has it now or
    // will reject and we probe back down.
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.#resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.#resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.#resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.#resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** Called when entries up to `lastIndex` were sent (bytes for flow control). */
  sentEntries(lastIndex: number, bytes: number): void {
    if (this.state === ProgressState.Replicate) {
      if (lastIndex >= this.next) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true;
    } else {
      assert(false, `sending entries in state ${PROGRESS_STATE_NAMES[this.state]}`);
    }
  }

  /** Follower acknowledged `n`; returns false when the ack is stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * Follower rejected MsgApp at `rejected`; `matchHint` is the highest index
   * that may match. Returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      // Stale if it is about something already matched.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probe: only the latest probe (next - 1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** True when no MsgApp should be sent right now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      default:
        return true;
    }
  }
}
