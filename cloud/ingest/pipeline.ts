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
//   4. dead-letter rejected items, publish events and receipts (core NATS), ack.
// Before any of this, per message: the per-device rate limit (over it:
// acked, no effect, no receipt) and, per device, the registry gate
// (unregistered or decommissioned: dead-lettered, nothing else).
// A crash anywhere before 4 leaves the messages unacked: they are
// redelivered, step 2 republishes the same ids (dropped), step 3 either
// finds them already recorded (duplicates) or records them now.
// Invariant: a delivery is acked only after its effect (applied, duplicate
// or dead-lettered) is durable; anything else is naked or left to redeliver.
// The pipeline runs on the owner of the deliveries' partition
// (partition-worker.ts): it writes only while `mayWrite()`; a CAS conflict
// therefore means another writer slipped in (counted `foreignWrites`).
// A device's messages that fail at their last delivery (consumer
// max_deliver = cfg.maxDeliver) are dead-lettered `poison` with the error;
// redelivered messages are processed one by one, so a poison message takes
// no good message of its device with it.
import type { Receipt, ShadowReport } from "../../shared/proto/xsfleet.gen";
import { parseDeviceAddress, Uplink } from "../../shared/topics";
import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "../base";
import { decodeDeviceMessage, DlqReason } from "../records";
import type { LoadedState, StoredDeviceState } from "../state";
import { applyBatch, type EventOutput, type IngestItem, type TelemetryOutput } from "./apply";
import { forEachLimit, type DeviceLocks, type StateCache } from "./cache";
import type { DeadLetter } from "./publisher";
import type { HistoryLayout, IngestConfig } from "./settings";
import type { IngestStats } from "./types";
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
  /** 1 on the first delivery; the consumer stops redelivering after cfg.maxDeliver. */
  readonly deliveryCount: number;
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
  /** A receipt to the device (core NATS on its rcpt downlink, QoS 0: a lost one costs a retransmit). */
  receipt(deviceId: string, r: Receipt): void;
}

/** What the registry says about a device (cloud/registry AdmissionCache behind it in the product). */
export const Admission = Object.freeze({ Admitted: "admitted", Unregistered: "unregistered", Decommissioned: "decommissioned" } as const);
export type Admission = (typeof Admission)[keyof typeof Admission];

/** The registry gate as the pipeline uses it; throws when the registry cannot answer (transient: the messages are naked). */
export interface AdmissionPort {
  check(deviceId: string): Promise<Admission> | Admission;
}

/** Admits every device: for tests and benchmarks without a registry (the product always gates). */
export const admitAllDevices: AdmissionPort = Object.freeze({ check: (): Admission => Admission.Admitted });

/** Outcome of joining one shadow report: `invalid` is the device's fault (counted, skipped), anything thrown is transient. */
export const ShadowReportOutcome = Object.freeze({ Merged: "merged", Invalid: "invalid" } as const);
export type ShadowReportOutcome = (typeof ShadowReportOutcome)[keyof typeof ShadowReportOutcome];

/**
 * Where device shadow reports go (cloud/shadow's store behind it in the
 * product, wired by cloud/node). A report is a join into the device's
 * reported document: idempotent, so the pipeline merges before the state
 * write and the ack, and a redelivery merges again harmlessly.
 */
export interface ShadowReportPort {
  merge(deviceId: string, report: ShadowReport): Promise<ShadowReportOutcome>;
}

/** The per-device rate limit (rate-limit.ts): false = over the limit at `timeMs`. */
export interface RateLimitPort {
  take(deviceId: string, timeMs: number): boolean;
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
  /** Once per telemetry batch whose effect was recorded (after the CAS). */
  onTelemetryApplied?(deviceId: string, seq: number, deviceTimeMs: number, points: number): void;
  /** Once per device batch processed (done or left for redelivery): its
   *  duration, and its span when the trace is kept (a metrics exemplar). */
  onDeviceBatch?(seconds: number, trace: BatchTrace | null): void;
}

/** The device-batch span of a kept trace, for an exemplar. */
export interface BatchTrace {
  traceId: string;
  spanId: string;
}

