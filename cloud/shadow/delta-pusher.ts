// Delivers shadow deltas to devices (docs/shadow.md, "Wire" and
// "Configuration"): the only publisher of the cfg downlink. On every change
// of a device's shadow (its `shadow` event: desired, and reported too, since
// a report may reopen a delta: a field deleted from the desired document
// that the device reports again) and whenever the device says Hello or
// comes online, it computes the delta (desired fields with one value the
// reported document does not hold, and desired deletions the reported
// document still holds) and publishes it on the device's cfg subject as
// `DesiredConfig{version: 0, shadow_delta}` (fields 1-5 are deprecated).
// Nothing is published when the delta is empty. Pushes are QoS 0 and idempotent (the delta is recomputed from
// the store each time), so a lost one is covered by the next change or
// Hello. One node handles each signal (queue group). Bounded: at most
// `inflightMax` pushes computed at once; signals beyond wait as a set of
// device ids (a device's signals coalesce: one push reads the store once
// and covers them all), in arrival order, at most `shadowPushPendingMax` devices;
// only beyond that is a signal dropped (counted). A device is never pushed
// twice at once (a signal for a device being pushed waits for it), so its
// pushes leave in the order their reads were made. A reconnect storm of
// 10,000 Hellos used to drop ~80 % of them (bench:fleet).
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { fieldsToWire } from "../../shared/clock/dvv-wire";
import { createDesiredConfig, createEnvelope, encodeEnvelope, schemaVersion } from "../../shared/proto/xsfleet.gen";
import { Downlink, Uplink, parseDeviceAddress } from "../../shared/topics";
import { normalizeTraceparent } from "../../shared/trace-context";
import { isOnlineSignal } from "../records";
import { DeviceEvent, allDevicesSubject, allRoutesOfUplinks, deviceEventSubject, deviceSubject } from "../subjects";
import { shadowDeltaSets } from "./document";
import type { ShadowStore } from "./store";
import { ShadowDoc, type ShadowEvent } from "./types";

export const shadowPushQueueGroup = "xsfleet-shadow-push";
const inflightMax = 64;
/** Devices waiting for a push (their latest traceparent each): a fleet's worth. */
export const shadowPushPendingMax = 100_000;

export interface ShadowPusherStats {
  pushed: number;
  empty: number;
  /** Signals for a device already waiting: folded into its one push. */
  coalesced: number;
  /** Signals refused because shadowPushPendingMax devices were waiting. */
  dropped: number;
  errors: number;
}

/** `traceparent`: the trace the push continues (the change's writer), "" for none. */
export function shadowDeltaEnvelope(deviceId: string, sets: Parameters<typeof fieldsToWire>[0], nowMs: number, traceparent = ""): Uint8Array {
  return encodeEnvelope(createEnvelope({
    schemaVersion, deviceId, deviceTimeMs: nowMs, traceparent,
    config: createDesiredConfig({ version: 0, shadowDelta: { fields: fieldsToWire(sets) } }),
  }));
}

export class ShadowDeltaPusher {
  readonly #nc: NatsConnection;
  readonly #store: ShadowStore;
  readonly #onError: (deviceId: string, e: unknown) => void;
  #subs: Subscription[] = [];
  #loops: Promise<void>[] = [];
  /** Devices being pushed now. */
  readonly #inflight = new Set<string>();
  /** Devices waiting, in arrival order, with the traceparent of their latest signal. */
  readonly #pending = new Map<string, string>();
  #stopping = false;
  #idle: (() => void) | null = null;
  readonly stats: ShadowPusherStats = { pushed: 0, empty: 0, coalesced: 0, dropped: 0, errors: 0 };

  constructor(nc: NatsConnection, store: ShadowStore, onError: (deviceId: string, e: unknown) => void = () => {}) {
    this.#nc = nc;
    this.#store = store;
    this.#onError = onError;
  }

