// The pure core of ingest: (device state, decoded messages) → (new state,
// outputs, receipts). No I/O and no clock: time comes from the messages'
// JetStream timestamps (or the caller's `nowMs` for the sweep), so any node
// applying the same messages in the same order to the same state computes
// the same result. The merges are idempotent and order-independent; the
// dedup record (dedup.ts: epochs, floor) follows the device's stream order,
// which one writer per device provides. The caller persists the state with
// one compare-and-set, then publishes dead letters and receipts.
import { GCounter } from "../../shared/crdt/gcounter";
import { PNCounter } from "../../shared/crdt/pncounter";
import { CrdtError } from "../../shared/crdt/wire";
import type { Receipt, TelemetryBatch } from "../../shared/proto/xsfleet.gen";
import { DevicePresence, devicePresenceFromWire } from "../../shared/device-presence";
import { Uplink } from "../../shared/topics";
import { DlqReason, type DecodedMessage, type DecodedTelemetry, type Rejected } from "../records";
import { DeviceEvent } from "../subjects";
import {
  PresenceSource,
  type CounterValue,
  type HelloState,
  type StoredDeviceState,
} from "../state";
import { admitSeq, DedupVerdict, recordSeq, type DedupLimits } from "./dedup";
import { buildReceipts } from "./receipt";

/** A message ingest could not decode, but whose device, kind, epoch and seq
 *  are known: it goes through the epoch rules and is answered as rejected. */
export type RejectedMessage = Rejected & { deviceId: string; seqInfo: NonNullable<Rejected["seqInfo"]> };

/** A decoded message (or one refused at decode that names its seq) with the JetStream facts about it. */
export interface IngestItem {
  msg: DecodedMessage | RejectedMessage;
  /** Sequence in its source stream. */
  streamSeq: number;
  /** JetStream storage time, ms. */
  timeMs: number;
}

/** Kinds a device keeps in its outbox until a receipt names them
 *  (firmware/device/outbox.ts MessageClass Telemetry and Ack); only these are
 *  answered in receipts. Live kinds (hello, hb, status, ctr) are never resent. */
export const receiptKinds: ReadonlySet<Uplink> = new Set([Uplink.Telemetry, Uplink.CommandAck]);

export interface TelemetryOutput {
  deviceId: string;
  seq: number;
  /** The device epoch of the message: with the seq, it names the outputs
   *  (msg ids: a device that starts a new epoch reuses seqs). */
  epoch: number;
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
  /** Recorded before (or settled): no effect. */
  Duplicate: 1,
  /** Dead-letter it with `reason`. */
  Rejected: 2,
  /** A retired epoch: no effect, no receipt (acked). */
  Ignored: 3,
} as const;
export type ItemOutcome = (typeof ItemOutcome)[keyof typeof ItemOutcome];

export interface ApplyResult {
  state: StoredDeviceState;
  /** False when nothing was applied or recorded: nothing to write. */
  changed: boolean;
  /** Per input item, same order. */
  outcomes: ItemOutcome[];
  rejections: Array<{ index: number; reason: DlqReason; detail: string }>;
  telemetry: TelemetryOutput[];
  events: EventOutput[];
  /** Answers for the device's current epoch (receipt kinds only), to publish
   *  after the state write and the dead letters, before the acks. */
  receipts: Receipt[];
  applied: number;
  points: number;
  /** Messages without a new effect: recorded before, or at or below the floor. */
  duplicates: number;
  /** Of those, at or below the floor (live kinds there are still applied, idempotently). */
  settled: number;
  /** Messages of a retired epoch, ignored. */
  retiredEpoch: number;
  epochChanges: number;
  /** Ranges merged into the floor because the record was full. */
  dedupOverflow: number;
}

export type ApplyOptions = DedupLimits;

