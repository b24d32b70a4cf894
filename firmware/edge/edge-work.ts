// The edge jobs a gateway or processing node runs on its children's data
// (docs/edge.md, "Edge jobs on the device"), as the cloud's scheduler placed
// them in its desired config (shared/edge-jobs.ts). Pure: explicit time, no
// I/O; the Gateway feeds it every child telemetry envelope it relays.
//
// aggregate: each child's points go into tumbling windows (shared/stream
//   WindowOperator, key = child id); the child's telemetry envelope is
//   forwarded with the same seq, epoch and trace, but its batch replaced by
//   the windows that closed, as channels "<channel>_count|_min|_max|_mean" at
//   the window start (an empty batch when none closed). So the cloud's
//   exactly-once rules and receipts still hold per child, the aggregates land
//   in the child's own device state and history, and raw points never go
//   upstream. A resend (the child got no receipt) is not counted twice: a seq
//   at or below the child's last aggregated one is forwarded as what was sent
//   for it while unacknowledged (kept until the broker's PUBACK), else as an
//   empty batch (the cloud has it already and deduplicates). What is lost:
//   windows still open when the gateway restarts (their points were already
//   confirmed to the child), counted in nothing the cloud sees: documented.
// rules: a threshold rule per job (shared/stream RuleEngine) on the children's
//   points. Raised alerts are counted (stats, and the node's counters via its
//   owner); when the upstream is down, a rule's action (set <value> on a child
//   actuator) is returned as a local command for the gateway to send down the
//   child's link.
// relay: the job's children join the allow-list (the Gateway reads them).
//
// Bounds: children tracked ≤ childrenTracked; per child ≤ resendCacheMax
// cached envelopes and ≤ pendingWindowsMax closed windows waiting to ride
// along; ≤ localActionsMax queued local commands.
import { decodeBatch, encodeBatch } from "../../shared/codec/batch";
import {
  createCommand, createEnvelope, createTelemetryBatch, decodeEnvelope, encodeEnvelope, Encoding, schemaVersion, type ChannelInfo, type Envelope,
} from "../../shared/proto/xsfleet.gen";
import { EdgeJobKind, type AggregateJob, type EdgeJob, type RulesJob } from "../../shared/edge-jobs";
import { WindowOperator, type WindowResult } from "../../shared/stream/window-operator";
import { RuleEngine } from "../../shared/stream/rule-engine";
import type { RuleDef } from "../../shared/stream/rules";

/** Children whose aggregation state is kept (the gateway's childrenLimit). */
export const childrenTracked = 64;
/** Envelopes kept per child for resends until the broker acknowledged them (the gateway's childInflightMax). */
export const resendCacheMax = 32;
/** Closed windows per child waiting for its next telemetry envelope; older ones are dropped, counted. */
export const pendingWindowsMax = 64;
/** Seqs remembered per child as aggregated (resends arrive out of order); below the oldest kept counts as seen. */
export const seenSeqsMax = 256;
/** Local commands waiting to be sent. */
export const localActionsMax = 16;
/** Suffixes of the aggregate channels, in column order per source channel. */
export const aggregateSuffixes: readonly string[] = Object.freeze(["_count", "_min", "_max", "_mean"]);
/** Source channels one aggregate batch carries (× 4 statistics = the codec's 16 columns). */
const batchSourceChannelsMax = 4;

export interface EdgeWorkStats {
  jobs: number;
  /** Points that went into windows. */
  aggregatedPoints: number;
  /** Window aggregates sent upstream. */
  windowsSent: number;
  windowsDropped: number;
  /** Telemetry payload bytes the children sent, and what went upstream instead. */
  rawPayloadBytes: number;
  sentPayloadBytes: number;
  /** Whole envelopes in and out (what the uplink carries). */
  rawEnvelopeBytes: number;
  sentEnvelopeBytes: number;
  resends: number;
  /** Telemetry that did not decode (forwarded unchanged). */
  undecodable: number;
  rulePoints: number;
  alertsRaised: number;
  localCommands: number;
}

