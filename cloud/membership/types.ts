// Contracts of cloud-node membership: what a node says about itself in its
// heartbeat, what a member looks like to operators, and history records.

import type { Liveness } from "../health";
import type { MemberState } from "../health/swim";

/** A cloud member as its peers see it: heartbeat liveness and SWIM combined
 *  (view.ts). Not the control plane's MemberRecordStatus (TTL of a registration). */
export const MemberStatus = Object.freeze({
  Up: "up",
  Suspect: "suspect",
  Down: "down",
} as const);
export type MemberStatus = (typeof MemberStatus)[keyof typeof MemberStatus];

/** What a node reports about its capacity (from node:os, or injected in tests). */
export interface NodeResources {
  /** os.freemem(). */
  readonly freeMemoryBytes: number;
  /** os.totalmem(). */
  readonly totalMemoryBytes: number;
  /** os.loadavg()[0]. */
  readonly cpuLoad1: number;
  /** os.availableParallelism(). */
  readonly cpus: number;
}

/** Body of `xsfleet.v1.cluster.hb.<node>`, JSON. */
export interface ClusterHeartbeat {
  readonly v: 1;
  readonly nodeId: string;
  /** Sender's start time: a restarted process is a new incarnation. */
  readonly startedAtMs: number;
  /** Per-sender heartbeat counter (stale ones are ignored). */
  readonly seq: number;
  readonly sentAtMs: number;
  /** Roles the node runs now (cloud roles and recovery-assigned ones). */
  readonly roles: readonly string[];
  /** "<failedNode>:<role>" pairs this node runs as a replacement. */
  readonly replacing: readonly string[];
  /** Singleton roles (leases) the node holds now. */
  readonly leases: readonly string[];
  readonly resources: NodeResources;
}

/** Combined view of one member: heartbeat presence and SWIM state. */
export interface MemberView {
  readonly nodeId: string;
  /** Heartbeat-detector presence (timeout or phi-accrual). */
  readonly presence: Liveness;
  /** When the member entered `presence` (ms since epoch). */
  readonly sinceMs: number;
  /** SWIM's opinion; undefined while SWIM has not heard of the member. */
  readonly swim: MemberState | undefined;
  /** Detector suspicion level (phi, or elapsed/timeout); `threshold` is where it flips. */
  readonly suspicion: number;
  readonly threshold: number;
  /** down when either detector says so (heartbeat down, SWIM dead/left). */
  readonly status: MemberStatus;
  readonly lastHeartbeatMs: number | undefined;
  readonly roles: readonly string[];
  readonly replacing: readonly string[];
  readonly leases: readonly string[];
  readonly resources: NodeResources | undefined;
  readonly self: boolean;
}

export const HistoryKind = {
  /** A member changed status (up/suspect/down) as seen by this node. */
  Detection: "detection",
  /** A singleton role (lease) changed holder: acquired, lost, released. */
  Failover: "failover",
  /** The supervisor restarted, backed off or escalated. */
  Restart: "restart",
  /** Roles of a failed node were placed and started elsewhere. */
  Replacement: "replacement",
  /** Backup written or restored. */
  Restore: "restore",
} as const;
export type HistoryKind = (typeof HistoryKind)[keyof typeof HistoryKind];

export interface HistoryEntry {
  /** Position in this node's history (paging with afterId); strictly increasing. */
  readonly id: number;
  /** The id the entry has in its recording node's history. */
  readonly originId: number;
  readonly atMs: number;
  readonly kind: HistoryKind;
  /** Node that recorded it. */
  readonly recordedBy: string;
  /** Subject of the entry: failed node, role name, child name, backup dir. */
  readonly subject: string;
  /** Short verb: "down", "acquired", "restarting", "escalated", "placed", ... */
  readonly action: string;
  /** Free-form, JSON-serialisable details (times measured, decision inputs). */
  readonly detail: Readonly<Record<string, unknown>>;
}