const b64 = {
  enc: (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64"),
  dec: (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64")),
};

function emptyResult(s: StoredDeviceState): ApplyResult {
  return {
    state: s, changed: false, outcomes: [], rejections: [], telemetry: [], events: [], receipts: [],
    applied: 0, points: 0, duplicates: 0, settled: 0, retiredEpoch: 0, epochChanges: 0, dedupOverflow: 0,
  };
}

/** Applies a batch of one device's messages. `prev` is not modified.
 *  Dedup (dedup.ts) per message: retired epoch -> Ignored; seq jump ->
 *  Rejected; duplicate -> no effect; settled -> no effect for outbox kinds.
 *  Live kinds are idempotent (presence by server order, hello/heartbeat by
 *  seq, counters by CRDT merge), so below the floor they are applied again
 *  rather than dropped: a will encoded at CONNECT arrives below the floor and
 *  must still set presence. A live message whose seq is recorded was
 *  applied in the same state write: skipped, so nothing counts twice. */
export function applyBatch(prev: StoredDeviceState, items: readonly IngestItem[], opts: ApplyOptions): ApplyResult {
  const s = structuredClone(prev);
  const res = emptyResult(s);
  const before = s.presence.state;
  const d = s.dedup;
  /** Receipt answers by epoch (only the final current epoch's go out). */
  const answers: Array<{ epoch: number; seq: number; confirmed: boolean }> = [];
  /** Quarantined seqs: answered in receipts of their own. The device refuses
   *  a receipt naming a seq it has not sent (a forged 2^31), which must not
   *  cost the answers to its real seqs. */
  const jumps: Array<{ epoch: number; seq: number }> = [];

  // Presence messages in server order: the last one decides (a will that
  // arrives after "online" wins, an "online" after the will wins).
  const order = items.map((_, i) => i);
  order.sort((a, b) => items[a]!.streamSeq - items[b]!.streamSeq);
  const outcomes = new Array<ItemOutcome>(items.length);
  const reject = (i: number, reason: DlqReason, detail: string): void => {
    outcomes[i] = ItemOutcome.Rejected;
    res.rejections.push({ index: i, reason, detail });
  };
  for (const i of order) {
    const item = items[i]!;
    const m = item.msg;
    if (m.deviceId !== s.deviceId) throw new Error(`applyBatch: item for ${m.deviceId} in the batch of ${s.deviceId}`);
    const kind = m.ok ? m.kind : m.seqInfo.kind;
    const epoch = m.ok ? m.env.epoch : m.seqInfo.epoch;
    const seq = m.ok ? m.env.seq : m.seqInfo.seq;
    const answered = receiptKinds.has(kind);
    if (seq === 0) {
      // Unsequenced (status only): presence by server order, idempotent.
      if (!m.ok) { reject(i, m.reason, m.detail); continue; }
      applyAndCount(s, item, res, i, outcomes, reject);
      continue;
    }
    if (kind === Uplink.Status && epoch !== d.epoch && !d.retiredEpochs.includes(epoch)) {
      // A will is encoded at CONNECT and published by the broker later: it
      // never starts an epoch (an old connection's will could flip a device
      // back). Presence is applied (server order decides), dedup untouched.
      if (!m.ok) { reject(i, m.reason, m.detail); continue; }
      applyAndCount(s, item, res, i, outcomes, reject);
      continue;
    }
    // A refused message does not raise the floor (its bytes are suspect) but its settled_below still tells 0 -> e apart.
    const settledBelow = m.ok ? Math.min(m.env.settledBelow, seq) : 0;
    const epochHint = m.ok ? settledBelow : m.seqInfo.settledBelow;
    const floorBefore = d.floor;
    const a = admitSeq(d, epoch, seq, settledBelow, item.timeMs, opts, epochHint);
    if (a.epochChanged) { res.epochChanges++; res.changed = true; }
    if (d.floor !== floorBefore) res.changed = true;
    switch (a.verdict) {
      case DedupVerdict.RetiredEpoch:
        res.retiredEpoch++;
        // Bad bytes are still dead-lettered (counted), never silently dropped.
        if (!m.ok) reject(i, m.reason, m.detail);
        else outcomes[i] = ItemOutcome.Ignored;
        continue;
      case DedupVerdict.SeqJump:
        reject(i, DlqReason.SeqJump, `seq ${seq} (epoch ${epoch}) > highest ${epoch === d.epoch ? "recorded" : "of a new epoch"} + seqJumpMax ${opts.seqJumpMax}`);
        if (answered) jumps.push({ epoch, seq });
        continue;
      case DedupVerdict.Duplicate:
        // Recorded: its effect is in this state already (for live kinds too).
        if (!m.ok) { reject(i, m.reason, m.detail); continue; }
        outcomes[i] = ItemOutcome.Duplicate;
        res.duplicates++;
        if (answered) answers.push({ epoch, seq, confirmed: true });
        continue;
      case DedupVerdict.Settled:
        res.settled++;
        if (!m.ok) { reject(i, m.reason, m.detail); continue; }
        if (answered) {
          outcomes[i] = ItemOutcome.Duplicate;
          res.duplicates++;
          answers.push({ epoch, seq, confirmed: true });
        } else {
          // Live: applied again (idempotent: it may be a first delivery, a
          // will), counted as a duplicate (it may as well be a redelivery).
          const rejection = applyOne(s, item, res);
          if (rejection) reject(i, rejection.reason, rejection.detail);
          else { outcomes[i] = ItemOutcome.Duplicate; res.duplicates++; }
        }
        continue;
      case DedupVerdict.New: {
        if (!m.ok) {
          reject(i, m.reason, m.detail);
          if (answered) answers.push({ epoch, seq, confirmed: false });
          continue;
        }
        if (!applyAndCount(s, item, res, i, outcomes, reject)) {
          if (answered) answers.push({ epoch, seq, confirmed: false });
          continue;
        }
        res.dedupOverflow += recordSeq(d, seq, opts);
        if (answered) answers.push({ epoch, seq, confirmed: true });
        continue;
      }
    }
  }
  res.outcomes = outcomes;
  // Live messages re-applied below the floor usually change nothing: no write then.
  if (!res.changed && res.settled > 0) res.changed = JSON.stringify(s) !== JSON.stringify(prev);
  const current = answers.filter((x) => x.epoch === d.epoch);
  res.receipts = buildReceipts(d.epoch, current.filter((x) => x.confirmed).map((x) => x.seq), current.filter((x) => !x.confirmed).map((x) => x.seq));
  const jumped = jumps.filter((x) => x.epoch === d.epoch).map((x) => x.seq);
  if (jumped.length > 0) res.receipts.push(...buildReceipts(d.epoch, [], jumped));

  if (s.presence.state !== before && s.presence.state !== DevicePresence.Unknown) {
    const event = s.presence.state === DevicePresence.Online ? DeviceEvent.Online : DeviceEvent.Offline;
    res.events.push({
      deviceId: s.deviceId, event, atMs: s.presence.sinceMs, source: s.presence.source, reason: s.presence.reason,
      id: `${s.deviceId}:${event}:${s.presence.sinceMs}`,
    });
  }
  return res;
}

/** Applies one decoded item; false when it was rejected (and recorded as such). */
function applyAndCount(
  s: StoredDeviceState, item: IngestItem, res: ApplyResult, i: number, outcomes: ItemOutcome[],
  reject: (i: number, reason: DlqReason, detail: string) => void,
): boolean {
  const rejection = applyOne(s, item, res);
  if (rejection) {
    reject(i, rejection.reason, rejection.detail);
    return false;
  }
  outcomes[i] = ItemOutcome.Applied;
  res.applied++;
  res.changed = true;
  return true;
}

type Rejection = { reason: DlqReason; detail: string } | null;

function applyOne(s: StoredDeviceState, item: IngestItem, res: ApplyResult): Rejection {
  const m = item.msg;
  if (!m.ok) throw new Error("applyOne: a rejected message");
  const env = m.env;
  const prevSeenMs = s.lastSeenMs;
  if (isStaleRelayedWill(s, m)) return null;
  if (env.counters !== undefined && m.counters) {
    const r = mergeCounters(s, m);
    if (r) return r;
  }
  if (item.timeMs > s.lastSeenMs) {
    s.lastSeenMs = item.timeMs;
    // The route of the newest uplink: a gateway's id, or "" when direct.
    s.via = env.via;
  }
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
      res.telemetry.push({ deviceId: s.deviceId, seq: env.seq, epoch: env.epoch, deviceTimeMs: env.deviceTimeMs, traceparent: env.traceparent, telemetry: t, raw: env.telemetry! });
      markActivity(s, item, prevSeenMs);
      return null;
    }
    case Uplink.Counters:
      markActivity(s, item, prevSeenMs);
      return null;
    case Uplink.CommandAck:
      // Recorded for dedup and confirmed by receipt; its effect on the command
      // is cloud/commands' (its own consumer on XSF_UP, idempotent per command).
      markActivity(s, item, prevSeenMs);
      return null;
    default:
      throw new Error(`applyOne: kind ${m.kind} is not ingested`);
  }
}

