// What the cloud recorded, read from outside ingest, for the delivery tests
// (chaos, fuzz, soak, bench): integrator outputs (XSF_OUT), history
// (XSF_HIST), dead letters (XSF_DLQ, by reason and by device/seq), device
// state (KV) and the lag of every durable consumer on the streams devices
// publish into. Stream, subject and header names come from the product
// modules (cloud/ingest, cloud/subjects, cloud/records), never spelled
// here, so the probe follows the stream layout when it changes (per-kind
// streams today, one partitioned uplink stream in docs/delivery.md).
// Bounds: reads stop at readMessagesMax per call; every read has a deadline.
import type { NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy, DeliverPolicy, JetStreamApiError, jetstream, type ConsumerInfo, type JetStreamClient, type JetStreamManager, type JsMsg,
} from "@nats-io/jetstream";
import { IngestStream } from "../../cloud/ingest";
import { DlqHeader, decodeHistoryRecord, type OutTelemetryJson } from "../../cloud/records";
import { decodePayload } from "../../cloud/compression";
import { DeviceStateStore } from "../../cloud/state";
import type { DeviceState } from "../../cloud/state";
import { allDlqSubject, allHistorySubject, allOutTelemetrySubject, deviceSubject, partitionedUplinkSubject } from "../../cloud/subjects";
import { decodeEnvelope } from "../../shared/proto/xsfleet.gen";
import { parseDeviceAddress, type Uplink } from "../../shared/topics";

/** Most messages one readStream call returns (a test reading more is broken). */
export const readMessagesMax = 2_000_000;
const fetchBatchMax = 2_000;
const consumerCreateAttemptsMax = 5;

const outputStreams: ReadonlySet<string> = new Set([IngestStream.History, IngestStream.Out, IngestStream.DeadLetter]);

/** Every message in `stream` on `filter`, in stream order (ephemeral, unacked, in-memory consumer). */
export async function readStream(js: JetStreamClient, stream: string, filter: string, onMsg?: (m: JsMsg) => void): Promise<number> {
  const jsm = await js.jetstreamManager(false);
  let info: ConsumerInfo | undefined;
  for (let attempt = 1; !info; attempt++) {
    try {
      info = await jsm.consumers.add(stream, {
        ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, filter_subject: filter, mem_storage: true, num_replicas: 1,
        inactive_threshold: 30_000_000_000,
      });
    } catch (err) {
      // A cluster that just lost a node may time out creating consumers: try again.
      if (attempt >= consumerCreateAttemptsMax || err instanceof JetStreamApiError) throw err;
    }
  }
  const total = Math.min(info.num_pending, readMessagesMax);
  let got = 0;
  try {
    const c = await js.consumers.get(stream, info.name);
    while (got < total) {
      const iter = await c.fetch({ max_messages: Math.min(fetchBatchMax, total - got), expires: 5_000 });
      let n = 0;
      for await (const m of iter) { onMsg?.(m); n++; }
      if (n === 0) break;
      got += n;
    }
  } finally {
    await jsm.consumers.delete(stream, info.name).catch(() => false);
  }
  return got;
}

/** Streams devices publish into: every IngestStream that is not an output stream and exists on the server. */
export async function uplinkStreams(jsm: JetStreamManager): Promise<string[]> {
  const out: string[] = [];
  for (const name of Object.values(IngestStream) as string[]) {
    if (outputStreams.has(name)) continue;
    if (await jsm.streams.info(name).then(() => true, () => false)) out.push(name);
  }
  return out;
}

/**
 * The stream that stores `deviceId`'s uplinks of `kind`, with or without the
 * broker's partition mapping (a stream takes every partition, `p.*`, so
 * asking for partition 0 of 1 finds it whatever the deployment's count).
 */
export async function uplinkStreamOf(jsm: JetStreamManager, deviceId: string, kind: Uplink): Promise<string> {
  const subjects = [partitionedUplinkSubject(deviceId, kind, 1), deviceSubject(deviceId, kind)];
  for (const s of subjects) {
    const name = await jsm.streams.find(s).catch(() => "");
    if (name) return name;
  }
  throw new Error(`no stream stores ${subjects.join(" or ")}`);
}

/** Seqs of `deviceId`'s uplinks of `kind` stored in `stream` (partitioned or plain subject), in stream order. */
export async function storedSeqs(js: JetStreamClient, stream: string, deviceId: string, kind: Uplink, partitions: number | null): Promise<number[]> {
  const seqs: number[] = [];
  const subject = partitions ? partitionedUplinkSubject(deviceId, kind, partitions) : deviceSubject(deviceId, kind);
  await readStream(js, stream, subject, (m) => {
    try { seqs.push(decodeEnvelope(m.data).seq); } catch { /* not an envelope */ }
  });
  return seqs;
}

export interface ConsumerLag {
  /** Sum of num_pending + num_ack_pending over the durable consumers of the uplink streams. */
  total: number;
  /** "<stream>/<consumer> pending+ackPending" of the consumers with lag. */
  lagging: string[];
  consumers: number;
}

