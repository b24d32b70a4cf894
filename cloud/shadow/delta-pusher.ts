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
// `inflightMax` pushes computed at once; more signals are dropped and
// counted (the next signal recomputes the same delta).
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

export interface ShadowPusherStats { pushed: number; empty: number; dropped: number; errors: number }

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
  #inflight = 0;
  readonly stats: ShadowPusherStats = { pushed: 0, empty: 0, dropped: 0, errors: 0 };

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
      if (this.#inflight >= inflightMax) {
        this.stats.dropped++;
        continue;
      }
      this.#inflight++;
      const id = signal.deviceId;
      void this.push(id, signal.traceparent)
        .catch((e: unknown) => { this.stats.errors++; this.#onError(id, e); })
        .finally(() => { this.#inflight--; });
    }
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.#subs.map((s) => s.drain()));
    await Promise.allSettled(this.#loops);
  }
}
