// RawNode: the Ready/advance interface around the Raft state machine.
//
//   const rd = node.ready();
//   persist rd.snapshot, rd.entries, rd.hardState; await storage.sync();
//   send rd.messages;
//   restore rd.snapshot into the state machine; apply rd.committedEntries;
//   node.advance(rd);
//
// Conf change entries among committedEntries take effect in advance().
// step()/tick()/propose() may be called between ready() and advance(), but
// ready() may not be called again before advance().

import { Raft } from "./raft";
import type { StepResult } from "./raft";
import type { LogReader } from "./storage/types";
import {
  EntryType,
  MessageType,
  NONE,
  assert,
  decodeConfChange,
  encodeConfChange,
  hardStateEqual,
  isLocalMessage,
  isResponseMessage,
  message,
} from "./types";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  RaftConfig,
  ReadState,
  Snapshot,
  SoftState,
  StateType,
} from "./types";

export interface Ready {
  /** Present when leader or role changed. */
  readonly softState?: SoftState;
  /** Present when term, vote or commit changed; persist before sending. */
  readonly hardState?: HardState;
  readonly readStates: readonly ReadState[];
  /** Persist (append, replacing any suffix) before sending messages. */
  readonly entries: readonly Entry[];
  /** Persist and restore into the state machine. */
  readonly snapshot?: Snapshot;
  /** Apply to the state machine, in order, after persisting. */
  readonly committedEntries: readonly Entry[];
  /** Send after persisting. */
  readonly messages: readonly Message[];
  /** False when only commit moved: the write needs no fsync. */
  readonly mustSync: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lead: NodeId;
  readonly state: StateType;
  readonly lastIndex: number;
  readonly confState: ConfState;
}

/** Committed entries handed out per Ready. */
export const COMMITTED_BYTES_PER_READY_MAX = 4 << 20;

export class RawNode {
  readonly raft: Raft;
  #prevSoft: SoftState;
  #prevHard: HardState;
  #pending: Ready | undefined;

  constructor(config: RaftConfig, storage: LogReader) {
    this.raft = new Raft(config, storage);
    this.#prevSoft = this.#softState();
    this.#prevHard = this.#hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  /** Steps a message from the network; local and unknown-peer responses are dropped. */
  step(m: Message): StepResult {
    if (isLocalMessage(m.type)) return { ok: true };
    if (isResponseMessage(m.type) && !this.raft.prs.has(m.from) && m.type !== MessageType.ReadIndexResp) {
      return { ok: true };
    }
    return this.raft.step(m);
  }

  campaign(): void {
    this.raft.step(message({ type: MessageType.Hup, from: this.raft.id }));
  }

  propose(data: Uint8Array): StepResult {
    return this.raft.step(
      message({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.Normal, data }],
      }),
    );
  }

  proposeConfChange(cc: ConfChange): StepResult {
    return this.raft.step(
      message({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }],
      }),
    );
  }

  /** Requests a linearizable read point; the answer arrives as a ReadState with this context. */
  readIndex(context: Uint8Array): StepResult {
    assert(context.length > 0, "readIndex context must not be empty");
    return this.raft.step(message({ type: MessageType.ReadIndex, from: NONE, context }));
  }

  transferLeader(transferee: NodeId): void {
    this.raft.step(message({ type: MessageType.TransferLeader, from: transferee }));
  }

  hasReady(): boolean {
    if (this.#pending) return false;
    const r = this.raft;
    if (r.lead !== this.#prevSoft.lead || r.state !== this.#prevSoft.state) return true;
    const h = this.#prevHard;
    if (r.term !== h.term || r.vote !== h.vote || r.log.committed !== h.commit) return true;
    if (r.log.unstableSnapshot) return true;
    if (r.msgs.length > 0 || r.log.unstableEntries.length > 0 || r.readStates.length > 0) return true;
    return r.log.hasNextCommittedEntries();
  }

  ready(): Ready {
    assert(this.#pending === undefined, "ready() called again before advance()");
    const r = this.raft;
    const soft = this.#softState();
    const hard = this.#hardState();
    const entries = r.log.unstableEntries.slice();
    const committedEntries = r.log.nextCommittedEntries(COMMITTED_BYTES_PER_READY_MAX);
    const hardChanged = !hardStateEqual(hard, this.#prevHard);
    const rd: Ready = {
      ...(softEqual(soft, this.#prevSoft) ? {} : { softState: soft }),
      ...(hardChanged ? { hardState: hard } : {}),
      readStates: r.readStates,
      entries,
      ...(r.log.unstableSnapshot ? { snapshot: r.log.unstableSnapshot } : {}),
      committedEntries,
      messages: r.msgs,
      mustSync:
        entries.length > 0 ||
        r.log.unstableSnapshot !== undefined ||
        (hardChanged && (hard.term !== this.#prevHard.term || hard.vote !== this.#prevHard.vote)),
    };
    r.msgs = [];
    r.readStates = [];
    if (committedEntries.length > 0) r.log.acceptApplying(committedEntries[committedEntries.length - 1]!.index);
    if (rd.softState) this.#prevSoft = soft;
    this.#pending = rd;
    return rd;
  }

  /** The caller persisted, sent and applied `rd`. */
  advance(rd: Ready): void {
    assert(this.#pending === rd, "advance() with a Ready that is not the pending one");
    this.#pending = undefined;
    const r = this.raft;
    if (rd.hardState) this.#prevHard = rd.hardState;
    if (rd.snapshot) r.log.stableSnapTo(rd.snapshot.metadata.index);
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      r.log.stableTo(last.index, last.term);
    }
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.ConfChange && e.index > r.log.applied) r.applyConfChange(decodeConfChange(e.data));
    }
    if (rd.committedEntries.length > 0) r.log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1]!.index);
  }

  status(): Status {
    const r = this.raft;
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lead: r.lead,
      state: r.state,
      lastIndex: r.log.lastIndex(),
      confState: r.confState(),
    };
  }

  #softState(): SoftState {
    return { lead: this.raft.lead, state: this.raft.state };
  }

  #hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }
}

function softEqual(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.state === b.state;
}
