// Time-range queries over the history stream. A query creates a short-lived
// ephemeral consumer filtered to one device and channel, starting at
// `fromMs - clockSkewMaxMs` by storage time (a point is stored after it was
// measured, give or take clock skew), reads the messages that exist at that
// moment (num_pending at creation, so it never waits for new ones) and keeps
// the points whose device time is in [fromMs, toMs]. Records are decoded by
// their Xsf-Encoding header (ingest compresses large ones; cloud/compression),
// each capped at historyRecordBytesMax.
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  ReplayPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { isDeviceId } from "../../shared/topics";
import { decodePayload, type HeaderReader } from "../compression";
import { decodeHistoryBatch, decodeHistoryRecord, decodeTelemetry, historyStream } from "../records";
import { historyBatchSubject, historySubject } from "../subjects";

export interface HistoryQuery {
  deviceId: string;
  channel: string;
  /** Device time range, ms, inclusive. */
  fromMs: number;
  toMs: number;
  /** Most points returned (in time order); default 10,000. */
  limit?: number;
  /** When the range holds more than `limit` points: keep the newest (true) or the earliest (default). */
  newest?: boolean;
  /** How far before fromMs to start reading by storage time; default 5 min. */
  clockSkewMaxMs?: number;
  /** Most stored records read; default 100,000. */
  scanMessagesMax?: number;
}

export interface HistoryPoint {
  t: number;
  v: number;
  seq: number;
}

export interface HistoryResult {
  points: HistoryPoint[];
  /** True when limit or scanMessagesMax cut the answer short. */
  truncated: boolean;
  scannedMessages: number;
}

/** What a caller may watch while a query reads (tracing: the records' trace contexts). */
export interface HistoryScanHooks {
  /** The `traceparent` header of each record read that has one (ingest's span that stored it). */
  onRecordTraceparent?(traceparent: string): void;
}

export const historyLimitMax = 1_000_000;
/** Largest decompressed history record (the stream stores at most 1 MiB; a bomb stops here). */
export const historyRecordBytesMax = 8 * 1024 * 1024;
const fetchBatchMax = 1_000;

export async function queryHistory(js: JetStreamClient, q: HistoryQuery, hooks: HistoryScanHooks = {}): Promise<HistoryResult> {
  if (!isDeviceId(q.deviceId)) throw new Error(`queryHistory: invalid device id ${JSON.stringify(q.deviceId)}`);
  if (q.channel === "") throw new Error("queryHistory: channel is required");
  if (!Number.isFinite(q.fromMs) || !Number.isFinite(q.toMs) || q.fromMs > q.toMs) throw new Error(`queryHistory: bad range ${q.fromMs}..${q.toMs}`);
  const limit = q.limit ?? 10_000;
  if (!Number.isInteger(limit) || limit < 1 || limit > historyLimitMax) throw new Error(`queryHistory: limit must be 1..${historyLimitMax}`);
  const scanMax = q.scanMessagesMax ?? 100_000;
  const skew = q.clockSkewMaxMs ?? 300_000;

  const jsm = await js.jetstreamManager(false);
  const startTime = new Date(Math.max(0, q.fromMs - skew)).toISOString();
  const inRange = (t: number): boolean => t >= q.fromMs && t <= q.toMs;
  const seen = new Set<number>();
  const points: HistoryPoint[] = [];
  // Per-channel JSON records, then binary batch records: a bucket holds
  // either or both (the layout is an ingest setting and may have changed).
  const onTrace = hooks.onRecordTraceparent;
  const a = await scan(js, jsm, historySubject(q.deviceId, q.channel), startTime, scanMax, onTrace, (data) => {
    const r = decodeHistoryRecord(data);
    // One record per (device, seq, channel); a copy that slipped past the
    // stream's duplicate window is dropped here.
    if (seen.has(r.s)) return;
    seen.add(r.s);
    for (let i = 0; i < r.t.length; i++) if (inRange(r.t[i]!)) points.push({ t: r.t[i]!, v: r.v[i]!, seq: r.s });
  });
  const b = await scan(js, jsm, historyBatchSubject(q.deviceId), startTime, scanMax - a.scanned, onTrace, (data) => {
    const rec = decodeHistoryBatch(data);
    if (seen.has(rec.seq)) return;
    seen.add(rec.seq);
    const d = decodeTelemetry(rec.telemetry, { pointsPerBatchMax: 1_000_000, channelsMax: 256 });
    if (!d.ok) throw new Error(`history batch record ${q.deviceId}:${rec.seq}: ${d.detail}`);
    const ch = d.value.channels.find((c) => c.name === q.channel);
    if (!ch) return;
    for (let i = 0; i < ch.t.length; i++) if (inRange(ch.t[i]!)) points.push({ t: ch.t[i]!, v: ch.v[i]!, seq: rec.seq });
  });
  points.sort((x, y) => x.t - y.t || x.seq - y.seq);
  const truncated = points.length > limit || a.cut || b.cut;
  const kept = !truncated ? points : q.newest ? points.slice(-limit) : points.slice(0, limit);
  return { points: kept, truncated, scannedMessages: a.scanned + b.scanned };
}

