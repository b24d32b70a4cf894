// SWIM membership (Das, Gupta, Motivala, DSN 2002) with the Lifeguard
// extensions (Dadgar et al., 2018) as hashicorp/memberlist implements them,
// written as a pure state machine in the style of etcd's raft:
//
//   step(message, nowMs)  a protocol message arrived
//   tick(nowMs)           time passed (call every few ms)
//   takeMessages()        messages to send, collected, never sent here
//   takeEvents()          membership changes seen by this node
//
// Failure detection: every probe period the node pings the next member of a
// shuffled round-robin list; without an ack within probeTimeout it asks k
// members to ping-req the target; without any ack by the end of the period
// it suspects the target. Suspicion carries the target's incarnation; the
// target refutes it by incrementing its incarnation. A suspicion that is not
// refuted within the (Lifeguard) suspicion timeout becomes `dead`.
// Dissemination: every change is queued and piggybacked on outgoing messages
// (pings, acks, gossip rounds) up to retransmitMult * ceil(log10(n+1)) times.
// Lifeguard local health: failed probes and refutations raise an awareness
// score that stretches the probe period; successful probes lower it.

import { randomInt, shuffleInPlace, type RandomSource } from "../../base";
import type { NodeId } from "../types";
import { BroadcastQueue } from "./broadcast-queue";
import { resolveSwimConfig, retransmitLimit, suspicionTimeoutMs } from "./config";
import { Suspicion } from "./suspicion";
import {
  MemberState,
  MessageType,
  type MembershipEvent,
  type MembershipUpdate,
  type SwimConfig,
  type SwimMessage,
  type SwimNodeOptions,
} from "./types";

interface Member {
  id: NodeId;
  state: MemberState;
  incarnation: number;
  stateChangeMs: number;
}

interface Probe {
  target: NodeId;
  /** The target's incarnation when the probe started: a suspicion raised
   * from this probe must not outlive a refutation that arrived meanwhile. */
  targetIncarnation: number;
  seqNo: number;
  /** When the ping went out: an ack's round-trip time is measured from here. */
  startedMs: number;
  directDeadlineMs: number;
  endMs: number;
  indirectSent: boolean;
  nacksExpected: number;
  nacksReceived: number;
}

interface PendingIndirect {
  originator: NodeId;
  originSeqNo: number;
  target: NodeId;
  nackAtMs: number;
  nackSent: boolean;
  expireAtMs: number;
}

// A message before the piggybacked updates are attached.
type Unpiggybacked = SwimMessage extends infer M ? (M extends SwimMessage ? Omit<M, "updates"> : never) : never;

export interface SwimNodeStats {
  membersRejected: number;
  pingReqsRejected: number;
  misdelivered: number;
  refutations: number;
  /** Probes started by this node, and how each ended: direct ack, ack through ping-req, none (suspicion raised). */
  probes: number;
  probesAcked: number;
  probesAckedIndirect: number;
  probesFailed: number;
  /** Round-trip times not taken by takeProbeRtts() before the buffer filled. */
  probeRttsDropped: number;
}

/** Probe round-trip times buffered until the driver takes them. */
export const probeRttsMax = 256;

