// The Raft state machine (etcd-io/raft's raft.go, in TypeScript): one
// thread, two inputs — step(message) and tick() — and collected outputs
// (`msgs`, `readStates`, log changes) that RawNode turns into a Ready.
// No I/O, no clock, no randomness except config.random.

import { RaftLog } from "./log";
import { Progress, ProgressState } from "./progress";
import { VoteResult, majorityCommitted, majorityVoteResult } from "./quorum";
import { resolveConfig } from "./config";
import type { ResolvedConfig } from "./config";
import { ReadOnly } from "./read-only";
import { SnapshotReceiver, snapshotChunk } from "./snapshot-receiver";
import type { LogReader } from "./storage/types";
import {
  ConfChangeType,
  EntryType,
  MESSAGE_TYPE_NAMES,
  MessageType,
  NONE,
  ProposalError,
  ReadOnlyOption,
  SILENT_LOGGER,
  STATE_NAMES,
  StateType,
  assert,
  decodeConfChange,
  entryBytes,
  message,
} from "./types";
import type {
  ConfChange,
  ConfState,
  Entry,
  Message,
  NodeId,
  RaftConfig,
  RaftLogger,
  ReadState,
  Snapshot,
} from "./types";

/** Context marking a vote caused by leadership transfer: voters skip the lease check. */
export const CAMPAIGN_TRANSFER = new Uint8Array([0x54]); // "T"

