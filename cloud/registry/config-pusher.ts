// Delivers desired configuration to devices. Devices subscribe to their cfg
// topic at QoS 0 (nats-server 2.9 delivers NATS-originated messages to MQTT
// at QoS 0 anyway), so a push can be lost while the device is offline: the
// pusher therefore re-sends the latest desired config whenever a device says
// Hello or reports itself online. The device applies a version at most once
// (it ignores versions <= the one it runs), so re-sends are harmless.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { createDesiredConfig, createEnvelope, createSetting, decodeEnvelope, encodeEnvelope, Presence, schemaVersion } from "../../shared/proto/xsfleet.gen";
import { parseDeviceAddress, Downlink, Uplink } from "../../shared/topics";
import { allDevicesSubject, allRoutesOfUplinks, deviceSubject } from "../subjects";
import { context } from "@opentelemetry/api";
import { newTraceparent, type Logger } from "../base";
import { traceparentOf } from "../tracing";
import { DeviceLifecycle, type DesiredConfigSpec, type DeviceRecord, type DeviceRegistry } from "./types";

export const configQueueGroup = "xsfleet-config";

export function desiredConfigEnvelope(deviceId: string, spec: DesiredConfigSpec, nowMs: number): Uint8Array {
  return encodeEnvelope(createEnvelope({
    schemaVersion,
    deviceId,
    seq: spec.version,
    deviceTimeMs: nowMs,
    // Inside a traced call (api.devices.config.set) the push joins its trace; otherwise it starts one.
    traceparent: traceparentOf(context.active()) || newTraceparent(),
    config: createDesiredConfig({
      version: spec.version,
      heartbeatIntervalMs: spec.heartbeatIntervalMs,
      sampleIntervalMs: spec.sampleIntervalMs,
      batchPointsMax: spec.batchPointsMax,
      settings: Object.entries(spec.settings).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, value]) => createSetting({ key, value })),
    }),
  }));
}

/** True for a Hello, or a Status saying the device came online. */
export function isOnlineSignal(data: Uint8Array): boolean {
  try {
    const env = decodeEnvelope(data);
    return env.hello !== undefined || env.status?.presence === Presence.PRESENCE_ONLINE;
  } catch {
    return false;
  }
}

export interface ConfigPusherStats { pushed: number; resentOnHello: number; errors: number }

export class DesiredConfigPusher {
  readonly #nc: NatsConnection;
  readonly #registry: DeviceRegistry;
  readonly #log: Logger;
  #subs: Subscription[] = [];
  #loops: Promise<void>[] = [];
  readonly stats: ConfigPusherStats = { pushed: 0, resentOnHello: 0, errors: 0 };

  constructor(nc: NatsConnection, registry: DeviceRegistry, log: Logger) {
    this.#nc = nc;
    this.#registry = registry;
    this.#log = log;
  }

  /** Publishes the record's desired config (if any) to the device's cfg subject. */
  push(rec: DeviceRecord): boolean {
    if (!rec.desiredConfig || rec.lifecycle !== DeviceLifecycle.Registered) return false;
    this.#nc.publish(deviceSubject(rec.deviceId, Downlink.Config), desiredConfigEnvelope(rec.deviceId, rec.desiredConfig, Date.now()));
    this.stats.pushed++;
    return true;
  }

  /** Listens for Hello / online Status (one node per message, via a queue group) and re-sends. */
  start(): void {
    // Mapped into partitions by the broker (docs/delivery.md); the unmapped subjects carry
    // the MQTT will in operator mode and everything on an unmapped broker.
    for (const subject of allRoutesOfUplinks([Uplink.Hello, Uplink.Status])) {
      const sub = this.#nc.subscribe(subject, { queue: configQueueGroup });
      this.#subs.push(sub);
      this.#loops.push(this.#consume(sub));
    }
  }

  async #consume(sub: Subscription): Promise<void> {
    for await (const m of sub) {
      const addr = parseDeviceAddress(m.subject);
      if (!addr || !isOnlineSignal(m.data)) continue;
      try {
        const rec = await this.#registry.get(addr.deviceId);
        if (rec && this.push(rec)) this.stats.resentOnHello++;
      } catch (e) {
        this.stats.errors++;
        this.#log.warn("config re-send failed", { deviceId: addr.deviceId, err: e });
      }
    }
  }

  /** Stops taking messages, finishes the ones already received. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.#subs.map((s) => s.drain()));
    await Promise.allSettled(this.#loops);
  }
}