export class SwimNode {
  readonly id: NodeId;
  readonly config: Readonly<SwimConfig>;
  readonly #random: RandomSource;
  #incarnation = 0;
  // Invariant: #members.size <= config.membersMax; self is not in it.
  readonly #members = new Map<NodeId, Member>();
  // Invariant: the number of #members in state alive or suspect.
  #liveMembers = 0;
  // Invariant: holds exactly the ids of #members, in probe order.
  #probeList: NodeId[] = [];
  #probeIndex = 0;
  #probe: Probe | undefined;
  #nextProbeMs: number;
  #nextGossipMs: number;
  #nextPushPullMs: number;
  #nextReconnectMs: number;
  // Seeds of a join not yet answered. Invariant: length <= config.membersMax.
  #joinSeeds: NodeId[] = [];
  #nextJoinRetryMs = 0;
  #seqNo = 0;
  // Invariant: size <= config.pendingIndirectMax.
  readonly #pendingIndirect = new Map<number, PendingIndirect>();
  // Invariant: keys are members in state suspect.
  readonly #suspicions = new Map<NodeId, Suspicion>();
  readonly #broadcasts: BroadcastQueue;
  // Lifeguard local health score. Invariant: 0 <= #awareness < awarenessMaxMultiplier.
  #awareness = 0;
  // Invariant: lengths <= outboxMax / eventsMax.
  #outbox: SwimMessage[] = [];
  #events: MembershipEvent[] = [];
  #leaving = false;
  readonly #stats: SwimNodeStats = {
    membersRejected: 0, pingReqsRejected: 0, misdelivered: 0, refutations: 0, probes: 0, probesAcked: 0, probesAckedIndirect: 0, probesFailed: 0, probeRttsDropped: 0,
  };
  // Invariant: length <= probeRttsMax.
  #probeRtts: number[] = [];

  constructor(options: SwimNodeOptions, nowMs: number) {
    assertTime(nowMs);
    if (options.id.length === 0) throw new Error("SwimNode: id must not be empty");
    this.id = options.id;
    this.config = Object.freeze(resolveSwimConfig(options.config));
    this.#random = options.random;
    this.#broadcasts = new BroadcastQueue(this.config.broadcastsMax);
    for (const id of options.members ?? []) {
      if (id !== this.id && !this.#members.has(id)) this.#addMember(id, MemberState.Alive, 0, nowMs);
    }
    // Stagger the protocol periods of nodes started together.
    this.#nextProbeMs = nowMs + randomInt(this.#random, this.config.probeIntervalMs);
    this.#nextGossipMs = nowMs + randomInt(this.#random, this.config.gossipIntervalMs);
    this.#nextPushPullMs = nowMs + this.config.pushPullIntervalMs + randomInt(this.#random, this.config.probeIntervalMs);
    this.#nextReconnectMs = nowMs + this.config.reconnectIntervalMs + randomInt(this.#random, this.config.probeIntervalMs);
  }

  // ---- queries -----------------------------------------------------------

  get incarnation(): number {
    return this.#incarnation;
  }

  get awareness(): number {
    return this.#awareness;
  }

  get stats(): Readonly<SwimNodeStats> {
    return this.#stats;
  }

  /** Round-trip times (ms) of the probes acked since the last call (direct or through ping-req). */
  takeProbeRtts(): number[] {
    const out = this.#probeRtts;
    this.#probeRtts = [];
    return out;
  }

  get pendingBroadcasts(): number {
    return this.#broadcasts.size;
  }

  memberState(id: NodeId): MemberState | undefined {
    if (id === this.id) return this.#leaving ? MemberState.Left : MemberState.Alive;
    return this.#members.get(id)?.state;
  }

  memberIncarnation(id: NodeId): number | undefined {
    return id === this.id ? this.#incarnation : this.#members.get(id)?.incarnation;
  }

  members(): Array<{ id: NodeId; state: MemberState; incarnation: number }> {
    return [...this.#members.values()].map((m) => ({ id: m.id, state: m.state, incarnation: m.incarnation }));
  }

  /** Members believed alive or suspect, self included (SWIM's n). */
  estimatedMembers(): number {
    return this.#liveMembers + 1;
  }

  takeMessages(): SwimMessage[] {
    const out = this.#outbox;
    this.#outbox = [];
    return out;
  }

  takeEvents(): MembershipEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  // ---- inputs --------------------------------------------------------------

  /** Push our state to the seeds; each merges it and answers with its own. */
  join(seeds: NodeId[], nowMs: number): void {
    assertTime(nowMs);
    if (seeds.length > this.config.membersMax) throw new Error(`SwimNode.join: more than membersMax (${this.config.membersMax}) seeds`);
    // Joins travel over a lossy network: retry every probe period until a seed answers.
    this.#joinSeeds = seeds.filter((seed) => seed !== this.id);
    this.#nextJoinRetryMs = nowMs + this.config.probeIntervalMs;
    for (const seed of this.#joinSeeds) this.#sendPushPull(seed, false);
  }

  /** Announce a voluntary leave; keep ticking a few gossip rounds, then stop. */
  leave(nowMs: number): void {
    assertTime(nowMs);
    this.#leaving = true;
    this.#broadcast({ state: MemberState.Dead, node: this.id, incarnation: this.#incarnation, from: this.id });
    this.#emit(this.id, MemberState.Left, this.#incarnation, nowMs);
  }

  step(message: SwimMessage, nowMs: number): void {
    assertTime(nowMs);
    if (message.to !== this.id) {
      this.#stats.misdelivered++;
      return;
    }
    for (const update of message.updates) this.#applyUpdate(update, nowMs);
    switch (message.type) {
      case MessageType.Ping:
        this.#send({ type: MessageType.Ack, from: this.id, to: message.from, seqNo: message.seqNo });
        break;
      case MessageType.Ack:
        this.#onAck(message.from, message.seqNo, nowMs);
        break;
      case MessageType.Nack:
        if (this.#probe !== undefined && this.#probe.seqNo === message.seqNo) this.#probe.nacksReceived++;
        break;
      case MessageType.PingReq:
        this.#onPingReq(message.from, message.seqNo, message.target, nowMs);
        break;
      case MessageType.Gossip:
        break;
      case MessageType.PushPull:
        if (message.members.length > this.config.membersMax + 1) {
          this.#stats.membersRejected += message.members.length;
          break;
        }
        for (const entry of message.members) this.#merge(entry, message.from, nowMs);
        if (message.reply) this.#joinSeeds = [];
        else this.#sendPushPull(message.from, true);
        break;
    }
  }

  tick(nowMs: number): void {
    assertTime(nowMs);
    this.#checkProbe(nowMs);
    if (nowMs >= this.#nextProbeMs) this.#startProbe(nowMs);
    if (this.config.gossipNodes > 0 && nowMs >= this.#nextGossipMs) {
      this.#gossip(nowMs);
      this.#nextGossipMs = nowMs + this.config.gossipIntervalMs;
    }
    if (this.#joinSeeds.length > 0 && nowMs >= this.#nextJoinRetryMs) {
      this.#nextJoinRetryMs = nowMs + this.config.probeIntervalMs;
      for (const seed of this.#joinSeeds) this.#sendPushPull(seed, false);
    }
    if (this.config.pushPullIntervalMs > 0 && nowMs >= this.#nextPushPullMs) {
      this.#nextPushPullMs = nowMs + this.config.pushPullIntervalMs;
      const [peer] = this.#randomMembers(1, (m) => m.state === MemberState.Alive);
      if (peer !== undefined) this.#sendPushPull(peer, false);
    }
    if (this.config.reconnectIntervalMs > 0 && nowMs >= this.#nextReconnectMs) {
      this.#nextReconnectMs = nowMs + this.config.reconnectIntervalMs;
      const [peer] = this.#randomMembers(1, (m) => m.state === MemberState.Dead);
      if (peer !== undefined) this.#sendPushPull(peer, false);
    }
    this.#checkSuspicions(nowMs);
    this.#checkIndirect(nowMs);
  }

  #sendPushPull(to: NodeId, reply: boolean): void {
    this.#send({ type: MessageType.PushPull, from: this.id, to, members: this.#snapshot(), reply });
  }

  // ---- failure detection -------------------------------------------------------

  #startProbe(nowMs: number): void {
    const periodMs = this.#scaled(this.config.probeIntervalMs);
    this.#nextProbeMs = nowMs + periodMs;
    const target = this.#nextProbeTarget(nowMs);
    if (target === undefined) return;
    const seqNo = ++this.#seqNo;
    this.#probe = {
      target,
      targetIncarnation: (this.#members.get(target) as Member).incarnation,
      seqNo,
      startedMs: nowMs,
      directDeadlineMs: nowMs + this.config.probeTimeoutMs,
      endMs: nowMs + periodMs,
      indirectSent: false,
      nacksExpected: 0,
      nacksReceived: 0,
    };
    this.#stats.probes++;
    this.#send({ type: MessageType.Ping, from: this.id, to: target, seqNo }, this.#buddySuspicion(target));
  }

  #checkProbe(nowMs: number): void {
    const probe = this.#probe;
    if (probe === undefined) return;
    if (!probe.indirectSent && nowMs >= probe.directDeadlineMs) this.#sendIndirect(probe);
    if (nowMs < probe.endMs) return;
    this.#probe = undefined;
    // Lifeguard: missing nacks mean *we* may be the slow one.
    const delta = probe.nacksExpected > 0 ? probe.nacksExpected - probe.nacksReceived : 1;
    this.#applyAwareness(delta);
    const member = this.#members.get(probe.target);
    if (member === undefined || (member.state !== MemberState.Alive && member.state !== MemberState.Suspect)) return;
    this.#stats.probesFailed++;
    this.#onSuspect({ state: MemberState.Suspect, node: probe.target, incarnation: probe.targetIncarnation, from: this.id }, nowMs);
  }

  #sendIndirect(probe: Probe): void {
    probe.indirectSent = true;
    const peers = this.#randomMembers(
      this.config.indirectChecks,
      (m) => m.state === MemberState.Alive && m.id !== probe.target,
    );
    for (const peer of peers) {
      this.#send({ type: MessageType.PingReq, from: this.id, to: peer, seqNo: probe.seqNo, target: probe.target });
    }
    probe.nacksExpected = this.config.nackEnabled ? peers.length : 0;
  }

  #onAck(from: NodeId, seqNo: number, nowMs: number): void {
    const probe = this.#probe;
    if (probe !== undefined && probe.seqNo === seqNo) {
      // Only a direct ack in time is evidence of our own good health.
      if (from === probe.target && !probe.indirectSent) this.#applyAwareness(-1);
      if (from === probe.target) this.#stats.probesAcked++;
      else this.#stats.probesAckedIndirect++;
      if (this.#probeRtts.length < probeRttsMax) this.#probeRtts.push(nowMs - probe.startedMs);
      else this.#stats.probeRttsDropped++;
      this.#probe = undefined;
      return;
    }
    const pending = this.#pendingIndirect.get(seqNo);
    if (pending !== undefined && pending.target === from) {
      this.#pendingIndirect.delete(seqNo);
      this.#send({ type: MessageType.Ack, from: this.id, to: pending.originator, seqNo: pending.originSeqNo });
    }
  }

  #onPingReq(originator: NodeId, originSeqNo: number, target: NodeId, nowMs: number): void {
    if (this.#pendingIndirect.size >= this.config.pendingIndirectMax) {
      this.#stats.pingReqsRejected++;
      return;
    }
    const seqNo = ++this.#seqNo;
    this.#pendingIndirect.set(seqNo, {
      originator,
      originSeqNo,
      target,
      // Nack early enough to reach the originator before its period ends.
      nackAtMs: nowMs + Math.floor(this.config.probeTimeoutMs * 0.8),
      nackSent: false,
      expireAtMs: nowMs + this.config.probeIntervalMs,
    });
    // Unlike memberlist, relayed pings carry our suspicion too: a member back
    // from a pause often hears first from intermediaries.
    this.#stats.probes++;
    this.#send({ type: MessageType.Ping, from: this.id, to: target, seqNo }, this.#buddySuspicion(target));
  }

  /** Lifeguard buddy system: a ping to a member we suspect tells it, so it can refute at once. */
  #buddySuspicion(target: NodeId): MembershipUpdate | undefined {
    const member = this.#members.get(target);
    if (!this.config.buddySystem || member === undefined || member.state !== MemberState.Suspect) return undefined;
    return { state: MemberState.Suspect, node: target, incarnation: member.incarnation, from: this.id };
  }

  #checkIndirect(nowMs: number): void {
    for (const [seqNo, pending] of this.#pendingIndirect) {
      if (this.config.nackEnabled && !pending.nackSent && nowMs >= pending.nackAtMs) {
        pending.nackSent = true;
        this.#send({ type: MessageType.Nack, from: this.id, to: pending.originator, seqNo: pending.originSeqNo });
      }
      if (nowMs >= pending.expireAtMs) this.#pendingIndirect.delete(seqNo);
    }
  }

  #checkSuspicions(nowMs: number): void {
    for (const [id, suspicion] of this.#suspicions) {
      if (nowMs < suspicion.deadlineMs()) continue;
      this.#suspicions.delete(id);
      const member = this.#members.get(id);
      if (member === undefined || member.state !== MemberState.Suspect) continue;
      this.#onDead({ state: MemberState.Dead, node: id, incarnation: member.incarnation, from: this.id }, nowMs);
    }
  }

  #nextProbeTarget(nowMs: number): NodeId | undefined {
    // Round-robin over a shuffled list, reshuffled after each full pass
    // (SWIM section 4.3): every member is probed within 2n-1 periods.
    for (let visited = 0; visited <= this.#probeList.length; visited++) {
      if (this.#probeIndex >= this.#probeList.length) {
        this.#resetProbeList(nowMs);
        if (this.#probeList.length === 0) return undefined;
      }
      const id = this.#probeList[this.#probeIndex++] as NodeId;
      const state = this.#members.get(id)?.state;
      if (state === MemberState.Alive || state === MemberState.Suspect) return id;
    }
    return undefined;
  }

  #resetProbeList(nowMs: number): void {
    // Forget members dead for longer than deadRetentionMs.
    for (const m of [...this.#members.values()]) {
      const gone = m.state === MemberState.Dead || m.state === MemberState.Left;
      if (gone && nowMs - m.stateChangeMs > this.config.deadRetentionMs) this.#members.delete(m.id);
    }
    this.#probeList = shuffleInPlace(this.#random, [...this.#members.keys()]);
    this.#probeIndex = 0;
  }

  #applyAwareness(delta: number): void {
    this.#awareness = Math.min(this.config.awarenessMaxMultiplier - 1, Math.max(0, this.#awareness + delta));
  }

  #scaled(ms: number): number {
    return ms * (this.#awareness + 1);
  }

  // ---- membership updates ----------------------------------------------------

  #applyUpdate(update: MembershipUpdate, nowMs: number): void {
    if (update.state === MemberState.Alive) this.#onAlive(update, nowMs);
    else if (update.state === MemberState.Suspect) this.#onSuspect(update, nowMs);
    else this.#onDead(update, nowMs);
  }

  #onAlive(update: MembershipUpdate, nowMs: number): void {
    if (update.node === this.id) {
      // Someone holds a newer incarnation of us (we restarted): outbid it.
      if (update.incarnation > this.#incarnation && !this.#leaving) this.#refute(update.incarnation, nowMs);
      return;
    }
    const member = this.#members.get(update.node);
    if (member === undefined) {
      if (!this.#addMember(update.node, MemberState.Alive, update.incarnation, nowMs)) return;
      this.#emit(update.node, MemberState.Alive, update.incarnation, nowMs);
      this.#broadcast(update);
      return;
    }
    if (update.incarnation <= member.incarnation) return;
    this.#suspicions.delete(update.node);
    member.incarnation = update.incarnation;
    if (member.state !== MemberState.Alive) {
      this.#setState(member, MemberState.Alive);
      member.stateChangeMs = nowMs;
      this.#emit(update.node, MemberState.Alive, update.incarnation, nowMs);
    }
    this.#broadcast(update);
  }

  #onSuspect(update: MembershipUpdate, nowMs: number): void {
    if (update.node === this.id) {
      if (update.incarnation >= this.#incarnation && !this.#leaving) this.#refute(update.incarnation, nowMs);
      return;
    }
    const member = this.#members.get(update.node);
    if (member === undefined || update.incarnation < member.incarnation) return;
    const existing = this.#suspicions.get(update.node);
    if (existing !== undefined) {
      // Lifeguard: an independent accuser shortens the timeout; pass it on.
      if (update.incarnation === member.incarnation && existing.confirm(update.from)) this.#broadcast(update);
      return;
    }
    if (member.state !== MemberState.Alive) return;
    member.incarnation = update.incarnation;
    this.#setState(member, MemberState.Suspect);
    member.stateChangeMs = nowMs;
    this.#emit(update.node, MemberState.Suspect, update.incarnation, nowMs);
    this.#broadcast(update);
    const n = this.estimatedMembers();
    let k = this.config.suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const minMs = suspicionTimeoutMs(this.config.suspicionMult, n, this.config.probeIntervalMs);
    const maxMs = this.config.suspicionMaxTimeoutMult * minMs;
    this.#suspicions.set(update.node, new Suspicion(update.from, k, minMs, maxMs, nowMs));
  }

  #onDead(update: MembershipUpdate, nowMs: number): void {
    if (update.node === this.id) {
      if (update.incarnation >= this.#incarnation && !this.#leaving) this.#refute(update.incarnation, nowMs);
      return;
    }
    const member = this.#members.get(update.node);
    if (member === undefined || update.incarnation < member.incarnation) return;
    this.#suspicions.delete(update.node);
    if (member.state === MemberState.Dead || member.state === MemberState.Left) return;
    member.incarnation = update.incarnation;
    this.#setState(member, update.from === update.node ? MemberState.Left : MemberState.Dead);
    member.stateChangeMs = nowMs;
    this.#emit(update.node, member.state, update.incarnation, nowMs);
    this.#broadcast(update);
  }

  /** Push/pull merge: a remote "dead" becomes a local suspicion (memberlist mergeState). */
  #merge(entry: MembershipUpdate, sender: NodeId, nowMs: number): void {
    if (entry.state === MemberState.Dead && entry.from !== entry.node) {
      this.#onSuspect({ ...entry, state: MemberState.Suspect, from: sender }, nowMs);
    } else {
      this.#applyUpdate(entry, nowMs);
    }
  }

  #refute(accusedIncarnation: number, nowMs: number): void {
    this.#incarnation = Math.max(this.#incarnation, accusedIncarnation) + 1;
    this.#stats.refutations++;
    // Lifeguard: being suspected hints that we are the slow one.
    this.#applyAwareness(1);
    this.#broadcast({ state: MemberState.Alive, node: this.id, incarnation: this.#incarnation, from: this.id });
    this.#emit(this.id, MemberState.Alive, this.#incarnation, nowMs);
  }

  #snapshot(): MembershipUpdate[] {
    const self = this.#leaving ? MemberState.Dead : MemberState.Alive;
    const out: MembershipUpdate[] = [{ state: self, node: this.id, incarnation: this.#incarnation, from: this.id }];
    for (const m of this.#members.values()) {
      const state = m.state === MemberState.Left ? MemberState.Dead : m.state;
      out.push({ state, node: m.id, incarnation: m.incarnation, from: m.state === MemberState.Left ? m.id : this.id });
    }
    return out;
  }

  #addMember(id: NodeId, state: MemberState, incarnation: number, nowMs: number): boolean {
    if (this.#members.size >= this.config.membersMax) {
      this.#stats.membersRejected++;
      return false;
    }
    this.#members.set(id, { id, state, incarnation, stateChangeMs: nowMs });
    if (isLive(state)) this.#liveMembers++;
    // Insert at a random place in the probe order (memberlist), not at the end.
    const offset = randomInt(this.#random, this.#probeList.length + 1);
    this.#probeList.splice(offset, 0, id);
    if (offset < this.#probeIndex) this.#probeIndex++;
    return true;
  }

  #setState(member: Member, state: MemberState): void {
    this.#liveMembers += (isLive(state) ? 1 : 0) - (isLive(member.state) ? 1 : 0);
    member.state = state;
    if (this.#liveMembers < 0 || this.#liveMembers > this.#members.size) {
      throw new Error(`SwimNode ${this.id}: live member count ${this.#liveMembers} out of range`);
    }
  }

  // ---- dissemination -----------------------------------------------------------

  #broadcast(update: MembershipUpdate): void {
    this.#broadcasts.enqueue(update);
  }

  #gossip(nowMs: number): void {
    if (this.#broadcasts.size === 0) return;
    const peers = this.#randomMembers(this.config.gossipNodes, (m) => {
      if (m.state === MemberState.Alive || m.state === MemberState.Suspect) return true;
      // Keep telling the dead for a while, so a wrongly declared member can refute.
      return nowMs - m.stateChangeMs <= this.config.gossipToTheDeadMs;
    });
    for (const peer of peers) {
      if (this.#broadcasts.size === 0) break;
      this.#send({ type: MessageType.Gossip, from: this.id, to: peer });
    }
  }

  #send(message: Unpiggybacked, first?: MembershipUpdate): void {
    if (this.#outbox.length >= this.config.outboxMax) {
      throw new Error(`SwimNode ${this.id}: outboxMax (${this.config.outboxMax}) undrained messages; call takeMessages()`);
    }
    const limit = retransmitLimit(this.config.retransmitMult, this.estimatedMembers());
    const room = this.config.piggybackMax - (first === undefined ? 0 : 1);
    const updates = this.#broadcasts.take(room, limit);
    if (first !== undefined) updates.unshift(first);
    this.#outbox.push({ ...message, updates } as SwimMessage);
  }

  #randomMembers(k: number, accept: (m: Member) => boolean): NodeId[] {
    const candidates: NodeId[] = [];
    for (const m of this.#members.values()) if (accept(m)) candidates.push(m.id);
    // Partial Fisher–Yates: the first k are a uniform sample.
    const count = Math.min(k, candidates.length);
    for (let i = 0; i < count; i++) {
      const j = i + randomInt(this.#random, candidates.length - i);
      const tmp = candidates[i] as NodeId;
      candidates[i] = candidates[j] as NodeId;
      candidates[j] = tmp;
    }
    return candidates.slice(0, count);
  }

  #emit(node: NodeId, state: MemberState, incarnation: number, atMs: number): void {
    if (this.#events.length >= this.config.eventsMax) {
      throw new Error(`SwimNode ${this.id}: eventsMax (${this.config.eventsMax}) undrained events; call takeEvents()`);
    }
    this.#events.push({ node, state, incarnation, atMs });
  }
}

function isLive(state: MemberState): boolean {
  return state === MemberState.Alive || state === MemberState.Suspect;
}

function assertTime(nowMs: number): void {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) throw new Error(`SwimNode: time must be a non-negative integer of ms, got ${nowMs}`);
}
