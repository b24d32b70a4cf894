// Contracts of the Raft core: messages, entries, hard state, snapshots and
// configuration. The core is pure: time is integer ticks supplied by the
// caller, randomness comes from an injected source, and all I/O happens in
// the caller between Ready and advance().

/** Node ids are positive integers; 0 means "no node". */
export type NodeId = number;
export const NONE: NodeId = 0;

export const EntryType = {
  Normal: 0,
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** State that must be on stable storage before any message is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}
export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NONE, commit: 0 };

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Membership: voters decide elections and commits; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export const EMPTY_SNAPSHOT: Snapshot = {
  metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
  data: new Uint8Array(0),
};

export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0;
}

export const ConfChangeType = {
  AddNode: 0,
  AddLearner: 1,
  RemoveNode: 2,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** One server at a time (Raft dissertation §4.1). */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out = new Uint8Array(5);
  const view = new DataView(out.buffer);
  view.setUint8(0, cc.type);
  view.setUint32(1, cc.nodeId);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.length !== 5) throw new Error(`raft: conf change must be 5 bytes, got ${data.length}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = view.getUint8(0);
  if (type > ConfChangeType.RemoveNode) throw new Error(`raft: unknown conf change type ${type}`);
  const nodeId = view.getUint32(1);
  if (nodeId === NONE) throw new Error("raft: conf change for node 0");
  return { type: type as ConfChangeType, nodeId };
}

export const MessageType = {
  /** local: start an election (pre-vote first if enabled). */
  Hup: 0,
  /** local: leader sends heartbeats. */
  Beat: 1,
  /** local or forwarded: propose entries. */
  Prop: 2,
  App: 3,
  AppResp: 4,
  Vote: 5,
  VoteResp: 6,
  PreVote: 7,
  PreVoteResp: 8,
  /** one chunk of an InstallSnapshot. */
  Snap: 9,
  /** follower acknowledges snapshot chunks up to `index` bytes (offset). */
  SnapResp: 10,
  Heartbeat: 11,
  HeartbeatResp: 12,
  /** local: leader checks it heard from a quorum during the last election timeout. */
  CheckQuorum: 13,
  /** ask the leader to hand leadership to `from`. */
  TransferLeader: 14,
  /** leader tells the transferee to campaign now. */
  TimeoutNow: 15,
  ReadIndex: 16,
  ReadIndexResp: 17,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const MESSAGE_TYPE_NAMES: Record<MessageType, string> = Object.fromEntries(
  Object.entries(MessageType).map(([k, v]) => [v, k]),
) as Record<MessageType, string>;

export function isLocalMessage(t: MessageType): boolean {
  return t === MessageType.Hup || t === MessageType.Beat || t === MessageType.CheckQuorum;
}

export function isResponseMessage(t: MessageType): boolean {
  return (
    t === MessageType.AppResp ||
    t === MessageType.VoteResp ||
    t === MessageType.PreVoteResp ||
    t === MessageType.HeartbeatResp ||
    t === MessageType.SnapResp ||
    t === MessageType.ReadIndexResp
  );
}

/** One chunk of a snapshot in flight; the follower assembles chunks in order. */
export interface SnapshotChunk {
  readonly metadata: SnapshotMetadata;
  readonly offset: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
}

export interface Message {
  readonly type: MessageType;
  readonly to: NodeId;
  readonly from: NodeId;
  readonly term: number;
  /** App: term of the entry at `index`; AppResp reject: hint term. */
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly snapshot?: SnapshotChunk;
  /** ReadIndex / Heartbeat request context; Vote: campaign reason. */
  readonly context?: Uint8Array;
}

export function message(fields: Partial<Message> & Pick<Message, "type">): Message {
  return {
    to: NONE,
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...fields,
  };
}

export const StateType = {
  Follower: 0,
  Candidate: 1,
  Leader: 2,
  PreCandidate: 3,
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];
export const STATE_NAMES = ["Follower", "Candidate", "Leader", "PreCandidate"] as const;

export interface SoftState {
  readonly lead: NodeId;
  readonly state: StateType;
}

export const ReadOnlyOption = {
  /** Leader confirms leadership with a heartbeat round for each batch of reads (safe). */
  Safe: 0,
  /** Leader trusts its lease; requires checkQuorum and bounded clock drift. */
  LeaseBased: 1,
} as const;
export type ReadOnlyOption = (typeof ReadOnlyOption)[keyof typeof ReadOnlyOption];

export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/** Seeded random source: returns an integer in [0, n). */
export type RandomInt = (n: number) => number;

export interface RaftConfig {
  readonly id: NodeId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly random: RandomInt;
  /** Last applied index on restart (entries above it are re-delivered). */
  readonly applied?: number;
  /** Bytes of entries in one MsgApp (at least one entry is always sent). */
  readonly msgBytesMax?: number;
  /** In-flight MsgApp per follower in replicate state. */
  readonly inflightMsgsMax?: number;
  /** In-flight bytes per follower (0 = unlimited). */
  readonly inflightBytesMax?: number;
  /** Bytes of proposed but uncommitted entries the leader accepts (0 = unlimited). */
  readonly uncommittedBytesMax?: number;
  /** Bytes per InstallSnapshot chunk. */
  readonly snapshotChunkBytesMax?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly readOnlyOption?: ReadOnlyOption;
  /** Reads waiting for the leader's first commit in its term. */
  readIndexPendingMax?: number;
  readonly logger?: RaftLogger;
}

export interface RaftLogger {
  debug(msg: string): void;
  warn(msg: string): void;
}

export const SILENT_LOGGER: RaftLogger = { debug() {}, warn() {} };

export const DEFAULTS = {
  msgBytesMax: 1 << 20,
  inflightMsgsMax: 256,
  inflightBytesMax: 0,
  uncommittedBytesMax: 0,
  snapshotChunkBytesMax: 64 << 10,
  readIndexPendingMax: 4096,
} as const;

/** Error codes for expected failures of propose/readIndex: typed, not thrown. */
export const ProposalError = {
  Dropped: "dropped",
  NotLeader: "not-leader",
  TransferInProgress: "transfer-in-progress",
  ConfChangePending: "conf-change-pending",
  TooLarge: "too-large",
} as const;
export type ProposalError = (typeof ProposalError)[keyof typeof ProposalError];

export function entryBytes(e: Entry): number {
  return e.data.byteLength + 24;
}

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`raft invariant: ${msg}`);
}