export type StepResult = { ok: true } | { ok: false; error: ProposalError };
const OK: StepResult = { ok: true };
const fail = (error: ProposalError): StepResult => ({ ok: false, error });

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  state: StateType = StateType.Follower;
  readonly log: RaftLog;
  /** Voters and learners, including ourselves when we are a member. */
  readonly prs = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();
  /** Outbox; RawNode moves it into a Ready. */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** Leader: index of the last conf change proposed; no new one until applied. */
  pendingConfIndex = 0;
  /** Leader: bytes of proposed, uncommitted entries. */
  uncommittedBytes = 0;
  leadTransferee: NodeId = NONE;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly readOnlyOption: ReadOnlyOption;
  readonly readOnly: ReadOnly;
  /** Reads that arrived before the leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  readonly #cfg: ResolvedConfig;
  readonly #random: (n: number) => number;
  readonly logger: RaftLogger;
  readonly #snapReceiver = new SnapshotReceiver();

  constructor(config: RaftConfig, storage: LogReader) {
    this.#cfg = resolveConfig(config);
    this.id = config.id;
    this.electionTicks = config.electionTicks;
    this.heartbeatTicks = config.heartbeatTicks;
    this.checkQuorum = this.#cfg.checkQuorum;
    this.preVote = this.#cfg.preVote;
    this.readOnlyOption = this.#cfg.readOnlyOption;
    this.readOnly = new ReadOnly(this.#cfg.readIndexPendingMax);
    this.#random = config.random;
    this.logger = config.logger ?? SILENT_LOGGER;
    this.log = new RaftLog(storage, config.applied ?? 0);
    const { hardState, confState } = storage.initialState();
    this.#applyConfState(confState);
    if (hardState.term > 0 || hardState.vote !== NONE) {
      assert(hardState.commit <= this.log.lastIndex(), `hard state commit ${hardState.commit} beyond log`);
      this.term = hardState.term;
      this.vote = hardState.vote;
    }
    this.becomeFollower(this.term, NONE);
  }

  // ---------------------------------------------------------------- config

  voters(): NodeId[] {
    return [...this.prs].filter(([, p]) => !p.isLearner).map(([id]) => id).sort((a, b) => a - b);
  }

  learners(): NodeId[] {
    return [...this.prs].filter(([, p]) => p.isLearner).map(([id]) => id).sort((a, b) => a - b);
  }

  confState(): ConfState {
    return { voters: this.voters(), learners: this.learners() };
  }

  #voterSet(): Set<NodeId> {
    const s = new Set<NodeId>();
    for (const [id, p] of this.prs) if (!p.isLearner) s.add(id);
    return s;
  }

  #applyConfState(cs: ConfState): void {
    this.prs.clear();
    const next = this.log.lastIndex() + 1;
    for (const id of cs.voters) this.#addProgress(id, next, false);
    for (const id of cs.learners) {
      assert(!cs.voters.includes(id), `node ${id} is both voter and learner`);
      this.#addProgress(id, next, true);
    }
  }

  #addProgress(id: NodeId, next: number, isLearner: boolean): void {
    const p = new Progress(next, this.#cfg.inflightMsgsMax, this.#cfg.inflightBytesMax, isLearner);
    p.recentActive = true;
    if (id === this.id) p.match = next - 1;
    this.prs.set(id, p);
  }

  /** Applies a committed conf change (called by RawNode when the entry is applied). */
  applyConfChange(cc: ConfChange): ConfState {
    const p = this.prs.get(cc.nodeId);
    switch (cc.type) {
      case ConfChangeType.AddNode:
        if (p) p.isLearner = false;
        else this.#addProgress(cc.nodeId, this.log.lastIndex() + 1, false);
        break;
      case ConfChangeType.AddLearner:
        if (p && !p.isLearner) this.logger.warn(`raft ${this.id}: ignoring demotion of voter ${cc.nodeId}`);
        else if (!p) this.#addProgress(cc.nodeId, this.log.lastIndex() + 1, true);
        break;
      case ConfChangeType.RemoveNode:
        this.prs.delete(cc.nodeId);
        break;
    }
    if (this.state === StateType.Leader) {
      if (!this.prs.has(this.id) || this.prs.get(this.id)!.isLearner) {
        // A leader removed from the voters steps down; the rest elect a new one.
        this.becomeFollower(this.term, NONE);
      } else {
        if (this.leadTransferee !== NONE && !this.prs.has(this.leadTransferee)) this.abortLeaderTransfer();
        if (this.#maybeCommit()) this.bcastAppend();
      }
    }
    return this.confState();
  }

  // ---------------------------------------------------------------- state

  promotable(): boolean {
    const p = this.prs.get(this.id);
    return p !== undefined && !p.isLearner && this.log.unstableSnapshot === undefined;
  }

  #reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.votes.clear();
    const next = this.log.lastIndex() + 1;
    for (const [id, p] of this.prs) {
      const fresh = new Progress(next, this.#cfg.inflightMsgsMax, this.#cfg.inflightBytesMax, p.isLearner);
      if (id === this.id) fresh.match = next - 1;
      this.prs.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly.reset();
  }

  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTicks + this.#random(this.electionTicks);
    assert(
      this.randomizedElectionTimeout >= this.electionTicks && this.randomizedElectionTimeout < 2 * this.electionTicks,
      `randomized election timeout ${this.randomizedElectionTimeout} out of [${this.electionTicks}, ${2 * this.electionTicks})`,
    );
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.#reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
    this.pendingReadIndexMessages = [];
  }

  becomeCandidate(): void {
    assert(this.state !== StateType.Leader, "invalid transition leader -> candidate");
    this.#reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  becomePreCandidate(): void {
    assert(this.state !== StateType.Leader, "invalid transition leader -> pre-candidate");
    // Pre-vote changes neither term nor vote.
    this.votes.clear();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
  }

  becomeLeader(): void {
    assert(this.state !== StateType.Follower, "invalid transition follower -> leader");
    this.#reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    this.prs.get(this.id)?.becomeReplicate();
    // Conservative: entries of earlier terms may hold an unapplied conf change.
    this.pendingConfIndex = this.log.lastIndex();
    // The no-op of §8: commits earlier-term entries and enables reads.
    const ok = this.#appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }]);
    assert(ok, "leader no-op entry dropped");
    this.logger.debug(`raft ${this.id}: became leader at term ${this.term}`);
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    if (this.state === StateType.Leader) this.#tickHeartbeat();
    else this.#tickElection();
  }

  #tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(message({ type: MessageType.Hup, from: this.id }));
    }
  }

  #tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(message({ type: MessageType.CheckQuorum, from: this.id }));
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: MessageType.Beat, from: this.id }));
    }
  }

  // ---------------------------------------------------------------- step

  step(m: Message): StepResult {
    if (!this.#stepTerm(m)) return OK;
    switch (m.type) {
      case MessageType.Hup:
        this.#hup(m.context !== undefined && m.context[0] === CAMPAIGN_TRANSFER[0]);
        return OK;
      case MessageType.Vote:
      case MessageType.PreVote:
        this.#handleVoteRequest(m);
        return OK;
      default:
        if (this.state === StateType.Leader) return this.#stepLeader(m);
        if (this.state === StateType.Follower) return this.#stepFollower(m);
        return this.#stepCandidate(m);
    }
  }

  /** §5.1 term rules; returns false when the message must be dropped. */
  #stepTerm(m: Message): boolean {
    if (m.term === 0) return true; // local message
    if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = m.context !== undefined && m.context[0] === CAMPAIGN_TRANSFER[0];
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTicks;
        if (!force && inLease) {
          // §6 of the dissertation: ignore disruptive candidates while we hear from a leader.
          return false;
        }
      }
      if (m.type === MessageType.PreVote) return true; // never changes our term
      if (m.type === MessageType.PreVoteResp && !m.reject) return true; // we raise our term on winning
      const fromLeader =
        m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap;
      this.becomeFollower(m.term, fromLeader ? m.from : NONE);
      return true;
    }
    if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.App || m.type === MessageType.Heartbeat)) {
        // A stale leader cut off by pre-vote/check-quorum learns the new term from this.
        this.#send(message({ type: MessageType.AppResp, to: m.from }));
      } else if (m.type === MessageType.PreVote) {
        this.#send(message({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      return false;
    }
    return true;
  }

  #handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.PreVote;
    const canVote =
      this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (pre && m.term > this.term);
    const respType = pre ? MessageType.PreVoteResp : MessageType.VoteResp;
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // Pre-vote replies carry the candidate's future term so it counts them.
      this.#send(message({ type: respType, to: m.from, term: m.term }));
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.#send(message({ type: respType, to: m.from, term: this.term, reject: true }));
    }
  }

  #hup(transfer: boolean): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) {
      this.logger.warn(`raft ${this.id}: not promotable, ignoring campaign`);
      return;
    }
    if (this.#hasUnappliedConfChanges()) {
      // Our config may be stale until those are applied (etcd's rule).
      this.logger.warn(`raft ${this.id}: unapplied conf changes, not campaigning`);
      return;
    }
    if (this.preVote && !transfer) this.campaign(true, false);
    else this.campaign(false, transfer);
  }

  #hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const ents = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.MAX_SAFE_INTEGER) ?? [];
    return ents.some((e) => e.type === EntryType.ConfChange);
  }

  campaign(pre: boolean, transfer: boolean): void {
    let term: number;
    let voteType: MessageType;
    if (pre) {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    if (this.#poll(this.id, true) === VoteResult.Won) {
      // Single voter: the election is won at once.
      if (pre) this.campaign(false, transfer);
      else this.becomeLeader();
      return;
    }
    for (const id of this.voters()) {
      if (id === this.id) continue;
      this.#send(
        message({
          type: voteType,
          to: id,
          term,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          ...(transfer ? { context: CAMPAIGN_TRANSFER } : {}),
        }),
      );
    }
  }

  #poll(id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return majorityVoteResult(this.#voterSet(), this.votes);
  }

  // ---------------------------------------------------------------- leader

  #stepLeader(m: Message): StepResult {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return OK;
      case MessageType.CheckQuorum:
        if (!this.#quorumActive()) {
          this.logger.warn(`raft ${this.id}: lost quorum contact at term ${this.term}, stepping down`);
          this.becomeFollower(this.term, NONE);
        }
        return OK;
      case MessageType.Prop:
        return this.#leaderPropose(m);
      case MessageType.ReadIndex:
        return this.#leaderReadIndex(m);
    }
    const pr = this.prs.get(m.from);
    if (!pr) return OK;
    switch (m.type) {
      case MessageType.AppResp:
        pr.recentActive = true;
        if (m.reject) this.#handleAppendReject(m, pr);
        else this.#handleAppendAck(m, pr);
        break;
      case MessageType.HeartbeatResp:
        this.#handleHeartbeatResp(m, pr);
        break;
      case MessageType.SnapResp:
        pr.recentActive = true;
        this.#handleSnapResp(m, pr);
        break;
      case MessageType.TransferLeader:
        this.#handleTransferLeader(m, pr);
        break;
    }
    return OK;
  }

  #leaderPropose(m: Message): StepResult {
    assert(m.entries.length > 0, "empty proposal");
    if (!this.prs.has(this.id)) return fail(ProposalError.Dropped);
    if (this.leadTransferee !== NONE) return fail(ProposalError.TransferInProgress);
    for (const e of m.entries) {
      if (e.type !== EntryType.ConfChange) continue;
      if (m.entries.length !== 1) return fail(ProposalError.Dropped);
      // The fix to single-server changes: first commit an entry of this term;
      // and only one change may be pending (proposed but not applied).
      if (!this.#committedEntryInCurrentTerm() || this.pendingConfIndex > this.log.applied) {
        return fail(ProposalError.ConfChangePending);
      }
      const cc = decodeConfChange(e.data);
      if (cc.type === ConfChangeType.RemoveNode && this.voters().length === 1 && this.voters()[0] === cc.nodeId) {
        return fail(ProposalError.Dropped); // would leave no voters
      }
      this.pendingConfIndex = this.log.lastIndex() + 1;
    }
    if (!this.#appendEntries(m.entries)) return fail(ProposalError.TooLarge);
    this.bcastAppend();
    return OK;
  }

  #leaderReadIndex(m: Message): StepResult {
    if (this.voters().length === 1 && this.prs.has(this.id)) {
      this.#respondRead(m, this.log.committed);
      return OK;
    }
    if (!this.#committedEntryInCurrentTerm()) {
      // Our commit index may be stale until the no-op commits (§6.4 step 1).
      if (this.pendingReadIndexMessages.length >= this.readOnly.pendingMax) return fail(ProposalError.Dropped);
      this.pendingReadIndexMessages.push(m);
      return OK;
    }
    return this.#serveReadIndex(m) ? OK : fail(ProposalError.Dropped);
  }

  /** Returns false when the read was dropped (queue full or duplicate context). */
  #serveReadIndex(m: Message): boolean {
    if (this.readOnlyOption === ReadOnlyOption.LeaseBased) {
      this.#respondRead(m, this.log.committed);
      return true;
    }
    if (!this.readOnly.addRequest(this.log.committed, m)) return false;
    this.readOnly.recvAck(this.id, m.context);
    this.bcastHeartbeat(m.context);
    return true;
  }

  #respondRead(m: Message, index: number): void {
    const ctx = m.context ?? new Uint8Array(0);
    if (m.from === NONE || m.from === this.id) {
      this.readStates.push({ index, context: ctx });
    } else {
      this.#send(message({ type: MessageType.ReadIndexResp, to: m.from, index, context: ctx }));
    }
  }

  #committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  #releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.#committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.#serveReadIndex(m);
  }

  #handleAppendReject(m: Message, pr: Progress): void {
    let nextProbe = m.rejectHint;
    if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
    if (pr.maybeDecrTo(m.index, nextProbe)) {
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      this.sendAppend(m.from);
    }
  }

  #handleAppendAck(m: Message, pr: Progress): void {
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (oldPaused && !pr.isPaused()) this.sendAppend(m.from);
      return;
    }
    if (pr.state === ProgressState.Probe) pr.becomeReplicate();
    else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Replicate) pr.inflights.freeLE(m.index);

    if (this.#maybeCommit()) {
      this.bcastAppend();
    } else if (m.from !== this.id) {
      while (this.#maybeSendAppend(m.from, false)) {
        // keep the pipeline full
      }
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.#sendTimeoutNow(m.from);
    }
  }

  #handleHeartbeatResp(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // All in-flight MsgApp may have been lost: free one slot so a message goes out.
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (this.readOnlyOption !== ReadOnlyOption.Safe || !m.context || m.context.length === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (!acks) return;
    const votes = new Map<NodeId, boolean>();
    for (const id of acks) votes.set(id, true);
    if (majorityVoteResult(this.#voterSet(), votes) !== VoteResult.Won) return;
    for (const rs of this.readOnly.advance(m.context)) this.#respondRead(rs.request, rs.index);
  }

  #handleTransferLeader(m: Message, pr: Progress): void {
    const transferee = m.from;
    if (pr.isLearner) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return;
    this.electionElapsed = 0; // the transfer must finish within one election timeout
    this.leadTransferee = transferee;
    if (pr.match === this.log.lastIndex()) this.#sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  #sendTimeoutNow(to: NodeId): void {
    this.#send(message({ type: MessageType.TimeoutNow, to }));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  #quorumActive(): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, p] of this.prs) {
      if (p.isLearner) continue;
      votes.set(id, id === this.id || p.recentActive);
    }
    for (const [id, p] of this.prs) if (id !== this.id) p.recentActive = false;
    return majorityVoteResult(this.#voterSet(), votes) === VoteResult.Won;
  }

  #maybeCommit(): boolean {
    const voters = this.#voterSet();
    if (voters.size === 0) return false;
    const mci = majorityCommitted(voters, (id) => this.prs.get(id)?.match);
    const oldCommitted = this.log.committed;
    if (!this.log.maybeCommit(mci, this.term)) return false;
    this.#reduceUncommitted(oldCommitted, this.log.committed);
    this.#releasePendingReadIndexMessages();
    return true;
  }

  #reduceUncommitted(from: number, to: number): void {
    if (this.#cfg.uncommittedBytesMax === 0) return;
    const ents = this.log.slice(from + 1, to + 1, Number.MAX_SAFE_INTEGER) ?? [];
    for (const e of ents) this.uncommittedBytes -= e.data.byteLength;
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
  }

  #appendEntries(ents: readonly Entry[]): boolean {
    let bytes = 0;
    for (const e of ents) bytes += e.data.byteLength;
    const max = this.#cfg.uncommittedBytesMax;
    if (max > 0 && this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > max) return false;
    this.uncommittedBytes += bytes;
    let li = this.log.lastIndex();
    const stamped = ents.map((e) => ({ term: this.term, index: ++li, type: e.type, data: e.data }));
    li = this.log.append(stamped);
    // The leader's own ack; persistence happens before any message leaves.
    this.prs.get(this.id)?.maybeUpdate(li);
    this.#maybeCommit();
    return true;
  }

  bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  bcastHeartbeat(ctx?: Uint8Array): void {
    const context = ctx ?? this.readOnly.lastPendingContext();
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      this.#send(
        message({
          type: MessageType.Heartbeat,
          to: id,
          // Never tell a follower to commit beyond what we know it holds.
          commit: Math.min(pr.match, this.log.committed),
          ...(context ? { context } : {}),
        }),
      );
      if (pr.state === ProgressState.Snapshot) this.#sendSnapshotChunk(id, pr); // retransmit
    }
  }

  sendAppend(to: NodeId): void {
    this.#maybeSendAppend(to, true);
  }

  #maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents = prevTerm === undefined ? undefined : this.log.entriesFrom(pr.next, this.#cfg.msgBytesMax);
    if (prevTerm === undefined || ents === undefined) {
      if (!pr.recentActive) return false; // don't ship a snapshot to a node that is not there
      pr.becomeSnapshot(this.log.snapshot().metadata.index);
      this.#sendSnapshotChunk(to, pr);
      return false;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of ents) bytes += entryBytes(e);
    this.#send(
      message({ type: MessageType.App, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed }),
    );
    pr.sentEntries(ents.length > 0 ? ents[ents.length - 1]!.index : prevIndex, bytes);
    return true;
  }

  #sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap: Snapshot = this.log.snapshot();
    assert(snap.metadata.index > 0, `need a snapshot for ${to} but have none`);
    if (snap.metadata.index !== pr.pendingSnapshot) {
      pr.becomeSnapshot(snap.metadata.index); // a newer snapshot replaced the one in flight
    }
    const chunk = snapshotChunk(snap, pr.snapshotOffset, this.#cfg.snapshotChunkBytesMax);
    this.#send(message({ type: MessageType.Snap, to, snapshot: chunk }));
  }

  #handleSnapResp(m: Message, pr: Progress): void {
    if (pr.state !== ProgressState.Snapshot || m.index !== pr.pendingSnapshot) return;
    // rejectHint = bytes the follower holds; the next chunk starts there.
    pr.snapshotOffset = m.reject ? 0 : m.rejectHint;
    this.#sendSnapshotChunk(m.from, pr);
  }

  // ---------------------------------------------------------------- follower / candidate

  #stepFollower(m: Message): StepResult {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === NONE) return fail(ProposalError.NotLeader);
        this.#send({ ...m, to: this.lead, term: 0 });
        return OK;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.#handleAppend(m);
        return OK;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.#handleHeartbeat(m);
        return OK;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.#handleSnapshot(m);
        return OK;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return fail(ProposalError.NotLeader);
        // Forwarded as is: `from` names the transferee, not us.
        this.msgs.push({ ...m, to: this.lead, term: 0 });
        return OK;
      case MessageType.TimeoutNow:
        // Leadership transfer: campaign at once, skipping pre-vote and leases.
        this.#hup(true);
        return OK;
      case MessageType.ReadIndex:
        if (this.lead === NONE) return fail(ProposalError.NotLeader);
        this.#send({ ...m, to: this.lead, term: 0 });
        return OK;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context ?? new Uint8Array(0) });
        return OK;
    }
    return OK;
  }

  #stepCandidate(m: Message): StepResult {
    const myResp = this.state === StateType.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
      case MessageType.ReadIndex:
        return fail(ProposalError.NotLeader);
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.#handleAppend(m);
        return OK;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.#handleHeartbeat(m);
        return OK;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.#handleSnapshot(m);
        return OK;
      case myResp: {
        const res = this.#poll(m.from, !m.reject);
        if (res === VoteResult.Won) {
          if (this.state === StateType.PreCandidate) this.campaign(false, false);
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (res === VoteResult.Lost) {
          this.becomeFollower(this.term, NONE);
        }
        return OK;
      }
    }
    return OK;
  }

  #handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.#send(message({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.#send(message({ type: MessageType.AppResp, to: m.from, index: lastNew }));
      return;
    }
    const hintIndex = Math.min(m.index, this.log.lastIndex());
    const [idx, term] = this.log.findConflictByTerm(hintIndex, m.logTerm);
    this.#send(
      message({ type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: idx, logTerm: term }),
    );
  }

  #handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.#send(message({ type: MessageType.HeartbeatResp, to: m.from, ...(m.context ? { context: m.context } : {}) }));
  }

  #handleSnapshot(m: Message): void {
    const chunk = m.snapshot;
    assert(chunk !== undefined, "MsgSnap without snapshot chunk");
    const meta = chunk.metadata;
    if (meta.index <= this.log.committed) {
      this.#snapReceiver.reset();
      this.#send(message({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
      return;
    }
    const r = this.#snapReceiver.receive(chunk);
    if (r.kind === "reject") {
      this.#send(message({ type: MessageType.SnapResp, to: m.from, index: meta.index, reject: true }));
    } else if (r.kind === "need") {
      // rejectHint carries the byte offset the leader should send next.
      this.#send(message({ type: MessageType.SnapResp, to: m.from, index: meta.index, rejectHint: r.offset }));
    } else {
      this.#restore(r.snapshot);
      // Only the snapshot's index is known to match the leader's log.
      this.#send(message({ type: MessageType.AppResp, to: m.from, index: meta.index }));
    }
  }

  /** Installs a complete snapshot, unless our log already contains it. */
  #restore(snap: Snapshot): void {
    const { index, term } = snap.metadata;
    if (this.log.matchTerm(index, term)) {
      // We already have the snapshot's last entry: just fast-forward commit.
      this.log.commitTo(index);
      return;
    }
    this.log.restore(snap);
    this.#applyConfState(snap.metadata.confState);
    this.logger.debug(`raft ${this.id}: restored snapshot ${index}@${term}`);
  }

  // ---------------------------------------------------------------- output

  #send(m: Message): void {
    assert(m.to !== NONE, `message ${MESSAGE_TYPE_NAMES[m.type]} without destination`);
    const isVote =
      m.type === MessageType.Vote ||
      m.type === MessageType.VoteResp ||
      m.type === MessageType.PreVote ||
      m.type === MessageType.PreVoteResp;
    let term = m.term;
    if (isVote) {
      // Vote messages carry their term explicitly (pre-vote uses term + 1).
      assert(m.term !== 0, `${MESSAGE_TYPE_NAMES[m.type]} without term`);
    } else if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex && m.type !== MessageType.TransferLeader) {
      term = this.term;
    }
    this.msgs.push({ ...m, from: this.id, term });
  }

  describe(): string {
    return `raft ${this.id} ${STATE_NAMES[this.state]} term=${this.term} lead=${this.lead} commit=${this.log.committed} last=${this.log.lastIndex()}`;
  }
}
