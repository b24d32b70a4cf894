// The analytics work of one partition, pure and deterministic: XSF_UP
// messages in stream order in, window results and alert transitions out,
// and a checkpoint that restores the exact same state. No I/O, no clock:
// time is the messages' (device time for windows and rules, storage time for
// the rule engine's tick), so a replay of the same messages from the same
// checkpoint gives the same outputs, record for record (docs/analytics.md
// "Exactly-once").
//
// Per message (stream seq s, storage time tm):
//   s <= checkpoint seq                 -> skipped (already in the state);
//   decode with ingest's limits (cloud/records); refused -> counted (ingest
//     dead-letters it), its seq still recorded if it named one;
//   device seq through ingest's dedup rules (admitSeq/recordSeq, cloud/ingest
//     dedup.ts): a retransmit or redelivery -> counted, no effect;
//   telemetry -> every point into every window operator and the rule engine;
//   status/hello -> presence into the rule engine;
//   then the rule engine ticks at tm and operators and engine are drained.
// The windows, lateness and rules are shared/stream's (one home).
//
// Bounds: dedup records for at most dedupDevicesMax devices (least recently
// seen dropped, counted `dedupEvicted`: a retransmit of such a device could
// count twice); the operators and the engine bound their own state.
import { Presence } from "../../shared/proto/xsfleet.gen";
import { devicePartition, Uplink } from "../../shared/topics";
import {
  RuleEngine, WindowOperator,
  type AlertTransition, type RuleDef, type RuleEngineSnapshot, type WindowOperatorConfig, type WindowOperatorSnapshot, type WindowResult,
} from "../../shared/stream";
import { admitSeq, DedupVerdict, recordSeq, type DedupLimits } from "../ingest";
import { decodeDeviceMessage, type DecodeConfig } from "../records";
import { emptyDedup, type StoredDedup } from "../state";

export type OperatorConfig = WindowOperatorConfig;
type OperatorSnapshot = WindowOperatorSnapshot;
type EngineSnapshot = RuleEngineSnapshot;

export interface ProcessorConfig {
  /** This partition and the partition count: a rule listing devices keeps only this partition's (others are evaluated by their own partition's owner). */
  partition: number;
  partitions: number;
  operators: readonly OperatorConfig[];
  rules: readonly RuleDef[];
  decode: DecodeConfig;
  dedup: DedupLimits;
  dedupDevicesMax: number;
}

/** Everything a partition's analytics state is, at one stream position. */
export interface PartitionCheckpoint {
  v: 1;
  /** Last XSF_UP stream seq whose effect is in this state (0: none). */
  seq: number;
  /** The rule engine's clock: highest device time seen (ms; event time, the timebase of the points). */
  clockMs: number;
  /** Storage time of the message that last advanced the clock (idle ticks extrapolate from it). */
  clockAtStorageMs: number;
  operators: Record<string, OperatorSnapshot>;
  engine: EngineSnapshot;
  /** Dedup records, least recently seen first. */
  dedup: Array<[string, StoredDedup]>;
}

/** One XSF_UP message as the processor needs it. */
export interface InputMessage {
  subject: string;
  data: Uint8Array;
  streamSeq: number;
  /** Storage time, ms. */
  timeMs: number;
}

export interface OperatorResult {
  operator: string;
  result: WindowResult;
}

export interface ProcessorOutput {
  results: OperatorResult[];
  transitions: AlertTransition[];
}

export interface ProcessorStats {
  messages: number;
  /** Already in the checkpointed state (a replay's overlap, a redelivery). */
  skipped: number;
  points: number;
  duplicates: number;
  rejected: number;
  dedupEvicted: number;
  /** Points beyond the allowed lateness of every window they fall in (all operators). */
  lateDropped: number;
  results: number;
  transitions: number;
}

export function emptyProcessorStats(): ProcessorStats {
  return { messages: 0, skipped: 0, points: 0, duplicates: 0, rejected: 0, dedupEvicted: 0, lateDropped: 0, results: 0, transitions: 0 };
}

/** Device time more than this ahead of the broker's storage time does not move the engine's clock (a simulated
 *  fleet replays traces faster than real time, so this is wide). */
export const clockAheadMaxMs = 30 * 24 * 3600_000;

/** The rules one partition evaluates: a rule listing devices keeps only those of this partition, and goes when none is. */
export function partitionRules(rules: readonly RuleDef[], partition: number, partitions: number): RuleDef[] {
  const out: RuleDef[] = [];
  for (const r of rules) {
    const devices = r.match.devices;
    if (devices === undefined) { out.push(r); continue; }
    const mine = devices.filter((d) => devicePartition(d, partitions) === partition);
    if (mine.length > 0) out.push({ ...r, match: { ...r.match, devices: mine } });
  }
  return out;
}

export class PartitionProcessor {
  readonly #cfg: ProcessorConfig;
  readonly #ops: Array<{ id: string; op: WindowOperator }>;
  readonly #engine: RuleEngine;
  readonly #dedup: Map<string, StoredDedup>;
  #seq: number;
  #clockMs: number;
  #clockAtStorageMs: number;
  readonly stats: ProcessorStats = emptyProcessorStats();

