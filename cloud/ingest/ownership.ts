// Partition ownership on one ingest node: which partitions this node
// contends for, from a membership view of the live ingest nodes kept on the
// Raft control plane (member.join / heartbeat / list, TTL = the ownership
// TTL), through the fair share (fair-share.ts). Each tick it reconciles: a
// partition newly in its share gets a PartitionWorker (which contends for
// the partition's lease); a partition that left its share is handed off
// gracefully (stop pulling, nak, release). Safety does not depend on the
// view: the lease decides who writes; the view only keeps nodes from
// contending for each other's partitions.
//
// A node that dies stops heartbeating: after its member TTL the others'
// views drop it, their shares grow by its partitions, and they acquire each
// lease once it expires (the same TTL) — so its partitions move within
// about TTL + one tick. A node that cannot reach the control plane keeps
// its current share; its leases lapse on their own.
import { CloudRole, settledWithin, type Logger } from "../base";
import { CommandKind, ControlError, MemberRecordStatus, type Proposer } from "../control";
import { fairShare } from "./fair-share";
import type { OwnedPartition } from "./partition-worker";

/** What ownership needs of a partition's worker (partition-worker.ts). */
export interface ShareWorker<O = OwnedPartition> {
  /** Starts contending for the partition's lease. */
  start(): void;
  /** Graceful handoff: stop, nak, release. */
  stop(): Promise<void>;
  /** Owned now, with a write-safe lease. */
  owned(): O | null;
}
import type { IngestStats } from "./types";

/** The membership view ownership needs. */
export interface IngestMembership {
  /** Joins or keeps this node's membership alive (rejoins after an expiry). */
  heartbeat(): Promise<void>;
  /** Node ids of the live ingest members. */
  liveNodes(): Promise<string[]>;
  leave(): Promise<void>;
}

/** Membership of the nodes of one partitioned role (ingest by default; the
 *  analytics role shares the machinery) on the Raft control plane. Member
 *  ids are `<role>:<nodeId>` (other roles may join with the bare node id). */
export class ControlPlaneIngestMembership implements IngestMembership {
  readonly #propose: Proposer;
  readonly #memberId: string;
  readonly #nodeId: string;
  readonly #ttlMs: number;
  readonly #role: CloudRole;
  readonly #prefix: string;
  #incarnation: number | null = null;

  constructor(propose: Proposer, nodeId: string, ttlMs: number, role: CloudRole = CloudRole.Ingest) {
    this.#propose = propose;
    this.#nodeId = nodeId;
    this.#role = role;
    this.#prefix = `${role}:`;
    this.#memberId = `${this.#prefix}${nodeId}`;
    this.#ttlMs = ttlMs;
  }

