// Pure quorum arithmetic: majority commit index and vote tallies, for a
// single majority configuration and for a joint one (C_old,new needs a
// majority of each half). The Raft core uses single-server changes, whose
// configurations are plain majorities; the joint form is kept here, tested,
// so a joint-consensus change can plug in later.

import type { NodeId } from "./types";

export const VoteResult = {
  Pending: 0,
  Lost: 1,
  Won: 2,
} as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

/** Returns the acked index of a voter, or undefined when unknown. */
export type AckedIndexer = (id: NodeId) => number | undefined;

/**
 * Largest index acknowledged by a majority of `voters`. An empty config
 * commits everything (Infinity) so it is neutral inside a joint config.
 */
export function majorityCommitted(voters: ReadonlySet<NodeId>, acked: AckedIndexer): number {
  const n = voters.size;
  if (n === 0) return Number.POSITIVE_INFINITY;
  const indexes: number[] = [];
  for (const id of voters) indexes.push(acked(id) ?? 0);
  indexes.sort((a, b) => b - a);
  // The (n/2+1)-th largest index is held by a majority.
  return indexes[Math.floor(n / 2)]!;
}

export function majorityVoteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return VoteResult.Won;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (granted >= q) return VoteResult.Won;
  if (granted + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}

/** A joint configuration: `incoming` and `outgoing` must both agree. */
export interface JointConfig {
  readonly incoming: ReadonlySet<NodeId>;
  readonly outgoing: ReadonlySet<NodeId>;
}

export function jointCommitted(cfg: JointConfig, acked: AckedIndexer): number {
  const a = majorityCommitted(cfg.incoming, acked);
  const b = majorityCommitted(cfg.outgoing, acked);
  const idx = Math.min(a, b);
  // Both halves empty: nothing can be committed by a quorum.
  return idx === Number.POSITIVE_INFINITY ? 0 : idx;
}

export function jointVoteResult(cfg: JointConfig, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const a = majorityVoteResult(cfg.incoming, votes);
  const b = majorityVoteResult(cfg.outgoing, votes);
  if (a === b) return a;
  if (a === VoteResult.Lost || b === VoteResult.Lost) return VoteResult.Lost;
  return VoteResult.Pending;
}

/** True when the ids in `active` form a quorum of the config. */
export function jointHasQuorum(cfg: JointConfig, active: ReadonlySet<NodeId>): boolean {
  const votes = new Map<NodeId, boolean>();
  for (const id of cfg.incoming) votes.set(id, active.has(id));
  for (const id of cfg.outgoing) votes.set(id, active.has(id));
  return jointVoteResult(cfg, votes) === VoteResult.Won;
}
