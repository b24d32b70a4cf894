// The pure core of ingest: (device state, decoded messages) → (new state,
// outputs). No I/O and no clock: time comes from the messages' JetStream
// timestamps (or the caller's `nowMs` for the sweep), so any node applying
// the same messages to the same state computes the same result, whatever
// the order. The caller persists the state with one compare-and-set.
import { GCounter } from "../../shared/crdt/gcounter";
import { PNCounter } from "../../shared/crdt/pncounter";
import { CrdtError } from "../../shared/crdt/wire";
import type { TelemetryBatch } from "../../shared/proto/xsfleet.gen";
import { DevicePresence, devicePresenceFromWire } from "../../shared/device-presence";
import { Uplink } from "../../shared/topics";
import { DlqReason, type DecodedMessage, type DecodedTelemetry } from "../records";
import { DeviceEvent } from "../subjects";
import {
  PresenceSource,
  type CounterValue,
  type HelloState,
  type StoredDeviceState,
  type StoredWindow,
} from "../state";
import { checkSeq, emptyWindow, recordSeq, resizeWindow, SeqVerdict, type SeqWindowData } from "./seq-window";
import { IngestSource, ingestSourceOf } from "./types";

/** A decoded message with the JetStream facts about it. */
export interface IngestItem {
  msg: DecodedMessage;
  /** Sequence in its source stream. */
  streamSeq: number;
  /** JetStream storage time, ms. */
  timeMs: number;
}

export interface TelemetryOutput {
  deviceId: string;
  seq: number;
  deviceTimeMs: number;
  traceparent: string;
  telemetry: DecodedTelemetry;
  /** The validated wire batch (kept for binary history records). */
  raw: TelemetryBatch;
}

export interface EventOutput {
  deviceId: string;
  event: DeviceEvent;
  atMs: number;
  source: string;
  reason: string;
  /** Deterministic id (device, event, triggering seq or time) for dedup. */
  id: string;
}

export const ItemOutcome = {
  Applied: 0,
  Duplicate: 1,
  /** Dead-letter it with `reason`. */
  Rejected: 2,
} as const;
export type ItemOutcome = (typeof ItemOutcome)[keyof typeof ItemOutcome];

export interface ApplyResult {
  state: StoredDeviceState;
  /** False when every item was a duplicate or rejected: nothing to write. */
  changed: boolean;
  /** Per input item, same order. */
  outcomes: ItemOutcome[];
  rejections: Array<{ index: number; reason: DlqReason; detail: string }>;
  telemetry: TelemetryOutput[];
  events: EventOutput[];
  applied: number;
  points: number;
  duplicates: number;
}

export interface ApplyOptions {
  seqWindow: number;
}

