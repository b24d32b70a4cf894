// The device runtime: wires identity, the MQTT session, the outbox, sampling
// and batching, heartbeats, counters, commands and the shadow (its
// configuration: shared/device-config.ts) for one
// sensor or actuator node. Everything it touches comes through `Platform`,
// so the same code runs on the ESP32 and in mcsim (firmware/boot.ts), on Node
// (firmware/host/) and in the deterministic simulator (firmware/sim/).
//
// Socket callbacks do no real work: downlinks (commands, config, receipts)
// wait in a bounded queue for the next timer turn; delivery.ts does the same
// for PUBACKs. An outbox message leaves only on a receipt (docs/delivery.md).
import {
  AckStatus,
  Presence,
  createChannelInfo,
  createCounterState,
  createEnvelope,
  createHeartbeat,
  createHello,
  createLocation,
  createResources,
  createStatus,
  createTelemetryBatch,
  decodeEnvelope,
  encodeEnvelope,
  schemaVersion,
  type ChannelInfo,
  type Envelope,
} from "../../shared/proto/xsfleet.gen";
import { Downlink, Uplink, deviceTopic } from "../../shared/topics";
import type { Platform, TimerId } from "../platform";
import { LogLevel } from "../platform";
import { Batcher } from "./batcher";
import { CommandOutcome, CommandProcessor, type CommandHandler } from "./commands";
import { CounterName, DeviceCounters } from "./counters";
import { type Cadence, applyCadenceField, cadenceFields, checkConfigField, isCadenceField } from "../../shared/device-config";
import { fieldsFromWire } from "../../shared/clock/dvv-wire";
import { ShadowReplica, deltaFromSets, type ShadowDeltaField } from "./shadow";
import { DeviceRole, deviceRoleToWire } from "../../shared/device-role";
import { Delivery, type DeliveryEvent } from "./delivery";
import { deviceOptions, type DeviceOptions, type DeviceOptionsInit } from "./options";
import { MessageClass, Outbox } from "./outbox";
import { decodeReceiptEnvelope } from "./receipts";
import { PersistentSequence } from "./sequence";
import { MqttSession, SessionState } from "./session";
import { childTraceparent, isTraceparent, newTraceparent } from "./trace-context";
import { telemetryEncoding } from "./telemetry-codec";

/** Uplink kinds by outbox kind index (one byte in each outbox record). */
const kindTable: readonly Uplink[] = Object.freeze([Uplink.Hello, Uplink.Heartbeat, Uplink.Telemetry, Uplink.Counters, Uplink.CommandAck, Uplink.Status]);
const KindIndex = Object.freeze({ Hello: 0, Heartbeat: 1, Telemetry: 2, Counters: 3, CommandAck: 4, Status: 5 } as const);

/** Readings taken per sample tick at most (a replayed trace can burst). */
export const samplesPerTickMax = 1024;
/** Downlink payloads above this are refused before decoding. */
export const downlinkBytesMax = 8 * 1024;
/** Downlinks waiting for the next turn; more are dropped, counted (QoS 0: the cloud retries). */
export const downlinkQueueMax = 16;

export const RuntimeState = Object.freeze({ Created: 0, Running: 1, Stopped: 2 } as const);
export type RuntimeState = (typeof RuntimeState)[keyof typeof RuntimeState];

export type RuntimeEvent =
  | { type: "connected"; url: string }
  | { type: "disconnected"; wasConnected: boolean }
  | DeliveryEvent
  | { type: "command"; commandId: string; name: string; outcome: CommandOutcome; status: AckStatus }
  /** A shadow delta was taken: `applied` fields changed (removals included), `rejected` failed checkConfigField;
   *  `settingsChanged`: a setting changed, parts reading `settings()` (the gateway) read them again. */
  | { type: "config"; applied: string[]; rejected: string[]; settingsChanged: boolean };

/** One setting of the device's configuration (a single-valued string field of its shadow). */
export interface ConfigSetting {
  key: string;
  value: string;
}

