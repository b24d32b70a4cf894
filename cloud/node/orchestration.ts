// The orchestration role: this node's part in running the cloud tier as a
// whole. It starts the recovery agent (cloud/recovery: heartbeats + SWIM
// membership, the cluster API, replacement of dead nodes' roles) and
// contends for the tier's singleton work, each a lease on the node's lock
// service with fencing failover and supervisor restarts.
//
// The lock service is the Raft control plane's (ControlPlaneLock, its
// replicas must run) unless `lock.backend` is redis.
//
// Singleton work of the tier — a capability that needs one owner adds one
// line to `singletonWork` below.
import type { NatsConnection } from "@nats-io/transport-node";
import { ControlClient } from "../controlplane";
import { ControlPlaneLock, LockBackend, RedisLock, RedisPool, type DistributedLock } from "../lock";
import { RecoveryHistory, registerMembershipMetrics } from "../membership";
import { Gauge } from "prom-client";
import { BackupCatalog, EdgeScheduler, loopHandle, scheduledBackupWork, sleepUnlessAborted, startRecoveryAgent, type SingletonWork } from "../recovery";
import { ControlPlaneRegistry, KvDeviceRegistry, type DeviceRegistry } from "../registry";
import { ShadowStore } from "../shadow";
import { DeviceStateMirror } from "../state";
import type { Logger } from "../base";
import type { CloudConfig } from "./config";
import type { RoleContext, RoleHandle } from "./roles";

/** What singleton work gets from the node. */
interface SingletonDeps {
  nc: NatsConnection;
  nodeId: string;
  config: CloudConfig;
  control: ControlClient | null;
  lock: DistributedLock;
  catalog: BackupCatalog;
  history: RecoveryHistory;
  edge: EdgeScheduler | null;
  log: Logger;
}

/** The singleton work of the cloud tier, one entry per capability. */
function singletonWork(d: SingletonDeps): SingletonWork[] {
  const o = d.config.orchestration;
  return [
    ...(o.backup.dir ? [scheduledBackupWork({
      nc: d.nc, nodeId: d.nodeId, control: d.control, lock: d.lock, catalog: d.catalog, schedule: o.backup, history: d.history,
      log: (m) => d.log.info(m),
    })] : []),
    ...(d.control ? [controlSweepWork(d.control)] : []),
    ...(d.edge ? [d.edge.asSingletonWork()] : []),
  ];
}

/** How often the control plane's expired leases, locks and idle sessions are swept. */
export const controlSweepIntervalMs = 30_000;

/**
 * Control-plane housekeeping: the state machine drops expired leases and
 * locks only when they are touched, and idle client sessions only at its
 * session limit (evicting the least recently used, which may still be
 * live); a `tick` through the log sweeps all of them, so snapshots carry
 * only what is live. A tick that fails is a crash of the work.
 */
function controlSweepWork(control: ControlClient): SingletonWork {
  return {
    lease: "singleton/control-sweep",
    start: async () => loopHandle(async (signal) => {
      while (await sleepUnlessAborted(controlSweepIntervalMs, signal)) {
        const r = await control.tick();
        if (!r.ok) throw new Error(`control-plane tick refused: ${r.code}: ${r.message}`);
      }
    }),
  };
}

interface LockService {
  lock: DistributedLock;
  catalog: BackupCatalog;
  close(): Promise<void>;
}

async function openLockService(ctx: RoleContext, control: ControlClient | null): Promise<LockService> {
  const { config, nodeId, nc } = ctx;
  if (config.lock.backend === LockBackend.Redis) {
    const r = config.lock.redis;
    const pool = await RedisPool.open({ host: r.host, port: r.port, name: `xsfleet-${nodeId}` }, r.poolSize);
    return { lock: new RedisLock({ pool, keyPrefix: r.keyPrefix, ownerId: nodeId }), catalog: BackupCatalog.redis(pool, r.keyPrefix), close: () => pool.close() };
  }
  if (!control) throw new Error("orchestration: lock.backend control needs the Raft control plane");
  const lock = new ControlPlaneLock({ propose: control.proposer(), ownerId: nodeId });
  return { lock, catalog: await BackupCatalog.openKv(nc, config.streams.replicas), close: () => lock.close() };
}

