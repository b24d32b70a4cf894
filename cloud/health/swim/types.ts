// Contracts of the SWIM membership core: member states, membership updates
// (the piggybacked "broadcasts"), protocol messages and configuration.

import type { RandomSource } from "../../base";
import type { NodeId } from "../types";

export const MemberState = {
  Alive: "alive",
  Suspect: "suspect",
  Dead: "dead",
  /** Left voluntarily: a `dead` update the node sent about itself. */
  Left: "left",
} as const;
export type MemberState = (typeof MemberState)[keyof typeof MemberState];

/** One membership fact, disseminated by piggybacking on protocol messages. */
export interface MembershipUpdate {
  state: typeof MemberState.Alive | typeof MemberState.Suspect | typeof MemberState.Dead;
  node: NodeId;
  incarnation: number;
  /** Who asserts it; a `dead` update with from === node is a leave. */
  from: NodeId;
}

export const MessageType = {
  Ping: "ping",
  Ack: "ack",
  Nack: "nack",
  PingReq: "ping-req",
  Gossip: "gossip",
  /** Full-state exchange (memberlist push/pull): joins, periodic anti-entropy, reconnects. */
  PushPull: "push-pull",
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

interface Header {
  from: NodeId;
  to: NodeId;
  /** Piggybacked membership updates (at most `piggybackMax`). */
  updates: MembershipUpdate[];
}

export type SwimMessage =
  | (Header & { type: typeof MessageType.Ping; seqNo: number })
  | (Header & { type: typeof MessageType.Ack; seqNo: number })
  | (Header & { type: typeof MessageType.Nack; seqNo: number })
  | (Header & { type: typeof MessageType.PingReq; seqNo: number; target: NodeId })
  | (Header & { type: typeof MessageType.Gossip })
  /** The sender's whole member list (itself included); `reply` is false on the initiating side. */
  | (Header & { type: typeof MessageType.PushPull; members: MembershipUpdate[]; reply: boolean });

/** A state change of a member as seen by the local node. */
export interface MembershipEvent {
  node: NodeId;
  state: MemberState;
  incarnation: number;
  atMs: number;
}

export interface SwimConfig {
  /** Period of the failure-detection protocol (memberlist ProbeInterval). */
  probeIntervalMs: number;
  /** Wait for a direct ack before asking `indirectChecks` members (ProbeTimeout). */
  probeTimeoutMs: number;
  /** k of SWIM's ping-req. */
  indirectChecks: number;
  /** Suspicion timeout = suspicionMult * max(1, log10(n)) * probeInterval. */
  suspicionMult: number;
  /** Lifeguard: the timeout starts at this multiple of the minimum and shrinks with confirmations. */
  suspicionMaxTimeoutMult: number;
  /** Each update is retransmitted retransmitMult * ceil(log10(n + 1)) times. */
  retransmitMult: number;
  /** Dedicated gossip rounds (0 disables them: piggyback-only, as in the SWIM paper). */
  gossipIntervalMs: number;
  gossipNodes: number;
  /** Keep gossiping to dead members for this long, so they can refute. */
  gossipToTheDeadMs: number;
  /** Full-state exchange with a random live member this often (0 disables). */
  pushPullIntervalMs: number;
  /** Serf-style: push/pull with a random dead member this often, to heal partitions (0 disables). */
  reconnectIntervalMs: number;
  /** Dead and left members are forgotten after this long. */
  deadRetentionMs: number;
  /** Lifeguard local health: probe deadlines stretch by up to this factor (1 disables). */
  awarenessMaxMultiplier: number;
  /** Intermediaries of a ping-req answer "nack" when the target stays silent (Lifeguard). */
  nackEnabled: boolean;
  /** Lifeguard buddy system: a ping to a suspect carries the suspicion, so it can refute at once. */
  buddySystem: boolean;
  membersMax: number;
  broadcastsMax: number;
  piggybackMax: number;
  outboxMax: number;
  pendingIndirectMax: number;
  eventsMax: number;
}

export interface SwimNodeOptions {
  id: NodeId;
  random: RandomSource;
  config?: Partial<SwimConfig>;
  /** Members known at start (static bootstrap); the rest come through join. */
  members?: NodeId[];
}
