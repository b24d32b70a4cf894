// RecoveryAgent: what one cloud node runs for fault tolerance, wired from
// the parts in this folder and cloud/membership: membership (heartbeats +
// SWIM) and the operator API; one RoleHolder per singleton role it may hold;
// the replacement coordinator (itself a singleton role); the assignment
// server that starts replacement roles here. cloud/node can start it as a
// node service; agent-main.ts runs it as a process.

import type { NatsConnection } from "@nats-io/transport-node";
import { ClusterApi } from "../membership";
import { DevicePresenceTracker } from "../membership";
import { MembershipDriver, type MembershipOptions } from "../membership";
import { RecoveryHistory } from "../membership";
import type { NodeResources } from "../membership";
import type { DeactivateReason, FailoverConfig } from "./failover";
import type { PlacementLimits, RoleDemand } from "./placement";
import { COORDINATOR_LEASE, ReplacementCoordinator, serveAssignments } from "./replacement";
import { RoleHolder } from "./role-holder";
import type { DistributedLock } from "../lock";

export interface RecoveryAgentOptions {
  nc: NatsConnection;
  nodeId: string;
  /** Leases and fencing (cloud/lock, on the Raft control plane); its ownerId must be nodeId. */
  lock: DistributedLock;
  /** Roles this node runs from the start (announced; replaced elsewhere if it dies). */
  roles?: readonly string[];
  /** Singleton roles (lease names) this node contends for. */
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
  /** Track device heartbeats with a detector (served on xsfleet.v1.api.cluster.devices). */
  devicePresence?: { heartbeatIntervalMs: number } | false;
  onSingletonActivate?: (role: string, token: number) => void | Promise<void>;
  onSingletonDeactivate?: (role: string, token: number, reason: DeactivateReason) => void | Promise<void>;
  /** Starts a replacement role on this node. */
  startRole?: (role: string, key: string) => Promise<void>;
  historyMax?: number;
  log?: (msg: string) => void;
}

export interface RecoveryAgent {
  readonly membership: MembershipDriver;
  readonly history: RecoveryHistory;
  readonly holders: ReadonlyMap<string, RoleHolder>;
  readonly devices: DevicePresenceTracker | undefined;
  /** Escalation hook: give up every singleton role now (supervisor gave up on this node). */
  markUnhealthy(why: string): Promise<void>;
  stop(): Promise<void>;
}

export function startRecoveryAgent(o: RecoveryAgentOptions): RecoveryAgent {
  if (o.lock.ownerId !== o.nodeId) throw new Error(`recovery agent ${o.nodeId}: its lock must be owned by the node (ownerId ${JSON.stringify(o.lock.ownerId)})`);
  const history = new RecoveryHistory(o.nodeId, o.historyMax);
  const heartbeatIntervalMs = o.heartbeatIntervalMs ?? 1000;
  const membership = new MembershipDriver({
    ...o.membership, nc: o.nc, nodeId: o.nodeId, history, heartbeatIntervalMs, ...(o.resources ? { resources: o.resources } : {}),
  });
  const leaseTtlMs = o.leaseTtlMs ?? 10_000;
  const holders = new Map<string, RoleHolder>();
  const announceLeases = (): void => membership.setAnnounced({ leases: [...holders.values()].filter((h) => h.token !== undefined).map((h) => h.role) });
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
  const coordinatorHolder = new RoleHolder({
    lock: o.lock, role: COORDINATOR_LEASE, ttlMs: leaseTtlMs, history, ...(o.failover ? { config: o.failover } : {}),
    onActivate: (token) => coordinator.activate(token),
    onDeactivate: () => coordinator.deactivate(),
    ...(o.log ? { log: o.log } : {}),
  });
  const devices = o.devicePresence ? new DevicePresenceTracker({ nc: o.nc, heartbeatIntervalMs: o.devicePresence.heartbeatIntervalMs }) : undefined;
  const api = new ClusterApi({ nc: o.nc, membership, history, ...(devices ? { devices } : {}) });
  membership.setAnnounced({ roles: o.roles ?? [] });
  api.start();
  membership.start();
  devices?.start();
  const assignments = serveAssignments({
    nc: o.nc, membership, history, fence: o.lock,
    startRole: o.startRole ?? (async () => undefined),
  });
  for (const h of holders.values()) h.start();
  coordinatorHolder.start();
  return {
    membership, history, holders, devices,
    markUnhealthy: async (why) => {
      await Promise.all([...holders.values(), coordinatorHolder].map((h) => h.stepDown(why)));
    },
    stop: async () => {
      assignments.unsubscribe();
      coordinator.deactivate();
      await Promise.all([...holders.values(), coordinatorHolder].map((h) => h.stop().catch(() => undefined)));
      devices?.stop();
      await membership.stop();
      api.stop();
    },
  };
}
