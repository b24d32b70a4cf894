// What ingest publishes besides device state: history records, integrator
// JSON on the out subject, device events, receipts to devices and dead letters (formats in
// cloud/records, subjects in cloud/subjects). `Publisher` spreads JetStream
// publishes over the connections it is given (one JsPublisher each: a
// publish per message without nats.js's per-request costs). History records
// of the channel layout (and out messages when the deployment opts in) are
// compressed above a threshold, the codec named in the Xsf-Encoding header
// (cloud/compression); batch-layout records hold range-coded bytes already.
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
import type { CompressionStats } from "./types";
import { injectNatsHeaders } from "../tracing";
import { CompressionHeader, encodePayload, type CompressionPolicy } from "../compression";

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
  readonly #compression: PublisherCompression;
  /** Bytes before and after compression, per path (ingest metrics). */
  readonly compressionStats: CompressionStats = { historyRawBytes: 0, historyStoredBytes: 0, historyCompressed: 0, outRawBytes: 0, outSentBytes: 0, outCompressed: 0 };

  readonly #historyGate: HistoryGate | null;

  /** `historyGate`: what a history record's ack waits for besides the primary (semi-sync replication). */
  constructor(conns: readonly NatsConnection[], readonly nodeId: string, compression: PublisherCompression = noCompression, historyGate: HistoryGate | null = null) {
    this.#historyGate = historyGate;
    if (conns.length === 0) throw new Error("Publisher needs at least one connection");
    this.#nc = [...conns];
    this.#js = conns.map((nc) => new JsPublisher(nc, publishTimeoutMs));
    this.#compression = compression;
  }

  /** One per connection, in the order given; the state store's compare-and-sets share them. */
  get jsPublishers(): readonly JsPublisher[] {
    return this.#js;
  }

  /** Rejects publishes still waiting and stops listening for acks. */
  close(): void {
    for (const js of this.#js) js.close();
  }

  /** A channel-layout history record, compressed by policy; `h` gets the encoding header. */
  #history(raw: Uint8Array, h: MsgHdrs | undefined): { data: Uint8Array; headers: MsgHdrs | undefined } {
    const e = encodePayload(this.#compression.history, raw);
    const st = this.compressionStats;
    st.historyRawBytes += raw.byteLength;
    st.historyStoredBytes += e.data.byteLength;
    if (e.encoding === null) return { data: raw, headers: h };
    st.historyCompressed++;
    const out = h ?? headers();
    out.set(CompressionHeader.Encoding, e.encoding);
    return { data: e.data, headers: out };
  }

  #out(o: TelemetryOutput, h: MsgHdrs): Uint8Array {
    const raw = encodeOutTelemetry(o);
    const e = encodePayload(this.#compression.out, raw);
    const st = this.compressionStats;
    st.outRawBytes += raw.byteLength;
    st.outSentBytes += e.data.byteLength;
    if (e.encoding !== null) {
      st.outCompressed++;
      h.set(CompressionHeader.Encoding, e.encoding);
    }
    return e.data;
  }

  #pick(): number {
    const i = this.#next;
    this.#next = (this.#next + 1) % this.#js.length;
    return i;
  }

  #gated(ack: Promise<PubAck>): Promise<PubAck> {
    const gate = this.#historyGate;
    return gate ? ack.then(async (a) => { await gate(a); return a; }) : ack;
  }

  /** History records and (durable) out message of one telemetry batch. Resolves when stored (and replicated, semi-sync). */
  telemetry(o: TelemetryOutput, history: HistoryLayout | null, outDurable: boolean): Promise<PubAck>[] {
    const js = this.#js[this.#pick()]!;
    const acks: Promise<PubAck>[] = [];
    // Traced: history records carry the ingest span's context too (untraced: no headers, as before).
    const th = (o as TracedTelemetryOutput).traceContext ? traceHeaders(o) : undefined;
    if (history === "batch") {
      // Stored as is, never compressed: the record is the device's range-coded
      // batch (shared/codec) in an envelope, which zstd shrank by 0.3 % in
      // bench:ingest at 2-5 % of the ingest process's CPU.
      const data = encodeHistoryBatch(o.seq, o.deviceTimeMs, o.raw);
      this.compressionStats.historyRawBytes += data.byteLength;
      this.compressionStats.historyStoredBytes += data.byteLength;
      acks.push(this.#gated(js.publish(historyBatchSubject(o.deviceId), data, { msgID: historyBatchMsgId(o.deviceId, o.seq, o.epoch), ...(th ? { headers: th } : {}) })));
    } else if (history === "channel") {
      const t = o.telemetry;
      for (const c of t.channels) {
        // One headers object per record: the encoding differs record by record.
        const r = this.#history(encodeHistoryRecord({ s: o.seq, t: c.t, v: c.v }), th ? copyHeaders(th) : undefined);
        acks.push(this.#gated(js.publish(historySubject(o.deviceId, c.name), r.data, { msgID: historyMsgId(o.deviceId, o.seq, c.name, o.epoch), ...(r.headers ? { headers: r.headers } : {}) })));
      }
    }
    if (outDurable) {
      const h = traceHeaders(o);
      acks.push(js.publish(outTelemetrySubject(o.deviceId), this.#out(o, h), { msgID: outMsgId(o.deviceId, o.seq, o.epoch), headers: h }));
    }
    return acks;
  }

  /** Core NATS out message (used when outDurable is off: after the CAS). */
  outCore(o: TelemetryOutput): void {
    const h = traceHeaders(o);
    h.set("Nats-Msg-Id", outMsgId(o.deviceId, o.seq, o.epoch));
    this.#nc[this.#pick()]!.publish(outTelemetrySubject(o.deviceId), this.#out(o, h), { headers: h });
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

/** Resolves when a history record acknowledged by its primary may count as written. */
export type HistoryGate = (ack: PubAck) => Promise<unknown>;

/** Codec and threshold of each path the publisher compresses. */
export interface PublisherCompression {
  history: CompressionPolicy;
  out: CompressionPolicy;
}
const noCompression: PublisherCompression = { history: { codec: "none", thresholdBytes: 0 }, out: { codec: "none", thresholdBytes: 0 } };

function copyHeaders(h: MsgHdrs): MsgHdrs {
  const c = headers();
  for (const [k, vs] of h) for (const v of vs) c.append(k, v);
  return c;
}

/** traceparent (+ tracestate, baggage when traced) of a telemetry output's records. */
function traceHeaders(o: TelemetryOutput): MsgHdrs {
  const h = headers();
  const ctx = (o as TracedTelemetryOutput).traceContext;
  if (ctx) injectNatsHeaders(ctx, h);
  else if (o.traceparent !== "") h.set("traceparent", o.traceparent);
  return h;
}