/** Lag of every durable consumer on the uplink streams (ingest's, whatever they are called). */
export async function uplinkConsumerLag(jsm: JetStreamManager): Promise<ConsumerLag> {
  const lag: ConsumerLag = { total: 0, lagging: [], consumers: 0 };
  for (const stream of await uplinkStreams(jsm)) {
    for (const c of await jsm.consumers.list(stream).next()) {
      if (!c.config.durable_name) continue;
      lag.consumers++;
      const n = c.num_pending + c.num_ack_pending;
      lag.total += n;
      if (n > 0) lag.lagging.push(`${stream}/${c.name} ${c.num_pending}+${c.num_ack_pending}`);
    }
  }
  return lag;
}

/** Messages per subject in `stream` under `filter` (server-side counts, no message read). */
export async function subjectCounts(jsm: JetStreamManager, stream: string, filter: string): Promise<Map<string, number>> {
  const info = await jsm.streams.info(stream, { subjects_filter: filter });
  return new Map(Object.entries(info.state.subjects ?? {}));
}

/** Dead letters by reason (the last token of `xsfleet.v1.dlq.<reason>`). */
export async function deadLettersByReason(jsm: JetStreamManager): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [subject, n] of await subjectCounts(jsm, IngestStream.DeadLetter, allDlqSubject)) {
    const reason = subject.slice(subject.lastIndexOf(".") + 1);
    out.set(reason, (out.get(reason) ?? 0) + n);
  }
  return out;
}

export interface DeadLetterSeen {
  reason: string;
  /** From the source subject; null when it names no device. */
  deviceId: string | null;
  kind: string | null;
  /** From the payload when it decodes; null otherwise. */
  seq: number | null;
  sourceStream: string;
  sourceSeq: number;
  data: Uint8Array;
}

export async function readDeadLetters(js: JetStreamClient): Promise<DeadLetterSeen[]> {
  const out: DeadLetterSeen[] = [];
  await readStream(js, IngestStream.DeadLetter, allDlqSubject, (m) => {
    const h = m.headers;
    const addr = parseDeviceAddress(h?.get(DlqHeader.Subject) ?? "");
    let seq: number | null = null;
    try { seq = decodeEnvelope(m.data).seq; } catch { /* undecodable: seq unknown */ }
    out.push({
      reason: h?.get(DlqHeader.Reason) ?? m.subject.slice(m.subject.lastIndexOf(".") + 1),
      deviceId: addr?.deviceId ?? null, kind: addr?.kind ?? null, seq,
      sourceStream: h?.get(DlqHeader.Stream) ?? "", sourceSeq: Number(h?.get(DlqHeader.StreamSeq) ?? 0), data: m.data,
    });
  });
  return out;
}

export interface DeviceRecordSeen {
  /** Seqs in XSF_OUT in stream order (a repeat is a duplicate output). */
  outSeqs: number[];
  /** Points per seq as XSF_OUT states them. */
  outPoints: Map<number, number>;
  /** History seqs per channel token, in stream order. */
  historySeqs: Map<string, number[]>;
  state: DeviceState | null;
}

/** Outputs, history and state of every device in `deviceIds` (devices with nothing recorded get empty records). */
export async function readDeviceRecords(nc: NatsConnection, deviceIds: readonly string[]): Promise<Map<string, DeviceRecordSeen>> {
  const js = jetstream(nc, { timeout: 5_000 });
  const rec = new Map<string, DeviceRecordSeen>(deviceIds.map((id) => [id, { outSeqs: [], outPoints: new Map(), historySeqs: new Map(), state: null }]));
  const dec = new TextDecoder();
  await readStream(js, IngestStream.Out, allOutTelemetrySubject, (m) => {
    const o = JSON.parse(dec.decode(m.data)) as OutTelemetryJson;
    const r = rec.get(o.deviceId);
    if (!r) return;
    r.outSeqs.push(o.seq);
    r.outPoints.set(o.seq, o.points);
  });
  await readStream(js, IngestStream.History, allHistorySubject, (m) => {
    // xsfleet.v1.hist.<device>.<channel token>
    const parts = m.subject.split(".");
    const r = rec.get(parts[3] ?? "");
    if (!r) return;
    const token = parts.slice(4).join(".");
    let seq: number;
    const raw = decodePayload(m.data, m.headers);
    try { seq = decodeHistoryRecord(raw).s; } catch { seq = decodeEnvelope(raw).seq; } // batch layout
    const list = r.historySeqs.get(token) ?? [];
    list.push(seq);
    r.historySeqs.set(token, list);
  });
  const store = await DeviceStateStore.open(nc);
  for (const [id, r] of rec) r.state = await store.getDeviceState(id);
  return rec;
}

/** Seqs that occur more than once in `seqs`. */
export function repeated(seqs: readonly number[]): number[] {
  const seen = new Set<number>();
  const dup = new Set<number>();
  for (const s of seqs) (seen.has(s) ? dup : seen).add(s);
  return [...dup].sort((a, b) => a - b);
}

/** Elements of a not in b, sorted. */
export function minus(a: Iterable<number>, b: ReadonlySet<number>): number[] {
  return [...a].filter((x) => !b.has(x)).sort((x, y) => x - y);
}

/** "1-5,7,9-10": a compact view of a seq set for failure messages. */
export function ranges(seqs: Iterable<number>, max = 20): string {
  const s = [...new Set(seqs)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length && out.length < max; i++) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j;
  }
  return out.join(",") + (out.length >= max ? ",…" : "");
}
