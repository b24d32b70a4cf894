// Service replacement. The pure part plans: for every member that is down,
// each role it ran that no live member runs as its replacement (nor is being
// started) is placed on a live node by placeRoles. The driver part runs on
// the node holding the "recovery/coordinator" lease (so one node decides),
// sends "start role R in place of node D" to the chosen node, and records
// the decision; every node serves such assignments and announces what it
// runs as a replacement in its heartbeat ("<failedNode>:<role>"), which is
// how the next plan (on this or a later coordinator) knows it is done.

import type { SingletonWork } from "./singletons";
import type { ExitInfo } from "./types";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { MembershipDriver } from "../membership";
import { HistoryKind, type MemberView } from "../membership";
import type { RecoveryHistory } from "../membership";
import { assignSubject } from "../subjects";
import { monotonicNowMs } from "../base";
import { isPlacement, placeRoles, DEFAULT_PLACEMENT_LIMITS, type PlacementLimits, type RoleDemand, type ScoredCandidate } from "./placement";
import type { FenceCheck } from "../lock";

export const COORDINATOR_LEASE = "recovery/coordinator";

/** "<failedNode>:<role>": one role instance to replace. */
export function replacementKey(failedNode: string, role: string): string {
  return `${failedNode}:${role}`;
}

export interface PlannedReplacement {
  readonly key: string;
  readonly failedNode: string;
  readonly role: string;
  readonly targetNode: string;
  readonly score: number;
  readonly considered: readonly ScoredCandidate[];
}

export interface ReplacementPlan {
  readonly replacements: readonly PlannedReplacement[];
  readonly unplaced: readonly { readonly key: string; readonly reason: string }[];
}

/**
 * Pure: what to start where. `pending` holds keys already assigned but not
 * yet announced by their target. Roles not in `replaceable` (singletons held
 * by leases, which fail over by themselves) are ignored.
 */
export function planReplacements(
  members: readonly MemberView[],
  replaceable: ReadonlySet<string>,
  demandOf: (role: string) => RoleDemand,
  pending: ReadonlySet<string>,
  limits: PlacementLimits = DEFAULT_PLACEMENT_LIMITS,
): ReplacementPlan {
  const live = members.filter((m) => m.status === "up" && m.resources !== undefined);
  const covered = new Set<string>(pending);
  for (const m of live) for (const k of m.replacing) covered.add(k);
  const wanted: { key: string; failedNode: string; role: string }[] = [];
  const down = members.filter((m) => m.status === "down").sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  for (const d of down) {
    for (const role of [...d.roles].sort()) {
      if (!replaceable.has(role)) continue;
      // A role the dead node itself ran as a replacement keeps its original key (no double replacement).
      const original = d.replacing.find((k) => k.endsWith(`:${role}`));
      const key = original ?? replacementKey(d.nodeId, role);
      if (covered.has(key)) continue;
      covered.add(key);
      wanted.push({ key, failedNode: key.slice(0, key.length - role.length - 1), role });
    }
  }
  const result = placeRoles(wanted.map((w) => demandOf(w.role)), live.map((m) => ({ nodeId: m.nodeId, resources: m.resources!, roles: m.roles })), limits);
  const replacements: PlannedReplacement[] = [];
  const unplaced: { key: string; reason: string }[] = [];
  result.decisions.forEach((d, i) => {
    const w = wanted[i]!;
    if (isPlacement(d)) replacements.push({ ...w, targetNode: d.nodeId, score: d.score, considered: d.considered });
    else unplaced.push({ key: w.key, reason: d.reason });
  });
  return { replacements, unplaced };
}

// ---- driver ----------------------------------------------------------------

export interface AssignRequest {
  readonly key: string;
  readonly role: string;
  readonly failedNode: string;
  readonly coordinator: string;
  readonly token: number;
}

export interface ReplacementCoordinatorOptions {
  nc: NatsConnection;
  membership: MembershipDriver;
  history: RecoveryHistory;
  replaceable: ReadonlySet<string>;
  demandOf?: (role: string) => RoleDemand;
  limits?: PlacementLimits;
  /** How long an assignment counts as in progress before it may be re-placed. */
  pendingMs?: number;
  tickIntervalMs?: number;
  requestTimeoutMs?: number;
  nowMs?: () => number;
}

export const DEFAULT_ROLE_DEMAND: Omit<RoleDemand, "role"> = { memoryBytes: 128 * 1024 * 1024, cpu: 0.25 };

