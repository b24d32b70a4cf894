// One partition of XSF_UP on one analytics node: contends for the
// partition's lease (`work/analytics/p<P>`, a RoleHolder with fencing, the
// ingest machinery's), and while it holds it runs the partition's
// PartitionProcessor over its own consumer `xsf-analytics-p<P>`.
//
//   lease acquired (token t) ──► read the checkpoint (fenced KV, key p<P>),
//       restore the processor, recreate the consumer at checkpoint seq + 1,
//       pull in stream order (one batch at a time)
//   each batch ──► process every message ──► publish results and alert
//       transitions (Nats-Msg-Id: the stream drops a replay's copies), run
//       the actions ──► fenced compare-and-set of the checkpoint under t
//       (expected version: the one this activation read or wrote) ──► ack
//       the batch's last message (AckAll)
//   checkpoint refused (a newer token, or another writer) ──► the lease is
//       gone: stop, write nothing more
//   any failure in a batch ──► the state in memory is ahead of the
//       checkpoint: restart the activation (re-read, recreate, replay)
//   stop() (handoff) ──► stop pulling, finish the batch in flight, release
//
// Exactly-once results follow: every output of a message is published before
// the checkpoint that covers the message, and a replay from the checkpoint
// reproduces them identically (the processor is deterministic) under the
// same ids. See docs/analytics.md "Exactly-once".
import type { NatsConnection } from "@nats-io/transport-node";
import { context as otelContext, trace, SpanStatusCode, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Logger } from "../base";
import { partitionLease, PullLoop, type Delivery } from "../ingest";
import { VERSION_ABSENT, type DistributedLock, type FencedStore } from "../lock";
import { LeasedWorker, type FailoverConfig, type WorkerDeactivateReason } from "../recovery";
import { uplinkStream } from "../subjects";
import { Attr, contextFromEnvelope, SpanName } from "../tracing";
import { decodeEnvelope } from "../../shared/proto/xsfleet.gen";
import { PartitionProcessor, type PartitionCheckpoint, type ProcessorConfig, type ProcessorOutput } from "./processor";
import type { AnalyticsSettings } from "./settings";
import { analyticsConsumerName, checkpointKey, resetAnalyticsConsumer } from "./streams";
import type { AnalyticsStats } from "./types";
import { checkpointBytesMax } from "./settings";

export const analyticsRole = "analytics";
/** Links from a batch span to the device messages it read (the traces they started). */
export const analyticsBatchLinksMax = 16;

/** Where a partition's outputs go (outputs.ts in the product). */
export interface OutputSink {
  /** Publishes results and transitions (awaiting the streams' acks) and runs the transitions' actions;
   *  `trace`: the batch span's context, carried in the published messages' headers. */
  emit(partition: number, out: ProcessorOutput, trace?: Context): Promise<void>;
}

/** Crash points for tests. */
export interface AnalyticsFaults {
  /** Awaited after a batch's outputs are published, before its checkpoint (a never-settling promise freezes the worker there). */
  beforeCheckpoint?(partition: number, seq: number): Promise<void> | void;
}

export interface AnalyticsWorkerDeps {
  partition: number;
  nodeId: string;
  lock: DistributedLock;
  conn: NatsConnection;
  settings: AnalyticsSettings;
  /** The processor's config now (the rules change while the node runs). */
  processorConfig(): ProcessorConfig;
  checkpoints: FencedStore<PartitionCheckpoint>;
  sink: OutputSink;
  stats: AnalyticsStats;
  log: Logger;
  faults?: AnalyticsFaults;
  failover?: Partial<FailoverConfig>;
  /** Null or absent: tracing off (no tracing code runs). */
  tracer?: Tracer | null;
}

interface Activation {
  readonly token: number;
  processor: PartitionProcessor;
  version: number;
  loop: PullLoop;
  timer: NodeJS.Timeout;
  /** Batches and ticks run one after the other. */
  work: Promise<void>;
  /** Wall time of the last batch (idle ticks only run after idleTickMs without one). */
  lastWorkMs: number;
  current: boolean;
}

export class AnalyticsPartitionWorker extends LeasedWorker {
  readonly partition: number;
  readonly #d: AnalyticsWorkerDeps;
  #active: Activation | null = null;