  async heartbeat(): Promise<void> {
    if (this.#incarnation !== null) {
      const r = await this.#propose({ kind: CommandKind.MemberHeartbeat, nodeId: this.#memberId, incarnation: this.#incarnation });
      if (r.ok) return;
      if (r.code !== ControlError.Expired && r.code !== ControlError.NotFound && r.code !== ControlError.Conflict) throw new Error(`member heartbeat: ${r.code}: ${r.message}`);
    }
    const j = await this.#propose({
      kind: CommandKind.MemberJoin, nodeId: this.#memberId, address: this.#nodeId, roles: [this.#role],
      resources: { cpuMillis: 0, memoryBytes: 0 }, ttlMs: this.#ttlMs,
    });
    if (!j.ok || j.kind !== CommandKind.MemberJoin) throw new Error(`member join: ${j.ok ? j.kind : `${j.code}: ${j.message}`}`);
    this.#incarnation = j.value.incarnation;
  }

  async liveNodes(): Promise<string[]> {
    const r = await this.#propose({ kind: CommandKind.MemberList });
    if (!r.ok || r.kind !== CommandKind.MemberList) throw new Error(`member list: ${r.ok ? r.kind : `${r.code}: ${r.message}`}`);
    return r.value.members
      .filter((m) => m.status === MemberRecordStatus.Alive && m.nodeId.startsWith(this.#prefix) && m.roles.includes(this.#role))
      .map((m) => m.nodeId.slice(this.#prefix.length));
  }

  async leave(): Promise<void> {
    if (this.#incarnation === null) return;
    await this.#propose({ kind: CommandKind.MemberLeave, nodeId: this.#memberId, incarnation: this.#incarnation });
    this.#incarnation = null;
  }
}

/** Longest a stop waits for a control-plane call (leave, release); beyond it the TTL does the job. */
export const stopControlWaitMs = 1_000;

export interface OwnershipDeps<W extends ShareWorker<unknown> = ShareWorker> {
  nodeId: string;
  partitions: number;
  ttlMs: number;
  membership: IngestMembership;
  newWorker(partition: number): W;
  stats?: IngestStats;
  log: Logger;
  /** Prefix of log lines (the role's name); default "ingest". */
  label?: string;
  /** Reconcile period; default ttlMs / 5. */
  tickMs?: number;
  /** Monotonic clock deciding when a heartbeat is due (tests inject one). */
  nowMs?: () => number;
}

export class PartitionOwnership<W extends ShareWorker<unknown> = ShareWorker> {
  readonly #d: OwnershipDeps<W>;
  readonly #workers = new Map<number, W>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopping = false;
  #lastHeartbeatMs = -Infinity;
  #share: number[] = [];

  constructor(d: OwnershipDeps<W>) {
    this.#d = d;
  }

  get #label(): string {
    return this.#d.label ?? "ingest";
  }

  /** Partitions in this node's fair share at the last reconcile. */
  get share(): readonly number[] {
    return this.#share;
  }

  /** Workers of the partitions in this node's share (owned or contending). */
  workers(): IterableIterator<W> {
    return this.#workers.values();
  }

  worker(partition: number): W | undefined {
    return this.#workers.get(partition);
  }

  start(): void {
    const tickMs = this.#d.tickMs ?? Math.max(50, Math.floor(this.#d.ttlMs / 5));
    this.#timer = setInterval(() => void this.tick(), tickMs);
    void this.tick();
  }

  /** One reconcile (a tick already running is not started again). Never throws. */
  tick(): Promise<void> {
    if (this.#running || this.#stopping) return this.#running ?? Promise.resolve();
    this.#running = this.#reconcile().finally(() => { this.#running = null; });
    return this.#running;
  }

  /** Hands every partition off (nak, release), leaves the membership. A
   *  reconcile waiting on the control plane is not waited for (it returns
   *  at its stop check); leaving is best effort, bounded by stopControlWaitMs
   *  (an unreachable control plane must not hold a shutdown: the membership
   *  lapses by its TTL). */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await Promise.all([...this.#workers.values()].map((w) => w.stop()));
    this.#workers.clear();
    const leave = this.#d.membership.leave().catch((e: unknown) => this.#d.log.warn(`${this.#label}: leaving the membership failed`, { error: String(e) }));
    if (!(await settledWithin(leave, stopControlWaitMs))) this.#d.log.warn(`${this.#label}: leaving the membership is taking long; it lapses by its TTL`);
  }

  async #reconcile(): Promise<void> {
    const { membership, nodeId, partitions, ttlMs, log } = this.#d;
    let live: string[];
    try {
      const now = (this.#d.nowMs ?? performance.now.bind(performance))();
      if (now - this.#lastHeartbeatMs >= ttlMs / 3) {
        await membership.heartbeat();
        this.#lastHeartbeatMs = now;
      }
      live = await membership.liveNodes();
    } catch (err) {
      log.warn(`${this.#label}: membership view unavailable; keeping the current share`, { error: String(err) });
      return;
    }
    if (this.#stopping) return;
    const share = live.includes(nodeId) ? fairShare(partitions, live).get(nodeId)! : [];
    this.#share = share;
    const want = new Set(share);
    const leaving = [...this.#workers.entries()].filter(([p]) => !want.has(p));
    for (const [p] of leaving) this.#workers.delete(p);
    for (const p of share) {
      if (this.#workers.has(p)) continue;
      const w = this.#d.newWorker(p);
      this.#workers.set(p, w);
      w.start();
    }
    if (leaving.length > 0) log.info(`${this.#label}: handing partitions off`, { partitions: leaving.map(([p]) => p), live: live.length });
    await Promise.all(leaving.map(([, w]) => w.stop()));
  }
}