/** Plans and sends assignments while active (this node holds the coordinator lease). */
export class ReplacementCoordinator {
  readonly #o: ReplacementCoordinatorOptions;
  readonly #now: () => number;
  /** Invariant: entries expire after pendingMs; bounded by the number of planned keys. */
  readonly #pending = new Map<string, number>();
  #token: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(opts: ReplacementCoordinatorOptions) {
    this.#o = opts;
    this.#now = opts.nowMs ?? monotonicNowMs;
  }

  activate(token: number): void {
    this.#token = token;
    this.#timer ??= setInterval(() => void this.#tick(), this.#o.tickIntervalMs ?? 250);
  }

  deactivate(): void {
    this.#token = undefined;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The coordinator as singleton work (singletons.ts): active while this node holds COORDINATOR_LEASE. */
  asSingletonWork(): SingletonWork {
    return {
      lease: COORDINATOR_LEASE,
      start: async (token) => {
        this.activate(token);
        // It ticks on a timer and never crashes as a whole (a failed assignment is recorded and retried).
        let stopped: () => void = () => undefined;
        const exited = new Promise<ExitInfo>((resolve) => { stopped = () => resolve({ code: 0, signal: null }); });
        return { exited, stop: async () => { this.deactivate(); stopped(); } };
      },
    };
  }

  async #tick(): Promise<void> {
    if (this.#busy || this.#token === undefined) return;
    this.#busy = true;
    try {
      const now = this.#now();
      for (const [k, until] of this.#pending) if (until <= now) this.#pending.delete(k);
      const demandOf = this.#o.demandOf ?? ((role: string) => ({ role, ...DEFAULT_ROLE_DEMAND }));
      const plan = planReplacements(this.#o.membership.members(), this.#o.replaceable, demandOf, new Set(this.#pending.keys()), this.#o.limits);
      for (const r of plan.replacements) await this.#assign(r, this.#token);
    } finally {
      this.#busy = false;
    }
  }

  async #assign(r: PlannedReplacement, token: number): Promise<void> {
    const { nc, history, membership } = this.#o;
    this.#pending.set(r.key, this.#now() + (this.#o.pendingMs ?? 5000));
    const failed = membership.member(r.failedNode);
    history.record(HistoryKind.Replacement, r.key, "placed", {
      role: r.role, failedNode: r.failedNode, targetNode: r.targetNode, score: r.score, considered: r.considered,
      failedDownSinceMs: failed?.sinceMs,
    });
    const req: AssignRequest = { key: r.key, role: r.role, failedNode: r.failedNode, coordinator: membership.nodeId, token };
    try {
      const reply = await nc.request(assignSubject(r.targetNode), new TextEncoder().encode(JSON.stringify(req)), { timeout: this.#o.requestTimeoutMs ?? 3000 });
      const body = JSON.parse(new TextDecoder().decode(reply.data)) as { ok: boolean; message?: string };
      history.record(HistoryKind.Replacement, r.key, body.ok ? "started" : "rejected", { targetNode: r.targetNode, message: body.message });
      if (!body.ok) this.#pending.delete(r.key);
    } catch (e) {
      history.record(HistoryKind.Replacement, r.key, "assign-failed", { targetNode: r.targetNode, error: String(e) });
      this.#pending.delete(r.key);
    }
  }
}

export interface AssignmentServerOptions {
  nc: NatsConnection;
  membership: MembershipDriver;
  history: RecoveryHistory;
  /** Starts the role on this node; resolves once it runs. */
  startRole: (role: string, key: string) => Promise<void>;
  /** When given, assignments from a coordinator whose lease token is stale are refused. */
  fence?: FenceCheck;
}

/** Serves xsfleet.v1.cluster.assign.<self>: starts assigned roles, idempotent per key. */
export function serveAssignments(opts: AssignmentServerOptions): Subscription {
  const { nc, membership, history } = opts;
  const enc = new TextEncoder();
  const started = new Set<string>();
  return nc.subscribe(assignSubject(membership.nodeId), {
    callback: (err, msg) => {
      if (err) return;
      void (async () => {
        let req: AssignRequest;
        try {
          req = JSON.parse(new TextDecoder().decode(msg.data)) as AssignRequest;
          if (typeof req.key !== "string" || typeof req.role !== "string" || !Number.isSafeInteger(req.token)) throw new Error("bad assignment");
        } catch (e) {
          msg.respond(enc.encode(JSON.stringify({ ok: false, message: String(e) })));
          return;
        }
        if (opts.fence && !(await opts.fence.checkFence(COORDINATOR_LEASE, req.token))) {
          msg.respond(enc.encode(JSON.stringify({ ok: false, message: "stale coordinator token" })));
          return;
        }
        if (!started.has(req.key)) {
          started.add(req.key);
          try {
            await opts.startRole(req.role, req.key);
          } catch (e) {
            started.delete(req.key);
            msg.respond(enc.encode(JSON.stringify({ ok: false, message: `start failed: ${String(e)}` })));
            return;
          }
          const a = membership.announced;
          membership.setAnnounced({ roles: [...a.roles, req.role], replacing: [...a.replacing, req.key] });
          history.record(HistoryKind.Replacement, req.key, "role-started", { role: req.role, failedNode: req.failedNode, coordinator: req.coordinator });
        }
        msg.respond(enc.encode(JSON.stringify({ ok: true })));
      })();
    },
  });
}
