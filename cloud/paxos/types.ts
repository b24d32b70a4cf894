// Vocabulary of CASPaxos (Rystsov 2018, "CASPaxos: Replicated State
// Machines without logs"): ballots, the register's state, the messages
// between proposers and acceptors, and the named limits.
//
// One register per key. An acceptor keeps per key the highest ballot it
// promised, the ballot of the state it accepted last, and that state. A
// proposer changes a register in two phases: prepare(b) to a quorum, which
// answers with what it accepted; then accept(b, f(state)) where `state` is
// the one accepted at the highest ballot and f is the client's change
// function. Every operation, a read too, goes through both phases (the
// accept makes the state it read chosen).

/** Acceptor identity: a small positive integer, fixed per deployment. */
export type AcceptorId = number;

/**
 * A ballot: (counter, proposer id), ordered by counter then id. Proposer ids
 * are unique per proposer incarnation, so no two proposals share a ballot.
 */
export interface Ballot {
  readonly n: number;
  readonly p: string;
}

/** Below every real ballot (real ones have n >= 1 and a non-empty id). */
export const ZERO_BALLOT: Ballot = Object.freeze({ n: 0, p: "" });

/**
 * The value of a register: opaque bytes (null = empty) and a version that
 * counts the writes that changed it, so it can serve as a fencing token.
 */
export interface RegisterState {
  readonly version: number;
  readonly data: Uint8Array | null;
}

export const EMPTY_REGISTER: RegisterState = Object.freeze({ version: 0, data: null });

/** What an acceptor stores per key. Invariant: accepted <= promise. */
export interface Slot {
  readonly promise: Ballot;
  readonly accepted: Ballot;
  readonly state: RegisterState;
}

export const EMPTY_SLOT: Slot = Object.freeze({ promise: ZERO_BALLOT, accepted: ZERO_BALLOT, state: EMPTY_REGISTER });

// ---------------------------------------------------------------- messages

export const MsgKind = {
  Prepare: 1,
  Accept: 2,
  Promise: 3,
  Accepted: 4,
  /** The acceptor saw a higher ballot: `seen`. */
  Conflict: 5,
  /** Outside a limit (key or value size, keys per acceptor): retrying will not help. */
  Refused: 6,
} as const;
export type MsgKind = (typeof MsgKind)[keyof typeof MsgKind];

/** `rid` identifies one phase of one attempt at the proposer that sent it. */
export interface Prepare {
  readonly kind: typeof MsgKind.Prepare;
  readonly rid: number;
  readonly key: string;
  readonly ballot: Ballot;
}

export interface Accept {
  readonly kind: typeof MsgKind.Accept;
  readonly rid: number;
  readonly key: string;
  readonly ballot: Ballot;
  readonly state: RegisterState;
  /** One-round-trip optimization: also promise this (higher) ballot once accepted. */
  readonly next: Ballot | null;
}

export interface PromiseReply {
  readonly kind: typeof MsgKind.Promise;
  readonly rid: number;
  readonly key: string;
  readonly accepted: Ballot;
  readonly state: RegisterState;
}

export interface AcceptedReply {
  readonly kind: typeof MsgKind.Accepted;
  readonly rid: number;
  readonly key: string;
}

export interface ConflictReply {
  readonly kind: typeof MsgKind.Conflict;
  readonly rid: number;
  readonly key: string;
  readonly seen: Ballot;
}

export interface RefusedReply {
  readonly kind: typeof MsgKind.Refused;
  readonly rid: number;
  readonly key: string;
  readonly reason: string;
}

export type AcceptorRequest = Prepare | Accept;
export type AcceptorReply = PromiseReply | AcceptedReply | ConflictReply | RefusedReply;
export type PaxosMessage = AcceptorRequest | AcceptorReply;

// ---------------------------------------------------------------- limits

export const PAXOS_LIMITS = {
  /** Key length in UTF-8 bytes. */
  keyBytesMax: 256,
  /** Register value in bytes. */
  valueBytesMax: 64 << 10,
  /** Proposer id length in UTF-8 bytes. */
  proposerIdBytesMax: 96,
  /** Refusal reasons on the wire. */
  reasonBytesMax: 256,
  /** Messages in one wire frame. */
  frameMessagesMax: 4096,
  /** One wire frame (below nats-server's default max_payload of 1 MiB). */
  frameBytesMax: 900 << 10,
} as const;

export class PaxosAssertionError extends Error {
  override readonly name = "PaxosAssertionError";
}

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new PaxosAssertionError(msg);
}

// ---------------------------------------------------------------- ballots

export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.n !== b.n) return a.n < b.n ? -1 : 1;
  return a.p < b.p ? -1 : a.p > b.p ? 1 : 0;
}

export function ballotLess(a: Ballot, b: Ballot): boolean {
  return compareBallots(a, b) < 0;
}

export function maxBallot(a: Ballot, b: Ballot): Ballot {
  return compareBallots(a, b) >= 0 ? a : b;
}

export function formatBallot(b: Ballot): string {
  return `${b.n}.${b.p}`;
}

export function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Why a key is not acceptable, or undefined. */
export function keyProblem(key: string): string | undefined {
  if (typeof key !== "string" || key.length === 0) return "key must be a non-empty string";
  if (utf8Bytes(key) > PAXOS_LIMITS.keyBytesMax) return `key longer than ${PAXOS_LIMITS.keyBytesMax} bytes`;
  return undefined;
}

export function proposerIdProblem(id: string): string | undefined {
  if (typeof id !== "string" || id.length === 0) return "proposer id must be a non-empty string";
  if (utf8Bytes(id) > PAXOS_LIMITS.proposerIdBytesMax) return `proposer id longer than ${PAXOS_LIMITS.proposerIdBytesMax} bytes`;
  return undefined;
}

/** Majority of n acceptors. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

export function sameState(a: RegisterState, b: RegisterState): boolean {
  if (a.version !== b.version) return false;
  if (a.data === null || b.data === null) return a.data === b.data;
  if (a.data.byteLength !== b.data.byteLength) return false;
  for (let i = 0; i < a.data.byteLength; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