export interface RuntimeStats {
  deviceId: string;
  state: RuntimeState;
  connected: boolean;
  sessionState: SessionState;
  connects: number;
  connectAttempts: number;
  /** Wait chosen before the current/last reconnect attempt, ms. */
  lastBackoffMs: number;
  /** Envelopes handed to the MQTT client (QoS 1 incl. resends). */
  published: number;
  /** PUBACKs for outbox messages (flow control: nothing leaves on them). */
  acked: number;
  /** Outbox messages a receipt confirmed / rejected (dead-lettered): gone from the device. */
  confirmed: number;
  receiptRejected: number;
  /** Outbox messages published again (no receipt in time, or a reconnect). */
  retransmits: number;
  outboxDepth: number;
  outboxInflight: number;
  /** PUBACKed, waiting for a receipt. */
  outboxSent: number;
  outboxBytes: number;
  /** Outbox drops plus rejections. */
  dropped: number;
  samples: number;
  batches: number;
  /** Telemetry points in the batches made (what ingest's point counter should reach). */
  points: number;
  heartbeats: number;
  nextSeq: number;
  epoch: number;
  /** The settled_below the next envelope carries. */
  settledBelow: number;
  counters: Record<string, number>;
}

/** Storage key of the versioned desired config of firmware before the shadow (removed at boot). */
const legacyConfigKey = "cfg";

export class DeviceRuntime {
  readonly options: DeviceOptions;
  readonly #p: Platform;
  readonly #topics: readonly string[];
  readonly #seq: PersistentSequence;
  readonly #batchSeq: PersistentSequence;
  readonly #counters: DeviceCounters;
  readonly #outbox: Outbox;
  readonly #delivery: Delivery;
  readonly #commands: CommandProcessor;
  /** The reported shadow document (docs/shadow.md): the device's configuration; deltas in, reports on heartbeats. */
  readonly #shadow: ShadowReplica;
  readonly #session: MqttSession;
  readonly #batcher: Batcher | undefined;
  readonly #channels: ChannelInfo[];
  readonly #values: Float64Array;
  readonly #cadence: Cadence;
  /** The built-in cadence (options): what a deleted cadence field goes back to. */
  readonly #defaults: Readonly<Cadence>;
  readonly #observer: ((e: RuntimeEvent) => void) | undefined;
  #state: RuntimeState = RuntimeState.Created;
  #heartbeatTimer: TimerId | undefined;
  #sampleTimer: TimerId | undefined;
  #downlinkTimer: TimerId | undefined;
  readonly #downlinks: Array<{ kind: Downlink; payload: Uint8Array }> = [];
  #heartbeatSeq = 0;
  #published = 0;
  #samples = 0;
  #points = 0;
  #batches = 0;
  /** The actuator's output state, set by the "set" command. */
  #actuatorValue = 0;