/**
 * A will a gateway sent for a child that has since come through another
 * route: a child with two gateways moved on (docs/edge.md "Failover"), and
 * the old gateway published its will late (keepalive silence, or the rejoin
 * grace after its own uplink came back). It speaks for a link that no
 * longer carries the device: no effect on presence or route.
 */
function isStaleRelayedWill(s: StoredDeviceState, m: DecodedMessage): boolean {
  if (m.kind !== Uplink.Status || m.env.via === "" || m.env.via === s.via) return false;
  return devicePresenceFromWire(m.env.status!.presence) === DevicePresence.Offline;
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
  // Derived offlines (timeout, gateway gone) end with the device's next newer message; a will only with a Hello/ONLINE.
  const timedOut = s.presence.source === PresenceSource.HeartbeatTimeout || s.presence.source === PresenceSource.GatewayOffline
    || s.presence.state === DevicePresence.Unknown;
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

/** The presence reason of a device whose gateway went offline. */
export const gatewayOfflineReason = "gateway offline";

/**
 * Gateway offline: a device reached through a gateway (`via`) is offline
 * once that gateway is, if nothing came from the device after the gateway
 * went (its JetStream time is at or after the device's last message: the
 * broker publishes a gateway's will after everything that gateway relayed).
 * Nothing on the LAN can speak for the children of a dead gateway, so the
 * cloud derives it. `gateway` is the stored state of `prev.via` (null: none).
 * Returns null when nothing changes. Deterministic.
 */
export function sweepGatewayPresence(prev: StoredDeviceState, gateway: StoredDeviceState | null, nowMs: number): { state: StoredDeviceState; event: EventOutput } | null {
  if (prev.presence.state !== DevicePresence.Online || prev.via === "" || gateway === null || gateway.deviceId !== prev.via) return null;
  if (gateway.presence.state !== DevicePresence.Offline || gateway.presence.sinceMs < prev.lastSeenMs) return null;
  const s = structuredClone(prev);
  s.presence = { state: DevicePresence.Offline, sinceMs: nowMs, source: PresenceSource.GatewayOffline, reason: gatewayOfflineReason };
  return {
    state: s,
    event: { deviceId: s.deviceId, event: DeviceEvent.Offline, atMs: nowMs, source: PresenceSource.GatewayOffline, reason: gatewayOfflineReason, id: `${s.deviceId}:offline:${prev.lastSeenMs}` },
  };
}