export interface LocalCommand {
  /** The child the command is for. */
  deviceId: string;
  /** A Command envelope, as the cloud would send it. */
  envelope: Uint8Array;
}

interface ChildAgg {
  epoch: number;
  /** Seqs of this epoch already aggregated (≤ seenSeqsMax; `seenBelow`: everything under it counts as seen). */
  seen: Set<number>;
  seenBelow: number;
  channels: ChannelInfo[];
  pending: WindowResult[];
  /** seq → what was made of it, until the broker acknowledged it. */
  sent: Map<number, SentEnvelope>;
  /** Seqs whose unpublished entry was evicted: their windows went back to `pending`, their resend carries pending windows. */
  evicted: Set<number>;
}

interface SentEnvelope {
  bytes: Uint8Array;
  windows: WindowResult[];
  /** Handed to the upstream (else made while it was down). */
  published: boolean;
  /** The broker acknowledged it (it stays until the cloud's receipt: a lost receipt means a resend, which must carry the same bytes). */
  acked: boolean;
}

export class EdgeWork {
  #aggregate: AggregateJob | undefined;
  #rules: RulesJob[] = [];
  #relay: string[] = [];
  #windows: WindowOperator | undefined;
  #engine: RuleEngine | undefined;
  readonly #children = new Map<string, ChildAgg>();
  readonly #actions: LocalCommand[] = [];
  #commandSeq = 0;
  /** Rule ids raised since the last takeRaised() (≤ jobsPerDeviceMax distinct, counted). */
  readonly #raised = new Map<string, number>();
  readonly stats: EdgeWorkStats = {
    jobs: 0, aggregatedPoints: 0, windowsSent: 0, windowsDropped: 0, rawPayloadBytes: 0, sentPayloadBytes: 0, rawEnvelopeBytes: 0,
    sentEnvelopeBytes: 0, resends: 0, undecodable: 0, rulePoints: 0, alertsRaised: 0, localCommands: 0,
  };