  /** Computes and publishes the device's delta now; false when there is nothing to send. */
  async push(deviceId: string, traceparent = ""): Promise<boolean> {
    const [desired, reported] = await Promise.all([this.#store.fields(deviceId, ShadowDoc.Desired), this.#store.fields(deviceId, ShadowDoc.Reported)]);
    const { sets } = shadowDeltaSets(desired, reported);
    if (Object.keys(sets).length === 0) {
      this.stats.empty++;
      return false;
    }
    this.#nc.publish(deviceSubject(deviceId, Downlink.Config), shadowDeltaEnvelope(deviceId, sets, Date.now(), traceparent));
    this.stats.pushed++;
    return true;
  }

  start(): void {
    const shadowEvents = this.#nc.subscribe(deviceEventSubject("*", DeviceEvent.Shadow), { queue: shadowPushQueueGroup });
    this.#subs.push(shadowEvents);
    // Desired and reported changes: either may open a delta (an empty one publishes nothing).
    this.#loops.push(this.#consume(shadowEvents, (m) => {
      const ev = m.json<ShadowEvent>();
      // Bounded and checked: only a well-formed traceparent travels on to the device.
      return { deviceId: ev.deviceId, traceparent: typeof ev.traceparent === "string" ? normalizeTraceparent(ev.traceparent) ?? "" : "" };
    }));
    // Mapped into partitions by the broker, or as sent on an unmapped one (wills in operator mode).
    for (const subject of allRoutesOfUplinks([Uplink.Hello, Uplink.Status])) {
      const sub = this.#nc.subscribe(subject, { queue: shadowPushQueueGroup });
      this.#subs.push(sub);
      this.#loops.push(this.#consume(sub, (m) => {
        const deviceId = isOnlineSignal(m.data) ? parseDeviceAddress(m.subject)?.deviceId : undefined;
        return deviceId ? { deviceId, traceparent: "" } : null;
      }));
    }
  }

  async #consume(sub: Subscription, signalOf: (m: { data: Uint8Array; subject: string; json<T>(): T }) => { deviceId: string; traceparent: string } | null): Promise<void> {
    for await (const m of sub) {
      let signal: { deviceId: string; traceparent: string } | null;
      try {
        signal = signalOf(m);
      } catch {
        signal = null; // a malformed event: nothing to push
      }
      if (!signal || typeof signal.deviceId !== "string") continue;
      this.#signal(signal.deviceId, signal.traceparent);
    }
  }

  /** Queues a push of the device (coalesced with one already waiting) and starts what may start. */
  #signal(deviceId: string, traceparent: string): void {
    // An existing entry keeps its place (first come, first pushed: a chatty device cannot starve) and takes the latest traceparent.
    if (this.#pending.has(deviceId)) this.stats.coalesced++;
    else if (this.#pending.size >= shadowPushPendingMax) {
      this.stats.dropped++;
      return;
    }
    this.#pending.set(deviceId, traceparent);
    this.#pump();
  }

  /** Starts pushes up to inflightMax, oldest waiting device first, never one already being pushed. */
  #pump(): void {
    if (this.#stopping) return;
    for (const [id, traceparent] of this.#pending) {
      if (this.#inflight.size >= inflightMax) return;
      if (this.#inflight.has(id)) continue; // its next push waits for this one
      this.#pending.delete(id);
      this.#inflight.add(id);
      void this.push(id, traceparent)
        .catch((e: unknown) => { this.stats.errors++; this.#onError(id, e); })
        .finally(() => {
          this.#inflight.delete(id);
          if (this.#inflight.size === 0) this.#idle?.();
          this.#pump();
        });
    }
  }

  /** Devices waiting for a push and being pushed (for tests and metrics). */
  get backlog(): number {
    return this.#pending.size + this.#inflight.size;
  }

  /** Stops taking signals, lets the pushes in progress finish; devices still waiting are not pushed (their next Hello is). */
  async stop(): Promise<void> {
    await Promise.allSettled(this.#subs.map((s) => s.drain()));
    await Promise.allSettled(this.#loops);
    this.#stopping = true;
    this.#pending.clear();
    if (this.#inflight.size > 0) await new Promise<void>((r) => (this.#idle = r));
  }
}