/** Reads the messages stored on `filter` from `startTime` as they are now. */
async function scan(
  js: JetStreamClient, jsm: JetStreamManager, filter: string, startTime: string, scanMax: number,
  onTrace: ((traceparent: string) => void) | undefined, onData: (data: Uint8Array) => void,
): Promise<{ scanned: number; cut: boolean }> {
  return scanStream(js, jsm, historyStream, filter, startTime, scanMax, onData, onTrace);
}

/** Reads the messages of `stream` stored on `filter` from `startTime` as they
 *  are now (never waits for new ones); the analytics queries share it. */
export async function scanStream(
  js: JetStreamClient, jsm: JetStreamManager, stream: string, filter: string, startTime: string, scanMax: number, onData: (data: Uint8Array) => void,
  onTrace?: (traceparent: string) => void,
): Promise<{ scanned: number; cut: boolean }> {
  if (scanMax <= 0) return { scanned: 0, cut: true };
  let info: ConsumerInfo;
  try {
    info = await addEphemeralConsumer(jsm, stream, {
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: startTime,
      filter_subject: filter,
      replay_policy: ReplayPolicy.Instant,
      inactive_threshold: 30_000 * 1_000_000,
      mem_storage: true,
      num_replicas: 1,
      max_batch: fetchBatchMax,
    });
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return { scanned: 0, cut: false };
    throw err;
  }
  const available = Math.min(info.num_pending, scanMax);
  let scanned = 0;
  try {
    if (available === 0) return { scanned: 0, cut: false };
    const consumer = await js.consumers.get(stream, info.name);
    while (scanned < available) {
      const iter = await consumer.fetch({ max_messages: Math.min(fetchBatchMax, available - scanned), expires: 5_000 });
      let got = 0;
      for await (const m of iter) {
        got++;
        scanned++;
        if (onTrace) {
          const tp = m.headers?.get("traceparent");
          if (tp) onTrace(tp);
        }
        onData(decodePayload(m.data, m.headers as HeaderReader | undefined, historyRecordBytesMax));
      }
      if (got === 0) break;
    }
  } finally {
    await jsm.consumers.delete(stream, info.name).catch(() => false);
  }
  return { scanned, cut: info.num_pending > scanMax };
}

/** Attempts at creating an ephemeral consumer. nats-server 2.9 may place an
 *  R1 consumer on a stream peer that is down; the request then times out,
 *  and another attempt usually lands on a live peer. */
export const ephemeralCreateAttemptsMax = 6;

export async function addEphemeralConsumer(jsm: JetStreamManager, stream: string, cfg: Partial<ConsumerConfig>): Promise<ConsumerInfo> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await jsm.consumers.add(stream, cfg);
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === "TimeoutError" || /timeout/i.test(err.message));
      if (!timedOut || attempt >= ephemeralCreateAttemptsMax) throw err;
    }
  }
}