  constructor(d: AnalyticsWorkerDeps) {
    super({
      lock: d.lock, lease: partitionLease(d.partition, analyticsRole), ttlMs: d.settings.ownershipTtlMs,
      ...(d.failover ? { failover: d.failover } : {}), log: (m) => d.log.warn(`analytics: ${m}`),
    });
    this.partition = d.partition;
    this.#d = d;
  }

  protected activeToken(): number | undefined {
    return this.#active?.token;
  }

  /** Owned now, with a write-safe lease (the ShareWorker contract of cloud/ingest ownership). */
  owned(): { mayWrite(): boolean } | null {
    const a = this.#active;
    return a && a.current && this.holder.isActive() ? { mayWrite: () => a.current && this.holder.isActive() } : null;
  }

  /** The processor's rules changed: applied between batches. */
  rulesChanged(): void {
    const a = this.#active;
    if (!a) return;
    a.work = a.work.then(() => { if (a.current) a.processor.setRules(this.#d.processorConfig().rules); });
  }

  #mayWrite(a: Activation): boolean {
    return a.current && this.holder.isActive();
  }

  protected async activate(token: number): Promise<void> {
    const { partition, settings, log, stats } = this.#d;
    if (this.stopping || this.#active) return;
    let entry;
    try {
      entry = await this.#d.checkpoints.read(checkpointKey(partition));
      const processor = new PartitionProcessor(this.#d.processorConfig(), entry?.value ?? null);
      await resetAnalyticsConsumer(await jetstreamManager(this.#d.conn), partition, processor.seq + 1, settings);
      const a: Activation = {
        token, processor, version: entry?.version ?? VERSION_ABSENT, current: true, work: Promise.resolve(), lastWorkMs: Date.now(),
        loop: null as unknown as PullLoop, timer: null as unknown as NodeJS.Timeout,
      };
      a.loop = new PullLoop({
        stream: uplinkStream, consumer: analyticsConsumerName(partition), conn: this.#d.conn, log, label: "analytics", inFlightMax: 1,
        cfg: { batchMax: settings.batchMax, prefetchMax: settings.batchMax, ackWaitMs: settings.ackWaitMs },
        handle: (batch) => this.#serialWork(a, () => this.#batch(a, batch)),
      });
      a.timer = setInterval(() => void this.#serialWork(a, () => this.#tick(a)), settings.idleTickMs);
      this.#active = a;
      stats.partitionsAcquired++;
      stats.partitionsOwned = [...stats.partitionsOwned, partition].sort((x, y) => x - y);
      log.info("analytics: partition acquired", { partition, token, fromSeq: processor.seq + 1 });
      a.loop.start();
    } catch (err) {
      // Nothing runs: the lease stays, so try again shortly (the stream or bucket may be coming up).
      log.warn("analytics: activation failed; retrying", { partition, error: String(err) });
      stats.restarts++;
      setTimeout(() => void this.queue(async () => { if (!this.#active && this.holder.isActive() && this.holder.token === token) await this.activate(token); }), 1_000);
    }
  }

  #serialWork(a: Activation, f: () => Promise<void>): Promise<void> {
    const next = a.work.then(f, f);
    a.work = next.catch(() => undefined);
    return next;
  }

  async #batch(a: Activation, batch: readonly Delivery[]): Promise<void> {
    const { stats } = this.#d;
    if (!this.#mayWrite(a)) {
      for (const m of batch) m.nak(0);
      return;
    }
    a.lastWorkMs = Date.now();
    const before = { ...a.processor.stats };
    const out: ProcessorOutput = { results: [], transitions: [] };
    let last: Delivery | null = null;
    for (const m of batch) {
      const before = a.processor.seq;
      const o = a.processor.process(m);
      if (a.processor.seq === before) stats.skipped++;
      out.results.push(...o.results);
      out.transitions.push(...o.transitions);
      last = m;
      stats.lag = m.pending;
    }
    const after = a.processor.stats;
    stats.messages += after.messages - before.messages;
    stats.points += after.points - before.points;
    stats.duplicates += after.duplicates - before.duplicates;
    stats.rejected += after.rejected - before.rejected;
    stats.lateDropped += Math.max(0, after.lateDropped - before.lateDropped);
    if (!last) return;
    const span = this.#d.tracer ? this.#batchSpan(this.#d.tracer, batch) : null;
    try {
      await this.#commit(a, out, () => last!.ack(), span ? trace.setSpan(otelContext.active(), span) : undefined);
      span?.setAttributes({ [Attr.AnalyticsResults]: out.results.length, [Attr.AnalyticsTransitions]: out.transitions.length });
    } catch (e) {
      span?.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
      throw e;
    } finally {
      span?.end();
    }
  }

  /** The batch's span, linked to the traces of (up to analyticsBatchLinksMax of) its device messages. */
  #batchSpan(tracer: Tracer, batch: readonly Delivery[]): Span {
    const span = tracer.startSpan(SpanName.AnalyticsBatch, { attributes: { [Attr.Partition]: this.partition, [Attr.Messages]: batch.length } });
    const seen = new Set<string>();
    for (const m of batch) {
      if (seen.size >= analyticsBatchLinksMax) break;
      let traceparent: string;
      try {
        traceparent = decodeEnvelope(m.data).traceparent;
      } catch {
        continue; // the processor counted it as rejected
      }
      if (!traceparent || seen.has(traceparent)) continue;
      seen.add(traceparent);
      const sc = trace.getSpanContext(contextFromEnvelope({ traceparent }));
      if (sc && trace.isSpanContextValid(sc)) span.addLink({ context: sc });
    }
    return span;
  }

  async #tick(a: Activation): Promise<void> {
    if (!this.#mayWrite(a) || Date.now() - a.lastWorkMs < this.#d.settings.idleTickMs) return;
    const out = a.processor.tick(Date.now());
    if (out.results.length === 0 && out.transitions.length === 0) return;
    await this.#commit(a, out, () => undefined);
  }

  /** Outputs, then the checkpoint, then the ack. A failure restarts the activation from its checkpoint. */
  async #commit(a: Activation, out: ProcessorOutput, ack: () => void, traceCtx?: Context): Promise<void> {
    const { partition, stats, log, nodeId } = this.#d;
    try {
      await this.#d.sink.emit(partition, out, traceCtx);
      await this.#d.faults?.beforeCheckpoint?.(partition, a.processor.seq);
      if (!this.#mayWrite(a)) throw new Error("the lease ran out before the checkpoint");
      const ckpt = a.processor.checkpoint();
      const bytes = JSON.stringify(ckpt).length;
      if (bytes > checkpointBytesMax) throw new Error(`checkpoint of ${bytes} bytes > ${checkpointBytesMax}: fewer devices or operators per partition`);
      const r = await this.#d.checkpoints.compareAndSet(checkpointKey(partition), a.token, a.version, nodeId, ckpt);
      if (!r.ok) {
        stats.checkpointsRefused++;
        log.warn("analytics: checkpoint refused; the partition has another owner", { partition, token: a.token, error: r.error });
        a.current = false;
        void this.queue(() => this.deactivate("renew-lost", a.token));
        return;
      }
      a.version = r.version;
      stats.checkpoints++;
      ack();
      this.#syncStats(a);
    } catch (err) {
      if (!a.current) return;
      stats.restarts++;
      log.warn("analytics: batch failed; restarting the partition from its checkpoint", { partition, error: String(err) });
      a.current = false;
      void this.queue(async () => {
        await this.deactivate("renew-lost", a.token);
        if (!this.stopping && this.holder.isActive() && this.holder.token === a.token) await this.activate(a.token);
      });
    }
  }

  #syncStats(a: Activation): void {
    this.#d.stats.processors[this.partition] = { ...a.processor.stats };
  }

  protected async deactivate(reason: WorkerDeactivateReason, token: number): Promise<void> {
    const a = this.#active;
    if (!a || (token !== 0 && a.token !== token)) return;
    const { stats, log, partition } = this.#d;
    if (reason !== "handoff") a.current = false;
    clearInterval(a.timer);
    await a.loop.stop();
    await a.work;
    a.current = false;
    this.#active = null;
    stats.partitionsReleased++;
    stats.partitionsOwned = stats.partitionsOwned.filter((p) => p !== partition);
    log.info("analytics: partition released", { partition, token: a.token, reason });
  }
}
