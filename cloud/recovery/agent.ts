// RecoveryAgent: what one cloud node runs for fault tolerance, wired from
// the parts in this folder and cloud/membership: membership (heartbeats +
// SWIM) and the operator API; the singleton work it contends for
// (singletons.ts: lease + fencing failover, supervisor restarts), the
// replacement coordinator among it; the assignment server that starts
// replacement roles here. The orchestration role of cloud/node starts it;
// agent-main.ts runs it as a process (for the failover tests).

import type { NatsConnection } from "@nats-io/transport-node";
import { ClusterApi } from "../membership";
import { MembershipDriver, type MembershipOptions } from "../membership";
import { RecoveryHistory } from "../membership";
import type { NodeResources } from "../membership";
import type { DeactivateReason, FailoverConfig } from "./failover";
import type { PlacementLimits, RoleDemand } from "./placement";
import { ReplacementCoordinator, serveAssignments } from "./replacement";
import { RoleHolder } from "./role-holder";
import { SingletonHost, type SingletonWork } from "./singletons";
import type { DistributedLock } from "../lock";

export interface RecoveryAgentOptions {
  nc: NatsConnection;
  nodeId: string;
  /** Leases and fencing (cloud/lock, on the Raft control plane); its ownerId must be nodeId. */
  lock: DistributedLock;
  /** Roles this node runs from the start (announced; replaced elsewhere if it dies). */
  roles?: readonly string[];
  /** Singleton work this node contends for and runs while it holds the lease (singletons.ts). */
  singletons?: readonly SingletonWork[];
  /** Bare singleton roles (lease names) with callbacks instead of work: onSingletonActivate/onSingletonDeactivate. */
  singletonRoles?: readonly string[];
  /** Roles that replacement may start on another node. */
  replaceableRoles?: readonly string[];
  leaseTtlMs?: number;
  failover?: Partial<FailoverConfig>;
  heartbeatIntervalMs?: number;
  membership?: Partial<Omit<MembershipOptions, "nc" | "nodeId" | "history">>;
  resources?: () => NodeResources;
  demandOf?: (role: string) => RoleDemand;
  placement?: PlacementLimits;
  onSingletonActivate?: (role: string, token: number) => void | Promise<void>;
  onSingletonDeactivate?: (role: string, token: number, reason: DeactivateReason) => void | Promise<void>;
  /** Starts a replacement role on this node. */
  startRole?: (role: string, key: string) => Promise<void>;
  historyMax?: number;
  /** The node's recovery history (created here when not given); singleton work records into it too. */
  history?: RecoveryHistory;
  log?: (msg: string) => void;
}

export interface RecoveryAgent {
  readonly membership: MembershipDriver;
  readonly history: RecoveryHistory;
  /** Holders of the bare singleton roles. */
  readonly holders: ReadonlyMap<string, RoleHolder>;
  /** The singleton work (and the replacement coordinator). */
  readonly singletons: SingletonHost;
  /** Escalation hook: give up every singleton role now (supervisor gave up on this node). */
  markUnhealthy(why: string): Promise<void>;
  stop(): Promise<void>;
}

export function startRecoveryAgent(o: RecoveryAgentOptions): RecoveryAgent {
  if (o.lock.ownerId !== o.nodeId) throw new Error(`recovery agent ${o.nodeId}: its lock must be owned by the node (ownerId ${JSON.stringify(o.lock.ownerId)})`);
  const history = o.history ?? new RecoveryHistory(o.nodeId, o.historyMax);
  const heartbeatIntervalMs = o.heartbeatIntervalMs ?? 1000;
  const membership = new MembershipDriver({
    ...o.membership, nc: o.nc, nodeId: o.nodeId, history, heartbeatIntervalMs, ...(o.resources ? { resources: o.resources } : {}),
  });
  const leaseTtlMs = o.leaseTtlMs ?? 10_000;
  const holders = new Map<string, RoleHolder>();
  // Heartbeats announce every lease this node holds, at once when it changes (the dashboard and `up` show them).
  const announceLeases = (): void => membership.setAnnounced({
    leases: [...singletons.held(), ...[...holders.values()].filter((h) => h.token !== undefined).map((h) => h.role)].sort(),
  });
  const singletons = new SingletonHost({
    lock: o.lock, ttlMs: leaseTtlMs, history, onHeldChange: announceLeases,
    ...(o.failover ? { failover: o.failover } : {}), ...(o.log ? { log: o.log } : {}),
  });
  for (const role of o.singletonRoles ?? []) {
    holders.set(role, new RoleHolder({
      lock: o.lock, role, ttlMs: leaseTtlMs, history, ...(o.failover ? { config: o.failover } : {}),
      onActivate: async (token) => {
        announceLeases();
        await o.onSingletonActivate?.(role, token);
      },
      onDeactivate: async (token, reason) => {
        announceLeases();
        await o.onSingletonDeactivate?.(role, token, reason);
      },
      ...(o.log ? { log: o.log } : {}),
    }));
  }
  const coordinator = new ReplacementCoordinator({
    nc: o.nc, membership, history, replaceable: new Set(o.replaceableRoles ?? []),
    ...(o.demandOf ? { demandOf: o.demandOf } : {}), ...(o.placement ? { limits: o.placement } : {}),
    tickIntervalMs: Math.max(50, Math.floor(heartbeatIntervalMs / 2)),
  });
  singletons.add(coordinator.asSingletonWork());
  for (const w of o.singletons ?? []) singletons.add(w);
  const api = new ClusterApi({ nc: o.nc, membership, history });
  membership.setAnnounced({ roles: o.roles ?? [] });
  api.start();
  membership.start();
  const assignments = serveAssignments({
    nc: o.nc, membership, history, fence: o.lock,
    startRole: o.startRole ?? (async () => undefined),
  });
  for (const h of holders.values()) h.start();
  singletons.start();
  return {
    membership, history, holders, singletons,
    markUnhealthy: async (why) => {
      await Promise.all([...[...holders.values()].map((h) => h.stepDown(why)), singletons.stepDownAll(why)]);
    },
    stop: async () => {
      assignments.unsubscribe();
      await Promise.all([...[...holders.values()].map((h) => h.stop().catch(() => undefined)), singletons.stop()]);
      await membership.stop();
      api.stop();
    },
  };
}
