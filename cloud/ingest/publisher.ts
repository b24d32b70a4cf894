// What ingest publishes besides device state: history records, integrator
// JSON on the out subject, device events, receipts to devices and dead letters (formats in
// cloud/records, subjects in cloud/subjects). `Publisher` spreads JetStream
// publishes over the connections it is given (one JsPublisher each: a
// publish per message without nats.js's per-request costs).
import { headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import type { PubAck } from "@nats-io/jetstream";
import { JsPublisher } from "../nats";
import {
  deadLetterMsgId, DlqHeader, encodeDeviceEvent, encodeHistoryBatch, encodeHistoryRecord, encodeOutTelemetry, historyBatchMsgId, historyMsgId, outMsgId,
  type DlqReason,
} from "../records";
import { createEnvelope, encodeEnvelope, schemaVersion, type Receipt } from "../../shared/proto/xsfleet.gen";
import { deviceEventSubject, dlqSubject, historyBatchSubject, historySubject, outTelemetrySubject, receiptSubject } from "../subjects";
import type { EventOutput, TelemetryOutput } from "./apply";
import type { OutputPort } from "./pipeline";
import type { HistoryLayout } from "./settings";
import type { TracedTelemetryOutput } from "./spans";
import { injectNatsHeaders } from "../tracing";

export interface DeadLetter {
  reason: DlqReason;
  detail: string;
  subject: string;
  stream: string;
  streamSeq: number;
  data: Uint8Array;
}

/** How long a durable publish waits for its PubAck (then the batch is retried). */
export const publishTimeoutMs = 10_000;

export class Publisher implements OutputPort {
  readonly #nc: NatsConnection[];
  readonly #js: JsPublisher[];
  #next = 0;

  constructor(conns: readonly NatsConnection[], readonly nodeId: string) {
    if (conns.length === 0) throw new Error("Publisher needs at least one connection");
    this.#nc = [...conns];
    this.#js = conns.map((nc) => new JsPublisher(nc, publishTimeoutMs));
  }

  /** Rejects publishes still waiting and stops listening for acks. */
  close(): void {
    for (const js of this.#js) js.close();
  }

  #pick(): number {
    const i = this.#next;
    this.#next = (this.#next + 1) % this.#js.length;
    return i;
  }

  /** History records and (durable) out message of one telemetry batch. Resolves when stored. */
  telemetry(o: TelemetryOutput, history: HistoryLayout | null, outDurable: boolean): Promise<PubAck>[] {
    const js = this.#js[this.#pick()]!;
    const acks: Promise<PubAck>[] = [];
    // Traced: history records carry the ingest span's context too (untraced: no headers, as before).
    const th = (o as TracedTelemetryOutput).traceContext ? traceHeaders(o) : undefined;
    if (history === "batch") {
      const data = encodeHistoryBatch(o.seq, o.deviceTimeMs, o.raw);
      acks.push(js.publish(historyBatchSubject(o.deviceId), data, { msgID: historyBatchMsgId(o.deviceId, o.seq, o.epoch), ...(th ? { headers: th } : {}) }));
    } else if (history === "channel") {
      const t = o.telemetry;
      for (const c of t.channels) {
        const data = encodeHistoryRecord({ s: o.seq, t: c.t, v: c.v });
        acks.push(js.publish(historySubject(o.deviceId, c.name), data, { msgID: historyMsgId(o.deviceId, o.seq, c.name, o.epoch), ...(th ? { headers: th } : {}) }));
      }
    }
    if (outDurable) {
      const h = traceHeaders(o);
      acks.push(js.publish(outTelemetrySubject(o.deviceId), encodeOutTelemetry(o), { msgID: outMsgId(o.deviceId, o.seq, o.epoch), headers: h }));
    }
    return acks;
  }

  /** Core NATS out message (used when outDurable is off: after the CAS). */
  outCore(o: TelemetryOutput): void {
    const h = traceHeaders(o);
    h.set("Nats-Msg-Id", outMsgId(o.deviceId, o.seq, o.epoch));
    this.#nc[this.#pick()]!.publish(outTelemetrySubject(o.deviceId), encodeOutTelemetry(o), { headers: h });
  }

  event(e: EventOutput): void {
    const h = headers();
    h.set("Nats-Msg-Id", e.id);
    this.#nc[this.#pick()]!.publish(deviceEventSubject(e.deviceId, e.event), encodeDeviceEvent(e), { headers: h });
  }

  /** Core NATS on the device's rcpt downlink; the body is an Envelope with
   *  the receipt (firmware/device/receipts.ts decodes it; seq 0: downlinks
   *  are not sequenced). */
  receipt(deviceId: string, r: Receipt): void {
    const env = createEnvelope({ schemaVersion, deviceId, receipt: r });
    this.#nc[this.#pick()]!.publish(receiptSubject(deviceId), encodeEnvelope(env));
  }

  deadLetter(d: DeadLetter): Promise<PubAck> {
    const h = headers();
    h.set(DlqHeader.Reason, d.reason);
    h.set(DlqHeader.Detail, d.detail.replace(/[\r\n]+/g, " ").slice(0, 512));
    h.set(DlqHeader.Subject, d.subject);
    h.set(DlqHeader.Stream, d.stream);
    h.set(DlqHeader.StreamSeq, String(d.streamSeq));
    h.set(DlqHeader.Node, this.nodeId);
    // Redelivery of the same bad message must not dead-letter it twice.
    return this.#js[this.#pick()]!.publish(dlqSubject(d.reason), d.data, { msgID: deadLetterMsgId(d.stream, d.streamSeq), headers: h });
  }
}

/** traceparent (+ tracestate, baggage when traced) of a telemetry output's records. */
function traceHeaders(o: TelemetryOutput): MsgHdrs {
  const h = headers();
  const ctx = (o as TracedTelemetryOutput).traceContext;
  if (ctx) injectNatsHeaders(ctx, h);
  else if (o.traceparent !== "") h.set("traceparent", o.traceparent);
  return h;
}
