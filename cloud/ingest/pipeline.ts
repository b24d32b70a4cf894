// The exactly-once order of ingest for one batch of deliveries, over narrow
// ports: a state store (load, compare-and-set), an output publisher and the
// deliveries themselves (ack, nak). The JetStream pull loop (pull-loop.ts)
// drives it in the product; the seeded simulation (sim/) drives the same
// code over an in-memory store, publisher and broker with faults.
//
// Order of effects for a device's messages in a batch (docs/ingest.md,
// "exactly once"):
//   1. apply (pure) to the cached or loaded state;
//   2. publish history and out records with Nats-Msg-Id (the stream drops a
//      republish within its duplicate window) and wait for their acks;
//   3. compare-and-set the state (conflict: reload, go to 1);
//   4. dead-letter rejected items, publish events (core NATS), ack.
// A crash anywhere before 4 leaves the messages unacked: they are
// redelivered, step 2 republishes the same ids (dropped), step 3 either
// finds them already recorded (duplicates) or records them now.
// Invariant: a delivery is acked only after its effect (applied, duplicate
// or dead-lettered) is durable; anything else is naked or left to redeliver.
import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "../base";
import { decodeDeviceMessage, type DlqReason } from "../records";
import type { LoadedState, StoredDeviceState } from "../state";
import { applyBatch, type EventOutput, type IngestItem, type TelemetryOutput } from "./apply";
import { forEachLimit, type DeviceLocks, type StateCache } from "./cache";
import type { DeadLetter } from "./publisher";
import type { HistoryLayout, IngestConfig } from "./settings";
import type { IngestSource, IngestStats } from "./types";
import { DeviceBatchSpan, type BatchTiming } from "./spans";
import { SpanName } from "../tracing";

/** One delivered message as the pipeline sees it (the pull loop wraps a JsMsg). */
export interface Delivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly stream: string;
  readonly streamSeq: number;
  /** Storage time, ms. */
  readonly timeMs: number;
  readonly redelivered: boolean;
  /** Messages still pending in the consumer at this delivery. */
  readonly pending: number;
  ack(): void;
  /** Hands the message back for redelivery after `delayMs`. */
  nak(delayMs: number): void;
}

/** The state store as the pipeline uses it. */
export interface StatePort {
  load(deviceId: string): Promise<LoadedState>;
  /** New revision, or null when the stored revision is no longer `revision`. */
  compareAndSet(deviceId: string, state: StoredDeviceState, revision: number): Promise<number | null>;
}

/** Where outputs go. Durable publishes carry a msg id and resolve once stored. */
export interface OutputPort {
  telemetry(o: TelemetryOutput, history: HistoryLayout | null, outDurable: boolean): Promise<unknown>[];
  /** Non-durable out message (outDurable off), after the CAS. */
  outCore(o: TelemetryOutput): void;
  event(e: EventOutput): void;
  deadLetter(d: DeadLetter): Promise<unknown>;
}

/** Points in the order of effects (see the header). */
export const Checkpoint = Object.freeze({
  BeforePublish: "before-publish",
  /** Outputs stored, state not yet written. */
  AfterPublish: "after-publish",
  /** State written, nothing acked. */
  AfterCas: "after-cas",
  /** Dead letters and events out, acks not yet sent. */
  BeforeAck: "before-ack",
} as const);
export type Checkpoint = (typeof Checkpoint)[keyof typeof Checkpoint];

/** Fault injection for tests against a real server: crash points of the exactly-once protocol. */
export interface IngestFaults {
  /** Called after outputs are published, before the CAS; throwing there is
   *  a crash between "published" and "recorded" (handled as a failed attempt). */
  beforeCas?(deviceId: string): void;
  /** True: do not ack this message after its effect is recorded (a crash
   *  between "recorded" and "acked"); the server redelivers it. */
  skipAck?(subject: string, streamSeq: number): boolean;
}

export interface PipelineHooks {
  faults?: IngestFaults;
  /** Awaited at every checkpoint; the simulation crashes a node by never settling it. */
  checkpoint?(point: Checkpoint, deviceId: string): Promise<void>;
  /** After a successful CAS: repairs a concurrent write that slipped in (see interleaved-repair.ts). */
  settle?(deviceId: string, ours: LoadedState, expectedRevision: number): Promise<LoadedState>;
  /** Once per telemetry batch whose effect was recorded (after the CAS). */
  onTelemetryApplied?(deviceId: string, seq: number, deviceTimeMs: number, points: number): void;
}