  /** Replaces the jobs (from the desired config); unchanged jobs keep their state. Throws (changing nothing) on a rule the engine refuses. */
  configure(jobs: readonly EdgeJob[]): void {
    let agg: AggregateJob | undefined;
    const rules: RulesJob[] = [];
    const relay: string[] = [];
    for (const j of jobs) {
      if (j.kind === EdgeJobKind.Aggregate) { if (agg === undefined) agg = j; }
      else if (j.kind === EdgeJobKind.Rules) rules.push(j);
      else for (const c of j.children) if (relay.indexOf(c) < 0) relay.push(c);
    }
    const before = this.#rules.map(ruleKey).join("|");
    const rulesChanged = rules.map(ruleKey).join("|") !== before;
    // Built first: a refused rule leaves every job as it was.
    const engine = rules.length === 0 ? undefined : this.#engine === undefined || rulesChanged ? new RuleEngine(rules.map(ruleDef), { keysMax: childrenTracked * 4 }) : this.#engine;
    const a = this.#aggregate;
    if (agg === undefined) {
      this.#windows = undefined;
      this.#children.clear();
    } else if (a === undefined || a.windowMs !== agg.windowMs || a.channels.join(",") !== agg.channels.join(",")) {
      this.#windows = new WindowOperator({ id: agg.id, spec: { kind: "tumbling", sizeMs: agg.windowMs }, allowedLatenessMs: 0, keysMax: childrenTracked * batchSourceChannelsMax, windowsOpenMax: childrenTracked * batchSourceChannelsMax * 2 });
      for (const c of this.#children.values()) c.pending.length = 0;
    }
    this.#aggregate = agg;
    this.#rules = rules;
    this.#engine = engine;
    this.#relay = relay;
    this.stats.jobs = jobs.length;
  }

  get aggregating(): boolean {
    return this.#aggregate !== undefined;
  }

  /** Rules run here: the gateway keeps its children while the upstream is down, so they can act locally. */
  get actsLocally(): boolean {
    return this.#engine !== undefined;
  }

  /** Children relay jobs add to the allow-list. */
  get relayChildren(): readonly string[] {
    return this.#relay;
  }

  /** Ids of the jobs in force. */
  jobIds(): string[] {
    const out: string[] = [];
    if (this.#aggregate !== undefined) out.push(this.#aggregate.id);
    for (const r of this.#rules) out.push(r.id);
    return out;
  }

  /**
   * A child's telemetry envelope on its way up (already checked to be the
   * child's): feeds the rules, and returns what to forward — the envelope
   * itself, or its aggregated form while an aggregate job runs.
   */
  telemetry(childId: string, envelope: Uint8Array, upstreamUp: boolean): Uint8Array {
    if (this.#windows === undefined && this.#engine === undefined) return envelope;
    let env: Envelope;
    let points: { t: readonly number[]; columns: { name: string; v: readonly number[] }[] };
    try {
      env = decodeEnvelope(envelope);
      const tb = env.telemetry;
      if (tb === undefined || tb.encoding !== Encoding.ENCODING_XSF_TS1) throw new Error("not xsf-ts1 telemetry");
      const b = decodeBatch(tb.payload);
      points = { t: b.timestampsMs, columns: b.channels.map((c, i) => ({ name: tb.channels[i]?.name || `c${i}`, v: c.values })) };
    } catch {
      this.stats.undecodable++;
      return envelope;
    }
    const windows = this.#windows;
    const c = windows === undefined ? undefined : this.#child(childId, env);
    const fresh = c === undefined || env.epoch !== c.epoch || (env.seq >= c.seenBelow && !c.seen.has(env.seq));
    if (fresh) this.#rulePoints(childId, points, upstreamUp);
    if (windows === undefined || c === undefined) return envelope;
    this.stats.rawEnvelopeBytes += envelope.length;
    this.stats.rawPayloadBytes += env.telemetry!.payload.length;
    if (!fresh) {
      this.stats.resends++;
      const cached = c.sent.get(env.seq);
      let out: Uint8Array;
      if (cached !== undefined) {
        cached.published = cached.published || upstreamUp;
        out = cached.bytes;
      } else if (c.evicted.delete(env.seq)) {
        // Never delivered: it may carry the windows waiting now.
        out = this.#remember(c, env, c.pending.splice(0, c.pending.length), upstreamUp);
      } else {
        out = this.#rewrite(env, c, []); // acknowledged before: the cloud has it and deduplicates this
      }
      this.stats.sentEnvelopeBytes += out.length;
      return out;
    }
    if (env.epoch !== c.epoch) { c.epoch = env.epoch; c.sent.clear(); c.seen.clear(); c.evicted.clear(); c.seenBelow = 0; }
    c.seen.add(env.seq);
    if (c.seen.size > seenSeqsMax) {
      let low = env.seq;
      for (const q of c.seen) if (q < low) low = q;
      c.seen.delete(low);
      c.seenBelow = low + 1;
    }
    c.channels = env.telemetry!.channels;
    const wanted = this.#aggregate!.channels;
    for (const col of points.columns) {
      if (wanted.length > 0 && wanted.indexOf(col.name) < 0) continue;
      for (let i = 0; i < points.t.length; i++) if (windows.add(childId, col.name, points.t[i]!, col.v[i]!) === "ok") this.stats.aggregatedPoints++;
    }
    this.#collect(windows);
    const out = this.#remember(c, env, c.pending.splice(0, c.pending.length), upstreamUp);
    this.stats.sentEnvelopeBytes += out.length;
    return out;
  }

  /** Rewrites the envelope with these windows and keeps it for resends (bounded; see ChildAgg.evicted). */
  #remember(c: ChildAgg, env: Envelope, windows: WindowResult[], published: boolean): Uint8Array {
    if (c.sent.size >= resendCacheMax) {
      // Evict what the broker has (most likely applied), else what never went up (its windows ride again), else the oldest.
      let victim: number | undefined;
      for (const [q, e] of c.sent) if (e.acked) { victim = q; break; }
      if (victim === undefined) for (const [q, e] of c.sent) if (!e.published) { victim = q; break; }
      if (victim === undefined || c.sent.get(victim)!.published) {
        victim ??= c.sent.keys().next().value as number;
      } else {
        const e = c.sent.get(victim)!;
        c.pending = e.windows.concat(c.pending);
        if (c.evicted.size >= seenSeqsMax) c.evicted.delete(c.evicted.values().next().value as number);
        c.evicted.add(victim);
      }
      c.sent.delete(victim);
    }
    const bytes = this.#rewrite(env, c, windows);
    c.sent.set(env.seq, { bytes, windows, published, acked: false });
    return bytes;
  }

  /** The broker acknowledged what was forwarded for (child, seq): the first to go when the cache is full. */
  acked(childId: string, seq: number): void {
    const e = this.#children.get(childId)?.sent.get(seq);
    if (e !== undefined) e.acked = true;
  }

  /** The cloud's receipt for a child (relayed by the gateway): what it confirmed or rejected will not be resent. */
  receipt(childId: string, epoch: number, ranges: readonly { first: number; last: number }[]): void {
    const c = this.#children.get(childId);
    if (c === undefined || epoch !== c.epoch) return;
    for (const q of [...c.sent.keys()]) for (const r of ranges) if (q >= r.first && q <= r.last) { c.sent.delete(q); break; }
  }

  /** Alerts raised per rules job since the last call (the gateway counts them upstream). */
  takeRaised(): Array<[string, number]> {
    const out = [...this.#raised.entries()];
    this.#raised.clear();
    return out;
  }

  /** Local commands the rules want sent (only produced while the upstream was down). */
  takeLocalCommands(): LocalCommand[] {
    return this.#actions.splice(0, this.#actions.length);
  }

  #child(childId: string, env: Envelope): ChildAgg | undefined {
    let c = this.#children.get(childId);
    if (c === undefined) {
      if (this.#children.size >= childrenTracked) return undefined;
      c = { epoch: env.epoch, seen: new Set(), seenBelow: 0, channels: [], pending: [], sent: new Map(), evicted: new Set() };
      this.#children.set(childId, c);
    }
    return c;
  }

  #collect(windows: WindowOperator): void {
    for (const r of windows.drain()) {
      if (!r.final) continue; // lateness 0: the final record is the whole window
      const c = this.#children.get(r.key);
      if (c === undefined) continue;
      if (c.pending.length >= pendingWindowsMax) { c.pending.shift(); this.stats.windowsDropped++; }
      c.pending.push(r);
    }
  }

  /** The child's envelope with its batch replaced by these closed windows (rows by window start). */
  #rewrite(env: Envelope, c: ChildAgg, closed: readonly WindowResult[]): Uint8Array {
    const sources: string[] = [];
    for (const r of closed) {
      if (sources.indexOf(r.channel) >= 0) continue;
      if (sources.length < batchSourceChannelsMax) sources.push(r.channel);
      else this.stats.windowsDropped++; // more channels than one batch carries (an aggregate job without ch= on a wide sensor)
    }
    sources.sort();
    const starts: number[] = [];
    for (const r of closed) if (starts.indexOf(r.start) < 0) starts.push(r.start);
    starts.sort((a, b) => a - b);
    const cols: number[][] = [];
    for (let i = 0; i < sources.length * 4; i++) cols.push([]);
    const rows: number[] = [];
    for (const s of starts) {
      const row: (WindowResult | undefined)[] = sources.map((ch) => closed.find((r) => r.start === s && r.channel === ch));
      if (row.some((r) => r === undefined)) { this.stats.windowsDropped += row.filter((r) => r !== undefined).length; continue; }
      rows.push(s);
      row.forEach((r, k) => {
        cols[k * 4]!.push(r!.count);
        cols[k * 4 + 1]!.push(r!.min);
        cols[k * 4 + 2]!.push(r!.max);
        cols[k * 4 + 3]!.push(r!.mean);
      });
      this.stats.windowsSent += sources.length;
    }
    const infos: ChannelInfo[] = [];
    const resolutions: number[] = [];
    for (const ch of sources) {
      const src = c.channels.find((x) => x.name === ch);
      const res = src !== undefined && src.resolution > 0 ? src.resolution : 0.001;
      const unit = src?.unit ?? "";
      for (let k = 0; k < 4; k++) {
        infos.push({ name: ch + aggregateSuffixes[k], unit: k === 0 ? "" : unit, resolution: k === 0 ? 1 : res });
        resolutions.push(k === 0 ? 1 : res);
      }
    }
    const payload = rows.length === 0 ? encodeBatch({ t0Ms: 0, timestampsMs: [], channels: [] }, { pointsMax: 1 })
      : encodeBatch({ t0Ms: rows[0]!, timestampsMs: rows, channels: cols.map((v, i) => ({ values: v, resolution: resolutions[i]! })) }, { pointsMax: rows.length });
    const tb = env.telemetry!;
    const telemetry = createTelemetryBatch({
      batchSeq: tb.batchSeq, channels: rows.length === 0 ? [] : infos, encoding: Encoding.ENCODING_XSF_TS1, payload, pointCount: rows.length,
      firstTimeMs: rows.length === 0 ? 0 : rows[0]!, lastTimeMs: rows.length === 0 ? 0 : rows[rows.length - 1]!,
    });
    this.stats.sentPayloadBytes += payload.length;
    return encodeEnvelope({ ...env, telemetry });
  }

  #rulePoints(childId: string, points: { t: readonly number[]; columns: { name: string; v: readonly number[] }[] }, upstreamUp: boolean): void {
    const engine = this.#engine;
    if (engine === undefined) return;
    for (const col of points.columns) {
      for (let i = 0; i < points.t.length; i++) {
        engine.onPoint(childId, col.name, points.t[i]!, col.v[i]!);
        this.stats.rulePoints++;
      }
    }
    for (const tr of engine.drain()) {
      if (tr.state !== "raised") continue;
      this.stats.alertsRaised++;
      this.#raised.set(tr.ruleId, (this.#raised.get(tr.ruleId) ?? 0) + 1);
      if (upstreamUp) continue; // the cloud is reachable: it decides (and sees the data)
      for (const a of tr.actions) {
        if (a.kind !== "command" || this.#actions.length >= localActionsMax) continue;
        const commandId = `edge-${tr.ruleId}-${tr.key}-${tr.episode}`.slice(0, 64);
        const envelope = encodeEnvelope(createEnvelope({
          schemaVersion, deviceId: a.device, seq: ++this.#commandSeq, deviceTimeMs: Math.floor(tr.t),
          command: createCommand({ commandId, name: a.command, argsJson: JSON.stringify(a.args ?? {}), issuedMs: Math.floor(tr.t), deadlineMs: 0, attempt: 1 }),
        }));
        this.#actions.push({ deviceId: a.device, envelope });
        this.stats.localCommands++;
      }
    }
  }
}

function ruleKey(r: RulesJob): string {
  return `${r.id};${r.channel};${r.op};${r.threshold};${r.actuator};${r.value}`;
}

/** A rules job as a stream-core rule: a threshold on one channel of every child, an optional set command on raise. */
function ruleDef(r: RulesJob): RuleDef {
  return {
    id: r.id,
    match: { channel: r.channel },
    when: r.op === "gt" ? { kind: "threshold", above: r.threshold } : { kind: "threshold", below: r.threshold },
    ...(r.actuator !== "" ? { actions: [{ kind: "command", device: r.actuator, command: "set", args: { value: r.value }, on: "raise" }] } : {}),
  };
}