/** Does this node's configuration put anything on the Raft control plane? */
function usesControlPlane(config: CloudConfig): boolean {
  return config.registry === "control" || config.lock.backend === LockBackend.Control;
}

interface EdgeParts {
  scheduler: EdgeScheduler;
  stop(): void;
}

/**
 * The edge scheduler (cloud/recovery/edge-scheduler.ts) when the deployment
 * defines edge jobs: it reads device state through a mirror of the state
 * bucket and writes assignments into the owners' desired shadows (the
 * ShadowDeltaPusher beside the api role delivers them).
 */
async function edgeScheduler(ctx: RoleContext, control: ControlClient | null, lock: DistributedLock): Promise<EdgeParts | null> {
  const { nc, nodeId, config, log } = ctx;
  const e = config.orchestration.edge;
  if (e.jobs.length === 0) return null;
  const registry: DeviceRegistry = config.registry === "control" && control
    ? new ControlPlaneRegistry(control.proposer())
    : await KvDeviceRegistry.open(nc, { replicas: config.streams.replicas });
  const shadow = await ShadowStore.open(nc, { bucket: { replicas: config.streams.replicas } });
  const mirror = new DeviceStateMirror(nc).start();
  const scheduler = new EdgeScheduler({
    nc, nodeId, registry, shadow, devices: () => mirror.devices(), ready: () => mirror.ready(5_000), jobs: e.jobs, fence: lock, tickMs: e.tickMs,
    log: (m) => log.info(m),
  });
  log.info("orchestration: edge scheduler contends", { jobs: e.jobs.length, tickMs: e.tickMs });
  return { scheduler, stop: () => mirror.stop() };
}

export async function startOrchestrationRole(ctx: RoleContext): Promise<RoleHandle> {
  const { nc, nodeId, config, log } = ctx;
  const o = config.orchestration;
  const control = usesControlPlane(config) ? new ControlClient(nc, { clientId: `orchestration-${nodeId}`, timeoutMs: 5_000, attemptTimeoutMs: 1_500 }) : null;
  const service = await openLockService(ctx, control);
  const edge = await edgeScheduler(ctx, control, service.lock);
  const history = new RecoveryHistory(nodeId);
  const agent = startRecoveryAgent({
    nc, nodeId, lock: service.lock, roles: config.roles, leaseTtlMs: o.leaseTtlMs, heartbeatIntervalMs: o.heartbeatIntervalMs, history,
    log: (m) => log.info(m),
    singletons: singletonWork({ nc, nodeId, config, control, lock: service.lock, catalog: service.catalog, history, edge: edge?.scheduler ?? null, log }),
  });
  log.info("orchestration: contending for singleton work", { lock: config.lock.backend, leaseTtlMs: o.leaseTtlMs, backups: o.backup.dir || "off" });
  return {
    membership: agent.membership,
    stop: async () => {
      await agent.stop();
      edge?.stop();
      await service.close();
    },
    registerMetrics: (registry) => {
      // The role's own gauge (what the status line shows), then membership and its detectors.
      new Gauge({
        name: "xsfleet_orchestration", help: "orchestration role counters of this node", labelNames: ["stat"], registers: [registry],
        collect() {
          const members = agent.membership.members();
          this.set({ stat: "members" }, members.length);
          this.set({ stat: "up" }, members.filter((m) => m.status === "up").length);
          this.set({ stat: "singletonsHeld" }, agent.singletons.held().length);
          // The edge scheduler's counters on the node that runs it (ticks, writes, moves, conflicts, ...).
          if (edge) for (const [k, v] of Object.entries(edge.scheduler.stats)) this.set({ stat: `edgeScheduler_${k}` }, v);
        },
      });
      registerMembershipMetrics(registry, agent.membership);
    },
  };
}