export interface PipelineDeps {
  cfg: IngestConfig;
  state: StatePort;
  out: OutputPort;
  cache: StateCache;
  locks: DeviceLocks;
  stats: IngestStats;
  log: Logger;
  hooks?: PipelineHooks;
  /** Backoff between attempts after an error; default a timer. */
  pause?: (ms: number) => Promise<void>;
  /** True once the role is stopping: no more retries. */
  stopping?: () => boolean;
  /** Spans per device batch (spans.ts); absent or null: tracing off, no span code runs. */
  tracer?: Tracer | null;
}

/** Attempts of a device batch after errors (timeouts, leader changes) before it is naked. */
export const transientRetriesMax = 3;
/** Backoff after a transient failure of a device batch, before it is naked for redelivery. */
export const failureNakDelayMs = 1_000;

const timerPause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class IngestPipeline {
  readonly #d: PipelineDeps;
  readonly #pause: (ms: number) => Promise<void>;

  constructor(deps: PipelineDeps) {
    this.#d = deps;
    this.#pause = deps.pause ?? timerPause;
  }

  /** Decodes a batch, dead-letters what does not decode, and runs each device's messages through the order of effects. */
  async processBatch(source: IngestSource, batch: readonly Delivery[]): Promise<void> {
    const { cfg, stats, log, locks } = this.#d;
    const byDevice = new Map<string, { items: IngestItem[]; deliveries: Delivery[] }>();
    const bad: Promise<void>[] = [];
    const pickedMs = this.#d.tracer ? Date.now() : 0;
    for (const m of batch) {
      stats.messages++;
      if (m.redelivered) stats.redeliveries++;
      stats.consumerLag[source] = m.pending;
      const d = decodeDeviceMessage(m.subject, m.data, cfg);
      if (!d.ok) {
        bad.push(this.#deadLetter(m, d.reason, d.detail).then(() => m.ack(), (err: unknown) => {
          log.warn("ingest: dead-letter publish failed; left for redelivery", { error: String(err) });
          m.nak(failureNakDelayMs);
        }));
        continue;
      }
      let g = byDevice.get(d.deviceId);
      if (!g) byDevice.set(d.deviceId, (g = { items: [], deliveries: [] }));
      g.items.push({ msg: d, streamSeq: m.streamSeq, timeMs: m.timeMs });
      g.deliveries.push(m);
    }
    const timing = this.#d.tracer ? { pickedMs, decodedMs: Date.now() } : undefined;
    await forEachLimit([...byDevice], cfg.deviceConcurrencyMax, ([id, g]) => locks.run(id, () => this.processDevice(id, g.items, g.deliveries, source, timing)));
    await Promise.all(bad);
  }

  /** One device's decoded messages (items[i] came from deliveries[i]); never throws. */
  async processDevice(deviceId: string, items: readonly IngestItem[], deliveries: readonly Delivery[], source = "", timing?: BatchTiming): Promise<void> {
    const span = this.#d.tracer ? new DeviceBatchSpan(this.#d.tracer, deviceId, source, items, timing) : null;
    const failed = await this.#process(deviceId, items, deliveries, span);
    span?.end(failed ?? undefined);
  }

  /** Returns the error that left the batch for redelivery, null when done. */
  async #process(deviceId: string, items: readonly IngestItem[], deliveries: readonly Delivery[], span: DeviceBatchSpan | null): Promise<unknown> {
    const { cache, stats, log } = this.#d;
    for (let errors = 0; ;) {
      try {
        await this.#attempt(deviceId, items, deliveries, span);
        return null;
      } catch (err) {
        cache.delete(deviceId);
        if (++errors < transientRetriesMax && !this.#d.stopping?.()) {
          await this.#pause(100 * errors);
          continue;
        }
        stats.batchFailures++;
        log.warn("ingest: device batch failed; left for redelivery", { deviceId, messages: deliveries.length, error: err instanceof Error ? err.message : String(err) });
        for (const m of deliveries) m.nak(failureNakDelayMs);
        return err;
      }
    }
  }

  /** Steps 1-4 once; CAS conflicts reload and apply again, up to casAttemptsMax. */
  async #attempt(deviceId: string, items: readonly IngestItem[], deliveries: readonly Delivery[], span: DeviceBatchSpan | null): Promise<void> {
    const { cfg, cache, stats, hooks } = this.#d;
    for (let attempt = 1; ; attempt++) {
      const loaded = cache.get(deviceId) ?? (await this.#d.state.load(deviceId));
      const applyStartMs = span ? Date.now() : 0;
      const r = applyBatch(loaded.state, items, { seqWindow: cfg.seqWindow });
      span?.applied(applyStartMs, r);
      if (r.changed) {
        const written = await this.#record(deviceId, loaded, r.state, span ? span.carry(r.telemetry) : r.telemetry, span);
        if (written === null) {
          cache.delete(deviceId);
          stats.casRetries++;
          if (attempt >= cfg.casAttemptsMax) throw new Error(`${cfg.casAttemptsMax} CAS conflicts in a row`);
          continue;
        }
        cache.set(deviceId, written);
      } else if (loaded.revision !== 0) {
        cache.set(deviceId, loaded);
      }
      for (const rej of r.rejections) await this.#deadLetter(deliveries[rej.index]!, rej.reason, rej.detail);
      for (const e of r.events) this.#d.out.event(e);
      stats.eventsPublished += r.events.length;
      stats.applied += r.applied;
      stats.points += r.points;
      stats.duplicates += r.duplicates;
      if (hooks?.checkpoint) await hooks.checkpoint(Checkpoint.BeforeAck, deviceId);
      // Applied, duplicate or dead-lettered: all done with.
      for (const m of deliveries) if (!hooks?.faults?.skipAck?.(m.subject, m.streamSeq)) m.ack();
      return;
    }
  }

  /** Steps 2-3: outputs first, then the state; null on a CAS conflict. */
  async #record(deviceId: string, loaded: LoadedState, state: StoredDeviceState, telemetry: readonly TelemetryOutput[], span: DeviceBatchSpan | null): Promise<LoadedState | null> {
    const { cfg, stats, hooks, out } = this.#d;
    if (hooks?.checkpoint) await hooks.checkpoint(Checkpoint.BeforePublish, deviceId);
    const endOutputs = span?.step(SpanName.IngestOutputs);
    const acks: Promise<unknown>[] = [];
    for (const t of telemetry) acks.push(...out.telemetry(t, cfg.history ? cfg.historyLayout : null, cfg.out && cfg.outDurable));
    await Promise.all(acks);
    endOutputs?.();
    if (hooks?.checkpoint) await hooks.checkpoint(Checkpoint.AfterPublish, deviceId);
    hooks?.faults?.beforeCas?.(deviceId);
    const endCas = span?.step(SpanName.IngestStateWrite);
    const revision = await this.#d.state.compareAndSet(deviceId, state, loaded.revision);
    endCas?.();
    if (revision === null) return null;
    if (hooks?.checkpoint) await hooks.checkpoint(Checkpoint.AfterCas, deviceId);
    const ours = { state, revision };
    const settled = hooks?.settle ? await hooks.settle(deviceId, ours, loaded.revision) : ours;
    if (hooks?.onTelemetryApplied) for (const t of telemetry) hooks.onTelemetryApplied(deviceId, t.seq, t.deviceTimeMs, t.telemetry.pointCount);
    if (cfg.history) stats.historyPublished += cfg.historyLayout === "batch" ? telemetry.length : telemetry.reduce((n, t) => n + t.telemetry.channels.length, 0);
    if (cfg.out) {
      if (!cfg.outDurable) for (const t of telemetry) out.outCore(t);
      stats.outPublished += telemetry.length;
    }
    return settled;
  }

  async #deadLetter(m: Delivery, reason: DlqReason, detail: string): Promise<void> {
    await this.#d.out.deadLetter({ reason, detail, subject: m.subject, stream: m.stream, streamSeq: m.streamSeq, data: m.data });
    const { stats } = this.#d;
    stats.deadLetters++;
    stats.deadLettersByReason[reason] = (stats.deadLettersByReason[reason] ?? 0) + 1;
  }
}