export interface PipelineDeps {
  cfg: IngestConfig;
  state: StatePort;
  out: OutputPort;
  cache: StateCache;
  locks: DeviceLocks;
  stats: IngestStats;
  log: Logger;
  /** The registry gate. */
  admission: AdmissionPort;
  /** Per-device rate limit; none: unlimited. */
  rateLimit?: RateLimitPort;
  /** Shadow reports riding on uplinks (heartbeats); none: not merged here. */
  shadowReports?: ShadowReportPort;
  hooks?: PipelineHooks;
  /** Backoff between attempts after an error; default a timer. */
  pause?: (ms: number) => Promise<void>;
  /** True once the role is stopping: no more retries. */
  stopping?: () => boolean;
  /** Spans per device batch (spans.ts); absent or null: tracing off, no span code runs. */
  tracer?: Tracer | null;
  /** False once this node may no longer write for these deliveries (the
   *  partition's lease is lost or handed off): checked before outputs and
   *  before the state write. Default: always true. */
  mayWrite?: () => boolean;
}

/** Thrown when the ownership check fails before a write; the deliveries are naked, never dead-lettered. */
export class OwnershipLost extends Error {
  constructor() {
    super("partition ownership lost: not writing");
  }
}

/** Attempts of a device batch after errors (timeouts, leader changes) before it is naked. */
export const transientRetriesMax = 3;
/** Redelivery delay of a delivery that failed: 1 s, 2 s, 4 s, … capped at 30 s. */
export function failureBackoffMs(deliveryCount: number): number {
  return Math.min(30_000, 1_000 * 2 ** Math.max(0, Math.min(15, deliveryCount - 1)));
}

/** Redelivery delay of a message whose dead letter could not be published. */
export const failureNakDelayMs = 1_000;