const b64 = {
  enc: (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64"),
  dec: (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64")),
};

function loadWindow(stored: StoredWindow | undefined, size: number): SeqWindowData {
  if (!stored) return emptyWindow(size);
  return resizeWindow({ hwm: stored.hwm, bits: b64.dec(stored.bits) }, size);
}

/** Applies a batch of one device's messages. `prev` is not modified. */
export function applyBatch(prev: StoredDeviceState, items: readonly IngestItem[], opts: ApplyOptions): ApplyResult {
  const s = structuredClone(prev);
  const res: ApplyResult = { state: s, changed: false, outcomes: [], rejections: [], telemetry: [], events: [], applied: 0, points: 0, duplicates: 0 };
  const windows = new Map<IngestSource, SeqWindowData>();
  const before = s.presence.state;
  const wasRegistered = s.registeredAtMs !== null;

  // Presence messages in server order: the last one decides (a will that
  // arrives after "online" wins, an "online" after the will wins).
  const order = items.map((_, i) => i);
  order.sort((a, b) => items[a]!.streamSeq - items[b]!.streamSeq);
  const outcomes = new Array<ItemOutcome>(items.length);
  for (const i of order) {
    const item = items[i]!;
    const m = item.msg;
    if (m.deviceId !== s.deviceId) throw new Error(`applyBatch: item for ${m.deviceId} in the batch of ${s.deviceId}`);
    const source = ingestSourceOf(m.kind);
    let w = windows.get(source);
    if (!w) windows.set(source, (w = loadWindow(s.dedup[source], opts.seqWindow)));
    const seq = m.env.seq;
    if (seq > 0) {
      const verdict = checkSeq(w, seq);
      if (verdict === SeqVerdict.Duplicate) {
        outcomes[i] = ItemOutcome.Duplicate;
        res.duplicates++;
        continue;
      }
      if (verdict === SeqVerdict.Stale) {
        outcomes[i] = ItemOutcome.Rejected;
        res.rejections.push({ index: i, reason: DlqReason.StaleSeq, detail: `seq ${seq} <= hwm ${w.hwm} - window ${opts.seqWindow}` });
        continue;
      }
    }
    const rejection = applyOne(s, item, res);
    if (rejection) {
      outcomes[i] = ItemOutcome.Rejected;
      res.rejections.push({ index: i, reason: rejection.reason, detail: rejection.detail });
      continue;
    }
    if (seq > 0) recordSeq(w, seq);
    outcomes[i] = ItemOutcome.Applied;
    res.applied++;
    res.changed = true;
  }
  res.outcomes = outcomes;
  for (const [source, w] of windows) s.dedup[source] = { hwm: w.hwm, bits: b64.enc(w.bits) };

  if (!wasRegistered && s.registeredAtMs !== null) {
    res.events.push({ deviceId: s.deviceId, event: DeviceEvent.Registered, atMs: s.registeredAtMs, source: PresenceSource.Hello, reason: "", id: `${s.deviceId}:registered` });
  }
  if (s.presence.state !== before && s.presence.state !== DevicePresence.Unknown) {
    const event = s.presence.state === DevicePresence.Online ? DeviceEvent.Online : DeviceEvent.Offline;
    res.events.push({
      deviceId: s.deviceId, event, atMs: s.presence.sinceMs, source: s.presence.source, reason: s.presence.reason,
      id: `${s.deviceId}:${event}:${s.presence.sinceMs}`,
    });
  }
  return res;
}

type Rejection = { reason: DlqReason; detail: string } | null;

function applyOne(s: StoredDeviceState, item: IngestItem, res: ApplyResult): Rejection {
  const m = item.msg;
  const env = m.env;
  const prevSeenMs = s.lastSeenMs;
  if (env.counters !== undefined && m.counters) {
    const r = mergeCounters(s, m);
    if (r) return r;
  }
  if (item.timeMs > s.lastSeenMs) s.lastSeenMs = item.timeMs;
  if (env.traceparent !== "") s.traceparent = env.traceparent;

  switch (m.kind) {
    case Uplink.Hello: {
      const h = env.hello!;
      if (!s.hello || env.seq > s.hello.seq) s.hello = helloState(env.seq, item.timeMs, h);
      if (s.registeredAtMs === null || item.timeMs < s.registeredAtMs) s.registeredAtMs = item.timeMs;
      setPresenceByServerOrder(s, item, DevicePresence.Online, PresenceSource.Hello, "hello");
      return null;
    }
    case Uplink.Status: {
      const st = env.status!;
      const presence = devicePresenceFromWire(st.presence);
      if (presence === DevicePresence.Online) setPresenceByServerOrder(s, item, presence, PresenceSource.Status, st.reason);
      else if (presence === DevicePresence.Offline) setPresenceByServerOrder(s, item, presence, PresenceSource.Status, st.reason || "will");
      return null;
    }
    case Uplink.Heartbeat: {
      const hb = env.heartbeat!;
      if (!s.heartbeat || env.seq > s.heartbeat.seq) {
        s.heartbeat = {
          seq: env.seq, atMs: item.timeMs, deviceTimeMs: env.deviceTimeMs, heartbeatSeq: hb.heartbeatSeq, uptimeMs: hb.uptimeMs,
          freeHeapBytes: hb.freeHeapBytes, rssiDbm: hb.rssiDbm, counterDigest: hb.counterDigest, outboxDepth: hb.outboxDepth,
          outboxDropped: hb.outboxDropped, cpuLoadCentiPct: hb.cpuLoadCentiPct,
        };
      }
      markActivity(s, item, prevSeenMs);
      return null;
    }
    case Uplink.Telemetry: {
      const t = m.telemetry!;
      for (const ch of t.channels) {
        if (ch.t.length === 0) continue;
        let best = 0;
        for (let i = 1; i < ch.t.length; i++) if (ch.t[i]! >= ch.t[best]!) best = i;
        const cur = s.readings[ch.name];
        const t0 = ch.t[best]!;
        if (!cur || t0 > cur.t || (t0 === cur.t && env.seq > cur.seq)) s.readings[ch.name] = { t: t0, v: ch.v[best]!, seq: env.seq, unit: ch.unit };
      }
      s.telemetry.batches++;
      s.telemetry.points += t.pointCount;
      if (env.seq > s.telemetry.lastSeq) s.telemetry.lastSeq = env.seq;
      res.points += t.pointCount;
      res.telemetry.push({ deviceId: s.deviceId, seq: env.seq, deviceTimeMs: env.deviceTimeMs, traceparent: env.traceparent, telemetry: t, raw: env.telemetry! });
      markActivity(s, item, prevSeenMs);
      return null;
    }
    case Uplink.Counters:
      markActivity(s, item, prevSeenMs);
      return null;
    default:
      throw new Error(`applyOne: kind ${m.kind} is not ingested`);
  }
}

function setPresenceByServerOrder(s: StoredDeviceState, item: IngestItem, state: DevicePresence, source: PresenceSource, reason: string): void {
  if (item.streamSeq <= s.presenceStreamSeq) return;
  s.presenceStreamSeq = item.streamSeq;
  if (s.presence.state !== state) s.presence = { state, sinceMs: item.timeMs, source, reason };
  else s.presence = { ...s.presence, source, reason };
}

/** Heartbeats and telemetry newer than anything seen bring back a device the
 *  sweep timed out (or one whose Hello we never saw); a will-offline waits
 *  for the next Hello/online, which the server orders after the will. */
function markActivity(s: StoredDeviceState, item: IngestItem, prevSeenMs: number): void {
  if (s.presence.state === DevicePresence.Online) return;
  const timedOut = s.presence.source === PresenceSource.HeartbeatTimeout || s.presence.state === DevicePresence.Unknown;
  if (timedOut && item.timeMs > prevSeenMs) s.presence = { state: DevicePresence.Online, sinceMs: item.timeMs, source: PresenceSource.Activity, reason: "" };
}

function helloState(seq: number, atMs: number, h: NonNullable<DecodedMessage["env"]["hello"]>): HelloState {
  return {
    seq, atMs, role: h.role, capabilities: h.capabilities.slice(),
    resources: h.resources ? { ...h.resources } : null,
    location: h.location ? { ...h.location } : null,
    firmwareVersion: h.firmwareVersion, bootCount: h.bootCount,
    channels: h.channels.map((c) => ({ name: c.name, unit: c.unit, resolution: c.resolution })),
    heartbeatIntervalMs: h.heartbeatIntervalMs,
  };
}

function mergeCounters(s: StoredDeviceState, m: DecodedMessage): Rejection {
  // Check every merge before changing anything: a message is applied whole or not at all.
  const merged: Array<[string, CounterValue]> = [];
  for (const c of m.counters!) {
    const cur = s.counters[c.name];
    try {
      if (cur && cur.kind !== c.kind) return { reason: DlqReason.BadCounter, detail: `counter ${c.name} is ${cur.kind}, message says ${c.kind}` };
      if (c.kind === "g") {
        const into = cur ? GCounter.decode(b64.dec(cur.state)) : new GCounter();
        into.merge(c.counter as GCounter);
        merged.push([c.name, { kind: "g", value: into.value(), state: b64.enc(into.encode()) }]);
      } else {
        const into = cur ? PNCounter.decode(b64.dec(cur.state)) : new PNCounter();
        into.merge(c.counter as PNCounter);
        merged.push([c.name, { kind: "pn", value: into.value(), state: b64.enc(into.encode()) }]);
      }
    } catch (err) {
      if (err instanceof CrdtError) return { reason: DlqReason.BadCounter, detail: `counter ${c.name}: ${err.message}` };
      throw err;
    }
  }
  for (const [name, v] of merged) s.counters[name] = v;
  return null;
}

export interface SweepOptions {
  heartbeatTimeoutFactor: number;
  heartbeatIntervalDefaultMs: number;
}

/** Heartbeat timeout: an online device silent for factor × its interval goes
 *  offline. Returns null when nothing changes. */
export function sweepPresence(prev: StoredDeviceState, nowMs: number, opts: SweepOptions): { state: StoredDeviceState; event: EventOutput } | null {
  if (prev.presence.state !== DevicePresence.Online) return null;
  const intervalMs = prev.hello && prev.hello.heartbeatIntervalMs > 0 ? prev.hello.heartbeatIntervalMs : opts.heartbeatIntervalDefaultMs;
  const timeoutMs = opts.heartbeatTimeoutFactor * intervalMs;
  if (nowMs - prev.lastSeenMs <= timeoutMs) return null;
  const s = structuredClone(prev);
  s.presence = { state: DevicePresence.Offline, sinceMs: nowMs, source: PresenceSource.HeartbeatTimeout, reason: `no message for ${timeoutMs} ms` };
  return {
    state: s,
    event: { deviceId: s.deviceId, event: DeviceEvent.Offline, atMs: nowMs, source: PresenceSource.HeartbeatTimeout, reason: s.presence.reason, id: `${s.deviceId}:offline:${prev.lastSeenMs}` },
  };
}