  constructor(platform: Platform, init: DeviceOptionsInit, observer?: (e: RuntimeEvent) => void) {
    const o = deviceOptions(init);
    this.options = o;
    this.#p = platform;
    this.#observer = observer;
    this.#topics = kindTable.map((k) => deviceTopic(o.deviceId, k));
    const st = platform.storage;
    this.#seq = new PersistentSequence(st, "seq", o.seqBlock, platform.random);
    this.#batchSeq = new PersistentSequence(st, "bseq", o.seqBlock);
    this.#counters = new DeviceCounters(st, o.deviceId);
    this.#outbox = new Outbox(st, o.outbox, platform.random);
    this.#commands = new CommandProcessor(st, { ...this.#builtinCommands(), ...o.commandHandlers });
    this.#shadow = new ShadowReplica(undefined, undefined, st);
    this.#defaults = Object.freeze({ heartbeatIntervalMs: o.heartbeatIntervalMs, sampleIntervalMs: o.sampleIntervalMs, batchPointsMax: o.batchPointsMax });
    this.#cadence = { ...this.#defaults };
    this.#restoreCadence();
    this.#actuatorValue = readActuatorValue(st.read(actuatorKey));
    const sensor = platform.sensor;
    if (o.role === DeviceRole.Sensor && sensor === undefined) throw new Error("a sensor node needs platform.sensor");
    this.#batcher = sensor !== undefined ? new Batcher(sensor.channels, this.#cadence.batchPointsMax) : undefined;
    this.#channels = sensor !== undefined ? sensor.channels.map((c) => createChannelInfo({ name: c.name, unit: c.unit, resolution: c.resolution })) : [];
    this.#values = new Float64Array(sensor !== undefined ? sensor.channels.length : 0);
    this.#session = new MqttSession(platform, {
      deviceId: o.deviceId, brokerUrls: o.brokerUrls, keepaliveS: o.keepaliveS, connectTimeoutMs: o.connectTimeoutMs, backoff: o.backoff,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
    }, {
      connected: () => this.#onConnected(),
      disconnected: (was) => this.#onDisconnected(was),
      message: (kind, payload) => this.#queueDownlink(kind, payload),
      will: () => this.#encode({ status: createStatus({ presence: Presence.PRESENCE_OFFLINE, reason: "connection lost" }) }),
    });
    this.#delivery = new Delivery({
      platform, session: this.#session, outbox: this.#outbox, seq: this.#seq, counters: this.#counters, topics: this.#topics, kinds: kindTable, emit: observer,
    });
    if (this.#seq.epochCreated) this.#delivery.restamp();
  }

  get state(): RuntimeState {
    return this.#state;
  }

  get cadence(): Readonly<Cadence> {
    return this.#cadence;
  }

  /** The settings of the device's configuration: its shadow's single-valued
   *  string fields other than the cadence (`children`, `job.<id>`, …), by key. */
  settings(): ConfigSetting[] {
    const out: ConfigSetting[] = [];
    for (const key of this.#shadow.names()) {
      if (isCadenceField(key)) continue;
      const text = this.#shadow.value(key);
      if (text === undefined) continue;
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        continue;
      }
      if (typeof v === "string") out.push({ key, value: v });
    }
    return out;
  }

  /** This device's reported value of one shadow field (canonical JSON text), if it holds exactly one. */
  shadowValue(field: string): string | undefined {
    return this.#shadow.value(field);
  }

  get actuatorValue(): number {
    return this.#actuatorValue;
  }

  start(): void {
    if (this.#state !== RuntimeState.Created) throw new Error("runtime already started");
    this.#state = RuntimeState.Running;
    this.#driveActuator(this.#actuatorValue); // the output comes back as last commanded
    this.#counters.increment(CounterName.Boots);
    this.#counters.flush();
    this.#armHeartbeat();
    this.#armSampling();
    this.#session.start();
  }

  /** Clean shutdown: flush, publish retained OFFLINE, wait for inflight, disconnect. */
  stop(done?: () => void): void {
    if (this.#state !== RuntimeState.Running) {
      if (done) done();
      return;
    }
    this.#flushBatch();
    if (this.#session.connected) {
      this.#delivery.pump(); // what fits the inflight window goes out before the DISCONNECT; the rest stays stored
      this.#publishDirect(KindIndex.Status, { status: createStatus({ presence: Presence.PRESENCE_OFFLINE, reason: "shutdown" }) }, true);
    }
    this.#halt(true);
    this.#session.stop(true, done);
  }

  /** Power loss: nothing is flushed, no DISCONNECT, the broker publishes the will. */
  crash(): void {
    if (this.#state !== RuntimeState.Running) return;
    this.#halt(false); // power loss: whatever was not persisted is gone
    this.#session.stop(false);
  }

  /** Drops the connection abruptly and keeps the device offline until `restoreNetwork`. */
  cutNetwork(): void {
    this.#session.cutNetwork();
  }

  restoreNetwork(): void {
    this.#session.unblock();
  }

  /** Publishes the full CounterState now (also done on every connect). */
  publishCounters(): void {
    // Persist before send: the cloud never sees a count the device could
    // lose in a crash (a G-Counter replica must not go backwards).
    this.#counters.flush();
    const own = this.#counters.state();
    const extra = this.options.extraCounters?.();
    const counters = extra === undefined || extra.length === 0 ? own : createCounterState({ counters: [...own.counters, ...extra] });
    this.#publishDirect(KindIndex.Counters, { counters }, false);
  }

  stats(): RuntimeStats {
    const ob = this.#outbox.stats();
    const ss = this.#session.stats();
    return {
      deviceId: this.options.deviceId, state: this.#state, connected: this.#session.connected, sessionState: ss.state,
      connects: ss.connects, connectAttempts: ss.attempts, lastBackoffMs: ss.lastBackoffMs, published: this.#published + this.#delivery.published,
      acked: ob.acked, confirmed: ob.receiptConfirmed, receiptRejected: ob.receiptRejected, retransmits: ob.retransmits,
      outboxDepth: ob.depth, outboxInflight: ob.inflight, outboxSent: ob.sent, outboxBytes: ob.bytes, dropped: ob.dropped + ob.rejected,
      samples: this.#samples, batches: this.#batches, points: this.#points, heartbeats: this.#heartbeatSeq, nextSeq: this.#seq.peek(),
      epoch: this.#seq.epoch, settledBelow: this.#delivery.settledBelow(this.#seq.peek()),
      counters: this.#counters.values(),
    };
  }

  // ---- lifecycle ----

  #halt(flush: boolean): void {
    this.#state = RuntimeState.Stopped;
    const t = this.#p.timers;
    if (this.#heartbeatTimer !== undefined) t.clear(this.#heartbeatTimer);
    if (this.#sampleTimer !== undefined) t.clear(this.#sampleTimer);
    if (this.#downlinkTimer !== undefined) t.clear(this.#downlinkTimer);
    this.#heartbeatTimer = this.#sampleTimer = this.#downlinkTimer = undefined;
    this.#delivery.halt();
    this.#downlinks.length = 0;
    if (flush) this.#counters.flush();
  }

  #armHeartbeat(): void {
    if (this.#heartbeatTimer !== undefined) this.#p.timers.clear(this.#heartbeatTimer);
    this.#heartbeatTimer = this.#p.timers.repeat(() => this.#onHeartbeatTick(), this.#cadence.heartbeatIntervalMs);
  }

  #armSampling(): void {
    if (this.#batcher === undefined) return;
    if (this.#sampleTimer !== undefined) this.#p.timers.clear(this.#sampleTimer);
    this.#sampleTimer = this.#p.timers.repeat(() => this.#onSampleTick(), this.#cadence.sampleIntervalMs);
  }

  // ---- session events ----

  #onConnected(): void {
    const c = this.#counters;
    c.increment(CounterName.Connects);
    if (this.#session.stats().connects > 1) c.increment(CounterName.Reconnects); // within this boot
    this.#emit({ type: "connected", url: this.#session.stats().url });
    this.#publishDirect(KindIndex.Status, { status: createStatus({ presence: Presence.PRESENCE_ONLINE, reason: "" }) }, true);
    this.#publishDirect(KindIndex.Hello, { hello: this.#hello() }, false);
    this.publishCounters();
    this.#delivery.schedulePump();
  }

  #onDisconnected(wasConnected: boolean): void {
    if (!wasConnected) this.#counters.increment(CounterName.ConnectFailures);
    this.#delivery.disconnected();
    this.#emit({ type: "disconnected", wasConnected });
  }

  /** Socket callback: only queue; the work happens on the next timer turn. */
  #queueDownlink(kind: Downlink, payload: Uint8Array): void {
    if (this.#downlinks.length >= downlinkQueueMax || payload.length > downlinkBytesMax) {
      this.#counters.increment(CounterName.DownlinksDropped);
      return;
    }
    this.#downlinks.push({ kind, payload });
    if (this.#downlinkTimer === undefined && this.#state === RuntimeState.Running) {
      this.#downlinkTimer = this.#p.timers.set(() => this.#drainDownlinks(), 0);
    }
  }

  #drainDownlinks(): void {
    this.#downlinkTimer = undefined;
    const queue = this.#downlinks;
    while (queue.length > 0 && this.#state === RuntimeState.Running) {
      const d = queue.shift()!;
      this.#onDownlink(d.kind, d.payload);
    }
  }

  #onDownlink(kind: Downlink, payload: Uint8Array): void {
    const receipt = kind === Downlink.Receipt;
    const bad = receipt ? CounterName.ReceiptsBad : CounterName.BadMessages;
    let env: Envelope;
    try {
      if (payload.length > downlinkBytesMax) throw new Error(`downlink of ${payload.length} bytes`);
      env = receipt ? decodeReceiptEnvelope(payload) : decodeEnvelope(payload);
    } catch (e) {
      this.#counters.increment(bad);
      this.#p.log(LogLevel.Warn, `bad ${kind} message: ${String(e)}`);
      return;
    }
    if (kind === Downlink.Command && env.command !== undefined) this.#onCommand(env);
    else if (kind === Downlink.Config && env.config !== undefined) this.#onConfig(env);
    else if (receipt && env.receipt !== undefined) this.#delivery.receipt(env.receipt);
    else this.#counters.increment(bad);
  }

  #onCommand(env: Envelope): void {
    const cmd = env.command!;
    const d = this.#commands.handle(cmd, this.#p.clock.wallMs());
    const c = this.#counters;
    if (d.outcome === CommandOutcome.Executed) c.increment(CounterName.CommandsExecuted);
    else if (d.outcome === CommandOutcome.Duplicate) c.increment(CounterName.CommandsDuplicate);
    else if (d.outcome === CommandOutcome.Expired) c.increment(CounterName.CommandsExpired);
    else c.increment(CounterName.CommandsRejected);
    // Commands are rare and their counts matter: persist now rather than at the next heartbeat.
    c.flush();
    this.#emit({ type: "command", commandId: cmd.commandId, name: cmd.name, outcome: d.outcome, status: d.ack.status });
    const seq = this.#seq.take();
    // The ack continues the command's trace: a child traceparent, and the command's tracestate and baggage (W3C) when it had a valid one.
    const trace = isTraceparent(env.traceparent) ? { tracestate: env.tracestate, baggage: env.baggage } : {};
    const bytes = encodeEnvelope(this.#envelope(seq, { commandAck: d.ack, ...trace }, childTraceparent(env.traceparent, this.#p.random)));
    this.#delivery.enqueue(seq, KindIndex.CommandAck, MessageClass.Ack, bytes);
  }

  /** A shadow delta (DesiredConfig.shadow_delta): each field checked as
   *  configuration (shared/device-config.ts); valid ones applied, then
   *  reported by the replica; a DesiredConfig without a delta is ignored
   *  (the linear desired config of old clouds is gone). */
  #onConfig(env: Envelope): void {
    const wire = env.config!.shadowDelta;
    if (wire === undefined) return;
    let delta: Record<string, ShadowDeltaField>;
    try {
      delta = deltaFromSets(fieldsFromWire(wire.fields));
    } catch (e) {
      this.#counters.increment(CounterName.ConfigsRejected);
      this.#p.log(LogLevel.Warn, `shadow delta refused: ${String(e)}`);
      return;
    }
    const valid: Record<string, ShadowDeltaField> = {};
    const rejected: string[] = [];
    for (const f of Object.keys(delta)) {
      const text = delta[f]!.valueText;
      const bad = text === null ? undefined : checkConfigField(f, text);
      if (bad === undefined) {
        valid[f] = delta[f]!;
        continue;
      }
      rejected.push(f);
      this.#counters.increment(CounterName.ConfigsRejected);
      this.#p.log(LogLevel.Warn, `config field refused: ${bad}`);
    }
    // A new field past the replica's fieldsMax is not taken (refused like an invalid one; the next delta offers it again).
    const full: string[] = [];
    const applied = this.#shadow.applyDelta(valid, full);
    for (const f of full) {
      rejected.push(f);
      this.#counters.increment(CounterName.ConfigsRejected);
      this.#p.log(LogLevel.Warn, `config field refused: ${f}: the shadow holds its maximum of fields`);
    }
    const before = { ...this.#cadence };
    let settingsChanged = false;
    for (const f of applied) {
      if (isCadenceField(f)) applyCadenceField(this.#cadence, this.#defaults, f, valid[f]!.valueText ?? undefined);
      else settingsChanged = true;
    }
    if (applied.length > 0) this.#counters.increment(CounterName.ConfigsApplied, applied.length);
    this.#cadenceChanged(before);
    this.#emit({ type: "config", applied, rejected, settingsChanged });
  }

  /** At boot: the cadence the replica reported last (it persists under "shd"). */
  #restoreCadence(): void {
    // Firmware before the shadow kept a versioned config under this key; nothing reads it now: free the flash.
    if (this.#p.storage.read(legacyConfigKey) !== undefined) this.#p.storage.remove(legacyConfigKey);
    for (const f of cadenceFields) {
      const text = this.#shadow.value(f);
      if (text !== undefined && checkConfigField(f, text) === undefined) applyCadenceField(this.#cadence, this.#defaults, f, text);
    }
  }

  /** Timers and the batcher follow a changed cadence (re-armed only when their part changed). */
  #cadenceChanged(before: Readonly<Cadence>): void {
    if (before.heartbeatIntervalMs !== this.#cadence.heartbeatIntervalMs) this.#armHeartbeat();
    if (before.sampleIntervalMs !== this.#cadence.sampleIntervalMs) this.#armSampling();
    if (this.#batcher !== undefined && before.batchPointsMax !== this.#cadence.batchPointsMax) {
      this.#batcher.setPointsMax(this.#cadence.batchPointsMax);
      if (this.#batcher.full()) this.#flushBatch();
    }
  }

  // ---- periodic work ----

  #onHeartbeatTick(): void {
    this.#counters.flush();
    if (!this.#session.connected) return;
    const ob = this.#outbox.stats();
    const r = this.#p.resources;
    const hb = createHeartbeat({
      heartbeatSeq: ++this.#heartbeatSeq, uptimeMs: Math.floor(this.#p.clock.uptimeMs()), freeHeapBytes: r.freeHeapBytes(),
      rssiDbm: r.rssiDbm(), counterDigest: this.#counters.digest(), outboxDepth: ob.depth, outboxDropped: ob.dropped + ob.rejected,
      cpuLoadCentiPct: r.cpuLoadCentiPct(),
    });
    const shadowReport = this.#shadow.heartbeatReport();
    this.#publishDirect(KindIndex.Heartbeat, shadowReport ? { heartbeat: hb, shadowReport } : { heartbeat: hb }, false);
  }

  #onSampleTick(): void {
    const batcher = this.#batcher!;
    const sensor = this.#p.sensor!;
    const now = this.#p.clock.wallMs();
    const up = this.#p.clock.uptimeMs();
    const values = this.#values;
    let taken = 0;
    let dropped = 0;
    for (let n = 0; n < samplesPerTickMax; n++) {
      const t = sensor.next(now, values);
      if (t < 0) break;
      taken++;
      if (!batcher.add(t, values, up)) dropped++;
      else if (batcher.full()) this.#flushBatch();
    }
    this.#samples += taken;
    this.#counters.increment(CounterName.SamplesTaken, taken);
    this.#counters.increment(CounterName.SamplesDropped, dropped);
    if (batcher.old(up, this.options.batchAgeMaxMs)) this.#flushBatch();
  }

  #flushBatch(): void {
    const b = this.#batcher?.flush();
    if (b === undefined) return;
    this.#batches++;
    this.#points += b.pointCount;
    const telemetry = createTelemetryBatch({
      batchSeq: this.#batchSeq.take(), channels: this.#channels, encoding: telemetryEncoding, payload: b.payload,
      pointCount: b.pointCount, firstTimeMs: b.firstTimeMs, lastTimeMs: b.lastTimeMs,
    });
    const seq = this.#seq.take();
    this.#delivery.enqueue(seq, KindIndex.Telemetry, MessageClass.Telemetry, encodeEnvelope(this.#envelope(seq, { telemetry })));
  }

  // ---- sending ----

  /** Live messages (status, hello, heartbeat, counters): QoS 1, not stored, only while connected. */
  #publishDirect(kind: number, body: Partial<Envelope>, retain: boolean): void {
    if (!this.#session.connected) return;
    const seq = this.#seq.take();
    const bytes = encodeEnvelope(this.#envelope(seq, body));
    this.#session.publish(this.#topics[kind]!, bytes, 1, retain);
    this.#published++;
    this.#counters.increment(CounterName.MessagesSent);
    this.#emit({ type: "published", kind: kindTable[kind]!, seq, bytes: bytes.length });
  }

  #encode(body: Partial<Envelope>): Uint8Array {
    return encodeEnvelope(this.#envelope(this.#seq.take(), body));
  }

  #envelope(seq: number, body: Partial<Envelope>, traceparent?: string): Envelope {
    return createEnvelope({
      ...body, schemaVersion, deviceId: this.options.deviceId, seq, deviceTimeMs: Math.floor(this.#p.clock.wallMs()),
      traceparent: traceparent ?? newTraceparent(this.#p.random),
      epoch: this.#seq.epoch, settledBelow: this.#delivery.settledBelow(seq),
    });
  }

  #hello() {
    const o = this.options;
    const r = this.#p.resources;
    const sensor = o.role === DeviceRole.Sensor;
    const commandNames = Object.keys({ ...this.#builtinCommands(), ...o.commandHandlers }).sort();
    return createHello({
      role: deviceRoleToWire(o.role),
      capabilities: [...roleCapabilities(o.role), "counters", "commands", "config", ...commandNames.map((n) => "cmd:" + n)],
      resources: createResources({ freeHeapBytes: r.freeHeapBytes(), flashTotalBytes: r.flashTotalBytes(), flashFreeBytes: r.flashFreeBytes(), cpuMhz: r.cpuMhz() }),
      ...(o.location !== undefined ? { location: createLocation(o.location) } : {}),
      firmwareVersion: o.firmwareVersion,
      bootCount: this.#counters.value(CounterName.Boots),
      channels: this.#channels,
      heartbeatIntervalMs: this.#cadence.heartbeatIntervalMs,
    });
  }

  #builtinCommands(): Record<string, CommandHandler> {
    const handlers: Record<string, CommandHandler> = {
      ping: () => ({ status: AckStatus.ACK_STATUS_OK, resultJson: "{\"pong\":true}" }),
      "sync-counters": () => {
        // Next turn, so the state includes this command's own counting.
        this.#p.timers.set(() => this.publishCounters(), 0);
        return { status: AckStatus.ACK_STATUS_OK };
      },
    };
    if (this.options?.role === DeviceRole.Actuator) {
      handlers.set = (argsJson) => {
        const args = JSON.parse(argsJson.length > 0 ? argsJson : "{}") as { value?: unknown; on?: unknown };
        const v = typeof args.value === "number" ? args.value : typeof args.on === "boolean" ? (args.on ? 1 : 0) : NaN;
        if (!Number.isFinite(v)) return { status: AckStatus.ACK_STATUS_REJECTED, message: "set needs {\"value\": number} or {\"on\": boolean}" };
        // Driven, then persisted before the ack: after a power cycle the output
        // comes back as commanded, and a retried command id (not re-executed)
        // finds it already applied. An output that refuses the value throws: FAILED.
        this.#p.actuator?.write(v);
        this.#p.storage.write(actuatorKey, writeActuatorValue(v));
        this.#actuatorValue = v;
        return { status: AckStatus.ACK_STATUS_OK, resultJson: JSON.stringify({ value: v }) };
      };
    }
    return handlers;
  }

  #driveActuator(v: number): void {
    try {
      this.#p.actuator?.write(v);
    } catch (e) {
      this.#p.log(LogLevel.Error, `actuator output refused ${v}: ${String(e)}`);
    }
  }

  #emit(e: RuntimeEvent): void {
    if (this.#observer !== undefined) this.#observer(e);
  }
}

const actuatorKey = "act";

/** What each role announces it can do; the edge scheduler places jobs by these (shared/edge-jobs.ts edgeJobCapability). */
const capabilitiesOfRole = Object.freeze({
  sensor: Object.freeze(["telemetry"]),
  actuator: Object.freeze(["actuate"]),
  gateway: Object.freeze(["relay", "aggregate"]),
  processing: Object.freeze(["relay", "aggregate", "rules"]),
} as const);

function roleCapabilities(role: DeviceRole): readonly string[] {
  return capabilitiesOfRole[role];
}

function writeActuatorValue(v: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return b;
}

function readActuatorValue(b: Uint8Array | undefined): number {
  if (b === undefined || b.length !== 8) return 0;
  return new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
}
