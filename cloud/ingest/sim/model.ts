// The simulated world around the ingest pipeline: a linearizable
// compare-and-set store, a publisher that drops a repeated Nats-Msg-Id
// (what JetStream's duplicate window does, with an unbounded window), a
// broker with one stream and a shared consumer (ack wait, nak, redelivery),
// and device messages built with the real codec and envelope. Every effect
// goes through the scheduler, and each may fail before or after it happens
// (a lost request, a lost reply), as the seed decides.

import { atResolution } from "../../../shared/codec";
import { encodeBatch } from "../../../shared/codec/batch";
import { createEnvelope, decodeEnvelope, encodeEnvelope, Encoding, type Receipt } from "../../../shared/proto/xsfleet.gen";
import { Uplink } from "../../../shared/topics";
import type { RandomSource } from "../../base";
import { emptyDeviceState, type LoadedState, type StoredDeviceState } from "../../state";
import { deviceSubject } from "../../subjects";
import type { EventOutput, TelemetryOutput } from "../apply";
import type { Delivery, OutputPort, StatePort } from "../pipeline";
import type { DeadLetter } from "../publisher";
import type { HistoryLayout } from "../settings";
import type { SimScheduler } from "./scheduler";

/** Probability that a store or publish effect fails, before or after it took place. */
export interface FaultRates {
  failBefore: number;
  failAfter: number;
}

export const noFaults: FaultRates = Object.freeze({ failBefore: 0, failAfter: 0 });

export class InjectedFault extends Error {
  override readonly name = "InjectedFault";
}

/** Runs `effect` as one scheduled operation that may fail before or after it. */
function faulty<T>(sched: SimScheduler, owner: string, random: RandomSource, faults: () => FaultRates, what: string, effect: () => T): Promise<T> {
  return sched.defer(owner, () => {
    const f = faults();
    if (random() < f.failBefore) throw new InjectedFault(`${what}: request lost`);
    const out = effect();
    if (random() < f.failAfter) throw new InjectedFault(`${what}: reply lost (the effect took place)`);
    return out;
  });
}

// ---- the device-state store: one value per key, revisions from one counter ----

export class ModelStateStore {
  readonly #values = new Map<string, { json: string; revision: number }>();
  #revision = 0;
  casConflicts = 0;

  /** What is stored now (for the checker). */
  stored(deviceId: string): StoredDeviceState | null {
    const v = this.#values.get(deviceId);
    return v ? (JSON.parse(v.json) as StoredDeviceState) : null;
  }

  deviceIds(): string[] {
    return [...this.#values.keys()].sort();
  }

  /** The port one node uses: every call is a scheduled, fallible operation. */
  port(sched: SimScheduler, owner: string, random: RandomSource, faults: () => FaultRates): StatePort {
    return {
      load: (deviceId) => faulty(sched, owner, random, faults, `load ${deviceId}`, (): LoadedState => {
        const v = this.#values.get(deviceId);
        return v ? { state: JSON.parse(v.json) as StoredDeviceState, revision: v.revision } : { state: emptyDeviceState(deviceId), revision: 0 };
      }),
      compareAndSet: (deviceId, state, revision) => faulty(sched, owner, random, faults, `cas ${deviceId}`, () => {
        const cur = this.#values.get(deviceId)?.revision ?? 0;
        if (cur !== revision) {
          this.casConflicts++;
          return null;
        }
        this.#values.set(deviceId, { json: JSON.stringify(state), revision: ++this.#revision });
        return this.#revision;
      }),
    };
  }
}

// ---- outputs: dedup by msg id, as the output streams do ----

/** (device, epoch, seq) of an output. */
export interface OutputRecord {
  deviceId: string;
  epoch: number;
  seq: number;
}

/** (device, epoch, seq) of a dead letter whose envelope still decodes. */
export interface DeadLetterRecord {
  deviceId: string;
  epoch: number | null;
  seq: number | null;
}

/** What reached the output streams: one entry per msg id (republishes dropped, and counted). */
export class ModelOutputs {
  readonly out = new Map<string, OutputRecord>();
  readonly history = new Map<string, OutputRecord>();
  readonly deadLetters = new Map<string, DeadLetterRecord>();
  republishesDropped = 0;
  receipts = 0;

  /** `onReceipt` gets every receipt the pipeline publishes (core NATS: the caller may lose it). */
  constructor(readonly onReceipt: (deviceId: string, r: Receipt) => void = () => {}) {}

  #store<T>(into: Map<string, T>, msgId: string, value: T): void {
    if (into.has(msgId)) this.republishesDropped++;
    else into.set(msgId, value);
  }

