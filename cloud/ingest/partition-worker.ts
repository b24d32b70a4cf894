// One partition on one ingest node: contends for the partition's lease on
// the control plane (`work/ingest/p<N>`, a RoleHolder: fencing failover
// with a local monotonic deadline) and, while it holds it, runs the
// partition's pull loop into its own pipeline — the one ordered writer of
// the partition's devices (docs/delivery.md "One writer per device").
//
//   lease acquired (token t) ──► fresh cache, pipeline, pull loop (xsf-ingest-p<N>)
//   lease lost (renew refused, local validity over) ──► stop pulling; writes in flight
//       fail the ownership check and are naked; nothing written after the deadline
//   stop() (graceful handoff) ──► stop pulling, nak what is held, finish the
//       batches in flight, then release the lease (the next owner starts at once)
//
// Invariant: the pipeline writes (outputs, device state) only while
// `mayWrite()`: this activation is current and the lease's local validity
// (the request's send time + TTL − margin, on the monotonic clock) is not
// over. The device-state CAS on the expected revision backs it up at the
// resource: a write that slipped in anyway is found, reloaded, reapplied and
// counted (`foreignWrites`). Each activation starts with an empty cache, so
// states written by the previous owner are read from KV.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../base";
import type { DistributedLock } from "../lock";
import { LeasedWorker, type FailoverConfig, type WorkerDeactivateReason } from "../recovery";
import { DeviceLocks, StateCache } from "./cache";
import type { Tracer } from "@opentelemetry/api";
import { IngestPipeline, type AdmissionPort, type OutputPort, type PipelineHooks, type RateLimitPort, type ShadowReportPort, type StatePort } from "./pipeline";
import { PullLoop } from "./pull-loop";
import type { IngestConfig } from "./settings";
import { IngestStream, partitionConsumerName } from "./streams";
import type { IngestStats } from "./types";

/** Lease name of partition n of a partitioned role on the lock service (`work/<role>/p<n>`; ingest's by default). */
export function partitionLease(n: number, role = "ingest"): string {
  return `work/${role}/p${n}`;
}

export interface PartitionWorkerDeps {
  partition: number;
  lock: DistributedLock;
  conn: NatsConnection;
  cfg: IngestConfig;
  state: StatePort;
  out: OutputPort;
  stats: IngestStats;
  log: Logger;
  hooks?: PipelineHooks;
  /** Lease timing overrides (tests); defaults from cfg.ownershipTtlMs. */
  failover?: Partial<FailoverConfig>;
  /** The partition's cache size: the node's deviceCacheMax shared over the partitions it may own. */
  cacheMax: number;
  /** The registry gate and the node's per-device rate limiter (pipeline.ts). */
  admission: AdmissionPort;
  rateLimit?: RateLimitPort;
  /** Device shadow reports on uplinks (pipeline.ts); absent: not merged by ingest. */
  shadowReports?: ShadowReportPort;
  /** Spans per device batch; null or absent: tracing off. */
  tracer?: Tracer | null;
}

/** What the presence sweep needs of an owned partition. */
export interface OwnedPartition {
  readonly cache: StateCache;
  readonly locks: DeviceLocks;
  mayWrite(): boolean;
}

interface Activation extends OwnedPartition {
  readonly token: number;
  readonly loop: PullLoop;
  /** Revokes the write right of this activation. */
  end(): void;
}

export class PartitionWorker extends LeasedWorker {
  readonly partition: number;
  readonly #d: PartitionWorkerDeps;
  #active: Activation | null = null;

  constructor(d: PartitionWorkerDeps) {
    super({ lock: d.lock, lease: partitionLease(d.partition), ttlMs: d.cfg.ownershipTtlMs, ...(d.failover ? { failover: d.failover } : {}), log: (m) => d.log.warn(`ingest: ${m}`) });
    this.partition = d.partition;
    this.#d = d;
  }

  /** Owned now, with a write-safe lease. */
  owned(): OwnedPartition | null {
    const a = this.#active;
    return a && a.mayWrite() ? a : null;
  }

  /** Fencing token of the current ownership (the lease epoch), if owned. */
  get token(): number | undefined {
    return this.#active?.token;
  }

  protected activeToken(): number | undefined {
    return this.#active?.token;
  }

  protected async activate(token: number): Promise<void> {
    const { cfg, stats, log, partition } = this.#d;
    if (this.stopping || this.#active) return;
    const cache = new StateCache(this.#d.cacheMax);
    const locks = new DeviceLocks();
    let current = true;
    const mayWrite = (): boolean => current && this.holder.isActive();
    const pipeline = new IngestPipeline({
      cfg, cache, locks, stats, log, out: this.#d.out, state: this.#d.state, admission: this.#d.admission,
      ...(this.#d.rateLimit ? { rateLimit: this.#d.rateLimit } : {}),
      ...(this.#d.shadowReports ? { shadowReports: this.#d.shadowReports } : {}),
      tracer: this.#d.tracer ?? null,
      ...(this.#d.hooks ? { hooks: this.#d.hooks } : {}),
      stopping: () => !mayWrite(),
      mayWrite,
    });
    const consumer = partitionConsumerName(partition);
    const loop = new PullLoop({ stream: IngestStream.Uplinks, consumer, conn: this.#d.conn, cfg, log, handle: (batch) => pipeline.processBatch(consumer, batch) });
    this.#active = { token, cache, locks, loop, mayWrite, end: () => { current = false; } };
    stats.partitionsAcquired++;
    stats.partitionsOwned = [...stats.partitionsOwned, partition].sort((a, b) => a - b);
    log.info("ingest: partition acquired", { partition, token });
    loop.start();
  }

  protected async deactivate(reason: WorkerDeactivateReason, token: number): Promise<void> {
    const a = this.#active;
    if (!a || (token !== 0 && a.token !== token)) return;
    const { stats, log, partition } = this.#d;
    // A lost lease forbids writes now; a handoff still holds it and lets the batches in flight finish.
    if (reason !== "handoff") a.end();
    await a.loop.stop();
    a.end();
    this.#active = null;
    stats.partitionsReleased++;
    stats.partitionsOwned = stats.partitionsOwned.filter((p) => p !== partition);
    stats.consumerLag[partitionConsumerName(partition)] = 0;
    log.info("ingest: partition released", { partition, token: a.token, reason });
  }
}
