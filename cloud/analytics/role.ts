// The analytics role on one cloud node, composed from its parts: partition
// ownership shared with ingest (cloud/ingest ownership.ts: membership of
// analytics nodes on the Raft control plane + fair share, members
// `analytics:<node>`), one AnalyticsPartitionWorker per partition in this
// node's share (partition-worker.ts: lease `work/analytics/p<P>`, consumer
// `xsf-analytics-p<P>`, fenced checkpoints), the outputs (results, alerts,
// actions) and the rule set (setRules: the control plane's rules table,
// rules-watch.ts). This file only wires them; see docs/analytics.md.
import type { Tracer } from "@opentelemetry/api";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { RuleDef } from "../../shared/stream";
import { CloudRole, type Logger } from "../base";
import type { Proposer } from "../control";
import { ControlPlaneIngestMembership, parseIngestConfig, PartitionOwnership, type IngestConfig } from "../ingest";
import { ControlPlaneLock, FencedKv } from "../lock";
import type { FailoverConfig } from "../recovery";
import { ActionRunner, type CommandPort } from "./actions";
import { AlertStore } from "./alerts";
import { AnalyticsOutputs } from "./outputs";
import { AnalyticsPartitionWorker, type AnalyticsFaults } from "./partition-worker";
import type { OperatorConfig, PartitionCheckpoint, ProcessorConfig } from "./processor";
import { defaultAnalyticsSettings, operatorsMax, type AnalyticsSettings } from "./settings";
import { ensureAnalyticsStores } from "./streams";
import { ControlPlaneRules, RulesWatch } from "./rules-store";
import { emptyAnalyticsStats, type AnalyticsStats } from "./types";

export interface AnalyticsDeps {
  nc: NatsConnection;
  nodeId: string;
  /** The ingest settings: partitions, decode and dedup limits (the same stream, the same rules). */
  ingest: Partial<IngestConfig> | Record<string, unknown>;
  settings?: Partial<AnalyticsSettings>;
  /** The window operators every partition runs. */
  operators: readonly OperatorConfig[];
  /** A fixed rule set (tests, benchmarks); absent: the control plane's rules table, watched (rules-store.ts). */
  rules?: readonly RuleDef[];
  /** The Raft control plane: partition leases and the membership of analytics nodes. */
  control: Proposer;
  /** Command actions go through it; null: command actions fail (counted). */
  commands: CommandPort | null;
  log: Logger;
  faults?: AnalyticsFaults;
  failover?: Partial<FailoverConfig>;
  fetch?: typeof fetch;
  /** Null or absent: tracing off. */
  tracer?: Tracer | null;
}

export interface AnalyticsRole {
  stop(): Promise<void>;
  stats(): AnalyticsStats;
  /** A new rule set (the control plane's table changed): every owned partition applies it between batches. */
  setRules(rules: readonly RuleDef[]): void;
  readonly alerts: AlertStore;
}

export async function startAnalyticsRole(deps: AnalyticsDeps): Promise<AnalyticsRole> {
  const ingest = parseIngestConfig(deps.ingest);
  const settings: AnalyticsSettings = { ...defaultAnalyticsSettings, replicas: ingest.replicas, ...deps.settings };
  if (deps.operators.length > operatorsMax) throw new Error(`analytics: ${deps.operators.length} window operators > ${operatorsMax}`);
  const { log, nodeId } = deps;
  const js = jetstream(deps.nc);
  const stores = await ensureAnalyticsStores(deps.nc, await jetstreamManager(deps.nc), settings);
  const stats = emptyAnalyticsStats(nodeId);
  const alerts = new AlertStore(stores.alerts, js);
  const actions = new ActionRunner({ nc: deps.nc, commands: deps.commands, settings, stats, log, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  const sink = new AnalyticsOutputs(js, alerts, actions, stats);
  const checkpoints = new FencedKv<PartitionCheckpoint>(stores.checkpoints);
  const lock = new ControlPlaneLock({ propose: deps.control, ownerId: nodeId });
  let rules: readonly RuleDef[] = deps.rules ?? [];
  const processorConfig = (partition: number): ProcessorConfig => ({
    partition, partitions: ingest.partitions, operators: deps.operators, rules,
    decode: ingest, dedup: ingest, dedupDevicesMax: settings.dedupDevicesMax,
  });
  const ownership = new PartitionOwnership<AnalyticsPartitionWorker>({
    nodeId, partitions: ingest.partitions, ttlMs: settings.ownershipTtlMs, log, label: "analytics",
    membership: new ControlPlaneIngestMembership(deps.control, nodeId, settings.ownershipTtlMs, CloudRole.Analytics),
    newWorker: (partition) => new AnalyticsPartitionWorker({
      partition, nodeId, lock, conn: deps.nc, settings, processorConfig: () => processorConfig(partition), checkpoints, sink, stats, log, tracer: deps.tracer ?? null,
      ...(deps.faults ? { faults: deps.faults } : {}),
      ...(deps.failover ? { failover: deps.failover } : {}),
    }),
  });
  const setRules = (next: readonly RuleDef[]): void => {
    rules = next;
    stats.rulesUpdates++;
    for (const w of ownership.workers()) w.rulesChanged();
    log.info("analytics: rules applied", { rules: next.map((r) => r.id) });
  };
  const watch = deps.rules === undefined ? new RulesWatch(new ControlPlaneRules(deps.control), setRules, log) : null;
  // The first rule set before the first partition: no partition starts without the stored rules.
  await watch?.poll();
  watch?.start();
  ownership.start();
  log.info("analytics role started", { nodeId, partitions: ingest.partitions, operators: deps.operators.map((o) => o.id), rules: rules.length });
  let stopping: Promise<void> | null = null;
  return {
    alerts,
    stats: () => ({ ...stats, partitionsOwned: [...stats.partitionsOwned], processors: { ...stats.processors } }),
    setRules,
    stop: () => {
      stopping ??= (async () => {
        watch?.stop();
        await ownership.stop();
        if (!deps.nc.isClosed()) await deps.nc.flush().catch(() => undefined);
        await lock.close();
        log.info("analytics role stopped", { nodeId });
      })();
      return stopping;
    },
  };
}