  constructor(cfg: ProcessorConfig, from: PartitionCheckpoint | null = null) {
    this.#cfg = cfg;
    this.#ops = cfg.operators.map((c) => {
      const snap = from?.operators[c.id];
      return { id: c.id, op: snap !== undefined ? WindowOperator.restore(c, snap) : new WindowOperator(c) };
    });
    const rules = partitionRules(cfg.rules, cfg.partition, cfg.partitions);
    this.#engine = from ? RuleEngine.restore(rules, from.engine) : new RuleEngine(rules);
    this.#dedup = new Map(from?.dedup ?? []);
    this.#seq = from?.seq ?? 0;
    this.#clockMs = from?.clockMs ?? 0;
    this.#clockAtStorageMs = from?.clockAtStorageMs ?? 0;
  }

  /** Last stream seq in the state. */
  get seq(): number {
    return this.#seq;
  }

  setRules(rules: readonly RuleDef[]): void {
    this.#engine.setRules(partitionRules(rules, this.#cfg.partition, this.#cfg.partitions));
  }

  /** One message, in stream order. */
  process(m: InputMessage): ProcessorOutput {
    if (m.streamSeq <= this.#seq) {
      this.stats.skipped++;
      return { results: [], transitions: [] };
    }
    this.#seq = m.streamSeq;
    this.stats.messages++;
    this.#apply(m);
    return this.#tickAndDrain(this.#clockMs);
  }

  /** Wall time passes without messages (absence rules): the engine's clock moves on by the wall time
   *  since the message that last advanced it. Not in the stream: a replay does not reproduce it. */
  tick(wallNowMs: number): ProcessorOutput {
    if (this.#clockMs === 0) return { results: [], transitions: [] };
    return this.#tickAndDrain(this.#clockMs + Math.max(0, wallNowMs - this.#clockAtStorageMs));
  }

  #advance(t: number, storageMs: number): void {
    // A device clock far ahead of the broker's cannot drag every key of the partition along.
    if (t > this.#clockMs && t <= storageMs + clockAheadMaxMs) {
      this.#clockMs = t;
      this.#clockAtStorageMs = storageMs;
    }
  }

  checkpoint(): PartitionCheckpoint {
    const operators: Record<string, OperatorSnapshot> = {};
    for (const { id, op } of this.#ops) operators[id] = op.snapshot();
    return { v: 1, seq: this.#seq, clockMs: this.#clockMs, clockAtStorageMs: this.#clockAtStorageMs, operators, engine: this.#engine.snapshot(), dedup: [...this.#dedup.entries()] };
  }

  #apply(m: InputMessage): void {
    const d = decodeDeviceMessage(m.subject, m.data, this.#cfg.decode);
    if (!d.ok) {
      this.stats.rejected++;
      if (d.deviceId !== null && d.seqInfo) this.#admit(d.deviceId, d.seqInfo.epoch, d.seqInfo.seq, 0, m.timeMs, d.seqInfo.settledBelow);
      return;
    }
    const env = d.env;
    if (env.seq > 0 && !this.#admit(d.deviceId, env.epoch, env.seq, env.settledBelow, m.timeMs, env.settledBelow)) {
      this.stats.duplicates++;
      return;
    }
    if (d.telemetry) {
      for (const ch of d.telemetry.channels) {
        for (let i = 0; i < ch.t.length; i++) {
          const t = ch.t[i]!;
          const v = ch.v[i]!;
          for (const { op } of this.#ops) op.add(d.deviceId, ch.name, t, v);
          this.#engine.onPoint(d.deviceId, ch.name, t, v);
          this.#advance(t, m.timeMs);
          this.stats.points++;
        }
      }
    } else if (d.kind === Uplink.Status && env.status) {
      // A will carries no device time: it happened at the partition's clock.
      if (env.deviceTimeMs > 0) this.#advance(env.deviceTimeMs, m.timeMs);
      const t = env.deviceTimeMs > 0 ? env.deviceTimeMs : this.#clockMs;
      if (env.status.presence !== Presence.PRESENCE_UNSPECIFIED) this.#engine.onPresence(d.deviceId, env.status.presence === Presence.PRESENCE_ONLINE, t);
    } else if (d.kind === Uplink.Hello && env.hello) {
      // Group keys of rules (groupBy site/zone) come from the device's announced location.
      const loc = env.hello.location;
      if (loc) this.#engine.setMetadata(d.deviceId, { site: loc.site, zone: loc.zone });
      if (env.deviceTimeMs > 0) this.#advance(env.deviceTimeMs, m.timeMs);
      this.#engine.onPresence(d.deviceId, true, env.deviceTimeMs > 0 ? env.deviceTimeMs : this.#clockMs);
    }
  }

  /** Ingest's dedup rules for (device, epoch, seq); true when the message is new (and now recorded). */
  #admit(deviceId: string, epoch: number, seq: number, settledBelow: number, timeMs: number, epochHint: number): boolean {
    let rec = this.#dedup.get(deviceId);
    if (rec) this.#dedup.delete(deviceId);
    else rec = emptyDedup();
    // Re-inserted last: the map's order is least recently seen first.
    this.#dedup.set(deviceId, rec);
    while (this.#dedup.size > this.#cfg.dedupDevicesMax) {
      this.#dedup.delete(this.#dedup.keys().next().value!);
      this.stats.dedupEvicted++;
    }
    const a = admitSeq(rec, epoch, seq, settledBelow, timeMs, this.#cfg.dedup, epochHint);
    if (a.verdict !== DedupVerdict.New) return false;
    recordSeq(rec, seq, this.#cfg.dedup);
    return true;
  }

  #tickAndDrain(nowMs: number): ProcessorOutput {
    this.#engine.tick(nowMs);
    const results: OperatorResult[] = [];
    for (const { id, op } of this.#ops) for (const result of op.drain()) results.push({ operator: id, result });
    const transitions = this.#engine.drain();
    let late = 0;
    for (const { op } of this.#ops) late += op.stats.lateDropped;
    this.stats.lateDropped = late;
    this.stats.results += results.length;
    this.stats.transitions += transitions.length;
    return { results, transitions };
  }
}