const timerPause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class IngestPipeline {
  readonly #d: PipelineDeps;
  readonly #pause: (ms: number) => Promise<void>;

  constructor(deps: PipelineDeps) {
    this.#d = deps;
    this.#pause = deps.pause ?? timerPause;
  }

  /** Rate-limits, gates, decodes and dead-letters a batch, and runs each device's messages through the order of effects. */
  async processBatch(consumer: string, batch: readonly Delivery[]): Promise<void> {
    const { cfg, stats, locks } = this.#d;
    const byDevice = new Map<string, Delivery[]>();
    const bad: Promise<void>[] = [];
    const pickedMs = this.#d.tracer ? Date.now() : 0;
    for (const m of batch) {
      stats.messages++;
      if (m.redelivered) stats.redeliveries++;
      stats.consumerLag[consumer] = m.pending;
      const addr = parseDeviceAddress(m.subject);
      if (addr === null) {
        const d = decodeDeviceMessage(m.subject, m.data, cfg);
        bad.push(this.#deadLetterAndAck(m, d.ok ? DlqReason.BadSubject : d.reason, d.ok ? m.subject : d.detail));
        continue;
      }
      // Before decoding (cheap, deterministic: the JetStream time). Presence
      // (status, wills) is exempt: one per connection, and never to be lost.
      if (addr.kind !== Uplink.Status && this.#d.rateLimit && !this.#d.rateLimit.take(addr.deviceId, m.timeMs)) {
        stats.rateLimited++;
        m.ack();
        continue;
      }
      let g = byDevice.get(addr.deviceId);
      if (!g) byDevice.set(addr.deviceId, (g = []));
      g.push(m);
    }
    const timing = this.#d.tracer ? { pickedMs, decodedMs: Date.now() } : undefined;
    await forEachLimit([...byDevice], cfg.deviceConcurrencyMax, ([id, g]) => locks.run(id, async () => {
      if (!g.some((m) => m.deliveryCount > 1)) return this.#gateAndDecode(id, g, consumer, timing);
      // Something failed before: one message at a time, so only a failing one fails again.
      for (const m of g) await this.#gateAndDecode(id, [m], consumer, timing);
    }));
    await Promise.all(bad);
  }

  /** The registry gate, then decoding; never throws. */
  async #gateAndDecode(deviceId: string, deliveries: readonly Delivery[], consumer: string, timing: BatchTiming | undefined): Promise<void> {
    const { cfg, stats, log } = this.#d;
    let admission: Admission;
    try {
      admission = await this.#d.admission.check(deviceId);
    } catch (err) {
      stats.batchFailures++;
      log.warn("ingest: registry gate unavailable; left for redelivery", { deviceId, error: err instanceof Error ? err.message : String(err) });
      for (const m of deliveries) m.nak(failureNakDelayMs);
      return;
    }
    if (admission !== Admission.Admitted) {
      const reason = admission === Admission.Decommissioned ? DlqReason.Decommissioned : DlqReason.Unregistered;
      await Promise.all(deliveries.map((m) => this.#deadLetterAndAck(m, reason, `device ${deviceId} is ${admission}`)));
      return;
    }
    const items: IngestItem[] = [];
    const kept: Delivery[] = [];
    const bad: Promise<void>[] = [];
    for (const m of deliveries) {
      const d = decodeDeviceMessage(m.subject, m.data, cfg);
      if (d.ok || (d.seqInfo !== undefined && d.deviceId === deviceId)) {
        // A refused message that names its seq goes through dedup: answered as rejected.
        items.push({ msg: d.ok ? d : { ...d, deviceId, seqInfo: d.seqInfo! }, streamSeq: m.streamSeq, timeMs: m.timeMs });
        kept.push(m);
      } else {
        bad.push(this.#deadLetterAndAck(m, d.reason, d.detail));
      }
    }
    if (items.length > 0) await this.processDevice(deviceId, items, kept, consumer, timing);
    await Promise.all(bad);
  }

  #deadLetterAndAck(m: Delivery, reason: DlqReason, detail: string): Promise<void> {
    return this.#deadLetter(m, reason, detail).then(() => m.ack(), (err: unknown) => {
      this.#d.log.warn("ingest: dead-letter publish failed; left for redelivery", { error: String(err) });
      m.nak(failureNakDelayMs);
    });
  }

  /** One device's decoded messages (items[i] came from deliveries[i]); never throws. */
  async processDevice(deviceId: string, items: readonly IngestItem[], deliveries: readonly Delivery[], source = "", timing?: BatchTiming): Promise<void> {
    const onBatch = this.#d.hooks?.onDeviceBatch;
    const t0 = onBatch ? performance.now() : 0;
    const span = this.#d.tracer ? new DeviceBatchSpan(this.#d.tracer, deviceId, source, items, timing) : null;
    const failed = await this.#process(deviceId, items, deliveries, span);
    span?.end(failed ?? undefined);
    if (onBatch) onBatch((performance.now() - t0) / 1000, span?.trace() ?? null);
  }

  /** Returns the error that left the batch for redelivery, null when done. */
  async #process(deviceId: string, items: readonly IngestItem[], deliveries: readonly Delivery[], span: DeviceBatchSpan | null): Promise<unknown> {
    const { cache, stats, log, cfg } = this.#d;
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
        const error = err instanceof Error ? err.message : String(err);
        const lost = err instanceof OwnershipLost || this.#d.stopping?.() === true;
        log.warn("ingest: device batch failed; left for redelivery", { deviceId, messages: deliveries.length, error });
        for (const m of deliveries) {
          if (lost || m.deliveryCount < cfg.maxDeliver) m.nak(failureBackoffMs(m.deliveryCount));
          else await this.#poison(m, error);
        }
        return err;
      }
    }
  }

  /** Steps 1-4 once; CAS conflicts reload and apply again, up to casAttemptsMax. */
  async #attempt(deviceId: string, items: readonly IngestItem[], deliveries: readonly Delivery[], span: DeviceBatchSpan | null): Promise<void> {
    const { cfg, cache, stats, hooks } = this.#d;
    // Shadow reports first: at least once (before the state write and the
    // acks; a failure leaves the batch for redelivery), and a join, so a
    // repeat changes nothing.
    if (this.#d.shadowReports) await this.#mergeShadowReports(this.#d.shadowReports, deviceId, items);
    for (let attempt = 1; ; attempt++) {
      const loaded = cache.get(deviceId) ?? (await this.#d.state.load(deviceId));
      const applyStartMs = span ? Date.now() : 0;
      const r = applyBatch(loaded.state, items, { dedupRangesMax: cfg.dedupRangesMax, seqJumpMax: cfg.seqJumpMax });
      span?.applied(applyStartMs, r);
      if (r.changed) {
        const written = await this.#record(deviceId, loaded, r.state, span ? span.carry(r.telemetry, r.state.hello) : r.telemetry, span);
        if (written === null) {
          cache.delete(deviceId);
          stats.foreignWrites++;
          this.#d.log.warn("ingest: device state written by another writer; reloading", { deviceId });
          if (attempt >= cfg.casAttemptsMax) throw new Error(`${cfg.casAttemptsMax} CAS conflicts in a row`);
          continue;
        }
        cache.set(deviceId, written);
      } else if (loaded.revision !== 0) {
        cache.set(deviceId, loaded);
      }
      for (const rej of r.rejections) await this.#deadLetter(deliveries[rej.index]!, rej.reason, rej.detail);
      for (const e of r.events) this.#d.out.event(e);
      // After the state write and the dead letters: a receipt names only durable outcomes.
      for (const rc of r.receipts) this.#d.out.receipt(deviceId, rc);
      stats.receiptsPublished += r.receipts.length;
      stats.eventsPublished += r.events.length;
      stats.applied += r.applied;
      stats.points += r.points;
      stats.duplicates += r.duplicates;
      stats.settled += r.settled;
      stats.retiredEpoch += r.retiredEpoch;
      stats.epochChanges += r.epochChanges;
      stats.dedupOverflow += r.dedupOverflow;
      if (hooks?.checkpoint) await hooks.checkpoint(Checkpoint.BeforeAck, deviceId);
      // Applied, duplicate or dead-lettered: all done with.
      for (const m of deliveries) if (!hooks?.faults?.skipAck?.(m.subject, m.streamSeq)) m.ack();
      return;
    }
  }

  async #mergeShadowReports(port: ShadowReportPort, deviceId: string, items: readonly IngestItem[]): Promise<void> {
    for (const it of items) {
      if (!it.msg.ok) continue;
      const report = it.msg.env.shadowReport;
      if (!report || report.fields.length === 0) continue;
      if ((await port.merge(deviceId, report)) === ShadowReportOutcome.Invalid) this.#d.stats.shadowReportsRejected++;
      else this.#d.stats.shadowReports++;
    }
  }

  /** Steps 2-3: outputs first, then the state; null on a CAS conflict. */
  async #record(deviceId: string, loaded: LoadedState, state: StoredDeviceState, telemetry: readonly TelemetryOutput[], span: DeviceBatchSpan | null): Promise<LoadedState | null> {
    const { cfg, stats, hooks, out } = this.#d;
    if (hooks?.checkpoint) await hooks.checkpoint(Checkpoint.BeforePublish, deviceId);
    this.#checkOwnership();
    const endOutputs = span?.step(SpanName.IngestOutputs);
    const acks: Promise<unknown>[] = [];
    for (const t of telemetry) acks.push(...out.telemetry(t, cfg.history ? cfg.historyLayout : null, cfg.out && cfg.outDurable));
    await Promise.all(acks);
    endOutputs?.();
    if (hooks?.checkpoint) await hooks.checkpoint(Checkpoint.AfterPublish, deviceId);
    hooks?.faults?.beforeCas?.(deviceId);
    this.#checkOwnership();
    const endCas = span?.step(SpanName.IngestStateWrite);
    const revision = await this.#d.state.compareAndSet(deviceId, state, loaded.revision);
    endCas?.();
    if (revision === null) return null;
    if (hooks?.checkpoint) await hooks.checkpoint(Checkpoint.AfterCas, deviceId);
    const written = { state, revision };
    if (hooks?.onTelemetryApplied) for (const t of telemetry) hooks.onTelemetryApplied(deviceId, t.seq, t.deviceTimeMs, t.telemetry.pointCount);
    if (cfg.history) stats.historyPublished += cfg.historyLayout === "batch" ? telemetry.length : telemetry.reduce((n, t) => n + t.telemetry.channels.length, 0);
    if (cfg.out) {
      if (!cfg.outDurable) for (const t of telemetry) out.outCore(t);
      stats.outPublished += telemetry.length;
    }
    return written;
  }

  #checkOwnership(): void {
    if (this.#d.mayWrite && !this.#d.mayWrite()) throw new OwnershipLost();
  }

  /** The last delivery failed too: dead-letter it with the error, then ack; if that fails, nak (the server gives up on it after this delivery). */
  async #poison(m: Delivery, error: string): Promise<void> {
    try {
      await this.#deadLetter(m, DlqReason.Poison, error);
      m.ack();
    } catch (err) {
      this.#d.log.error("ingest: a message failing at its last delivery could not be dead-lettered", { subject: m.subject, streamSeq: m.streamSeq, error: String(err) });
      m.nak(failureNakDelayMs);
    }
  }

  async #deadLetter(m: Delivery, reason: DlqReason, detail: string): Promise<void> {
    await this.#d.out.deadLetter({ reason, detail, subject: m.subject, stream: m.stream, streamSeq: m.streamSeq, data: m.data });
    const { stats } = this.#d;
    stats.deadLetters++;
    stats.deadLettersByReason[reason] = (stats.deadLettersByReason[reason] ?? 0) + 1;
  }
}