  port(sched: SimScheduler, owner: string, random: RandomSource, faults: () => FaultRates, historyLayout: () => HistoryLayout | null): OutputPort {
    const publish = <T>(into: Map<string, T>, msgId: string, value: T): Promise<unknown> =>
      faulty(sched, owner, random, faults, `publish ${msgId}`, () => this.#store(into, msgId, value));
    return {
      telemetry: (o: TelemetryOutput, history: HistoryLayout | null, outDurable: boolean) => {
        if (history !== historyLayout()) throw new Error("simulation: history layout differs from the configuration");
        const acks: Promise<unknown>[] = [];
        const rec: OutputRecord = { deviceId: o.deviceId, epoch: o.epoch, seq: o.seq };
        const key = `${o.deviceId}:${o.epoch}:${o.seq}`;
        if (history === "batch") acks.push(publish(this.history, `${key}:~batch`, rec));
        else if (history === "channel") for (const c of o.telemetry.channels) acks.push(publish(this.history, `${key}:${c.name}`, rec));
        if (outDurable) acks.push(publish(this.out, key, rec));
        return acks;
      },
      outCore: () => {
        throw new Error("simulation: runs with outDurable (a core-NATS out message lost in a crash is not redone)");
      },
      event: (_e: EventOutput) => {},
      deadLetter: (d: DeadLetter) => publish(this.deadLetters, `${d.stream}:${d.streamSeq}`, { deviceId: deviceOfSubject(d.subject), ...seqOf(d.data) }),
      receipt: (deviceId, r) => {
        this.receipts++;
        this.onReceipt(deviceId, r);
      },
    };
  }
}

function deviceOfSubject(subject: string): string {
  return subject.split(".")[3] ?? "";
}

/** The device epoch and seq of a dead letter, when its envelope still decodes. */
function seqOf(data: Uint8Array): { epoch: number | null; seq: number | null } {
  try {
    const env = decodeEnvelope(data);
    return { epoch: env.epoch, seq: env.seq };
  } catch {
    return { epoch: null, seq: null };
  }
}

// ---- the broker: one stream, one shared durable consumer ----

export const simStream = "XSF_UP";

interface Stored {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly streamSeq: number;
  readonly timeMs: number;
  acked: boolean;
  /** Not delivered before this time (ack wait after a delivery, nak delay). */
  notBeforeMs: number;
  deliveries: number;
}

export class ModelBroker {
  readonly #msgs: Stored[] = [];
  acks = 0;
  naks = 0;

  constructor(readonly ackWaitMs: number) {}

  publish(subject: string, data: Uint8Array, nowMs: number): number {
    const streamSeq = this.#msgs.length + 1;
    this.#msgs.push({ subject, data, streamSeq, timeMs: nowMs, acked: false, notBeforeMs: nowMs, deliveries: 0 });
    return streamSeq;
  }

  get unacked(): number {
    return this.#msgs.filter((m) => !m.acked).length;
  }

  /** The next deliverable messages in stream order, as deliveries owned by `owner`. */
  pull(sched: SimScheduler, owner: string, max: number): Delivery[] {
    const now = sched.nowMs;
    const ready = this.#msgs.filter((m) => !m.acked && m.notBeforeMs <= now).slice(0, max);
    const pending = this.#msgs.filter((m) => !m.acked).length;
    return ready.map((m) => {
      m.deliveries++;
      m.notBeforeMs = now + this.ackWaitMs;
      const delivery = m.deliveries;
      return {
        subject: m.subject, data: m.data, stream: simStream, streamSeq: m.streamSeq, timeMs: m.timeMs,
        redelivered: delivery > 1, deliveryCount: delivery, pending,
        // Acks and naks travel: a crash before they arrive loses them.
        ack: () => void sched.defer(owner, () => { m.acked = true; this.acks++; }),
        nak: (delayMs) => void sched.defer(owner, () => {
          if (m.acked || m.deliveries !== delivery) return;
          m.notBeforeMs = sched.nowMs + delayMs;
          this.naks++;
        }),
      };
    });
  }

  /** Earliest time an unacked message becomes deliverable again. */
  nextDeliverableMs(): number | undefined {
    let t: number | undefined;
    for (const m of this.#msgs) if (!m.acked && (t === undefined || m.notBeforeMs < t)) t = m.notBeforeMs;
    return t;
  }
}

// ---- device messages ----

export const simChannels = Object.freeze([
  { name: "temperature", unit: "C", resolution: 0.01 },
  { name: "humidity", unit: "%RH", resolution: 0.1 },
]);

/** A telemetry message of `deviceId` with `points` points; `corrupt` breaks its codec payload (it must be dead-lettered). */
export function telemetryMessage(deviceId: string, seq: number, points: number, corrupt: boolean, epoch = 0, settledBelow = 0): { subject: string; data: Uint8Array } {
  const ts = Array.from({ length: points }, (_, i) => 1_700_000_000_000 + seq * 10_000 + i * 10);
  let payload = encodeBatch({
    t0Ms: ts[0]!,
    timestampsMs: ts,
    channels: simChannels.map((ch, c) => ({ resolution: ch.resolution, values: ts.map((_, i) => atResolution(20 + c * 20 + ((seq * 7 + i) % 100) / 10, ch.resolution)) })),
  });
  if (corrupt) payload = payload.slice(0, Math.max(1, payload.length >> 1));
  const env = createEnvelope({
    schemaVersion: 1, deviceId, seq, epoch, settledBelow, deviceTimeMs: ts[points - 1]!,
    telemetry: {
      batchSeq: seq, channels: [...simChannels], encoding: Encoding.ENCODING_XSF_TS1, payload, pointCount: points,
      firstTimeMs: ts[0]!, lastTimeMs: ts[points - 1]!,
    },
  });
  return { subject: deviceSubject(deviceId, Uplink.Telemetry), data: encodeEnvelope(env) };
}
