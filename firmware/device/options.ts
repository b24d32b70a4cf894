// Device options: identity, broker, cadences and limits, validated once at
// construction with messages that say which key is wrong. On the ESP32 they
// come from the manifest's `config` (mc/config); on the host from
// startSimDevice().
import { DeviceRole } from "../../shared/device-role";
import { assertDeviceId } from "../../shared/topics";
import type { BackoffPolicy } from "./backoff";
import { backoffDefaults, checkBackoffPolicy } from "./backoff";
import { batchPointsLimit, heartbeatIntervalMaxMs, heartbeatIntervalMinMs, sampleIntervalMaxMs, sampleIntervalMinMs } from "../../shared/device-config";
import type { CommandHandler } from "./commands";
import type { Counter } from "../../shared/proto/xsfleet.gen";
import type { OutboxLimits } from "./outbox";
import { checkOutboxLimits, outboxDefaults } from "./outbox";

/**
 * The edge roles this firmware implements (shared/device-role.ts): a gateway
 * relays (and aggregates) for children (firmware/edge); a processing node is
 * a gateway that also runs rule jobs on its children's data and acts locally.
 */
export type FirmwareRole = typeof DeviceRole.Sensor | typeof DeviceRole.Actuator | typeof DeviceRole.Gateway | typeof DeviceRole.Processing;

export interface DeviceLocation {
  site: string;
  zone: string;
  latitude: number;
  longitude: number;
}

export interface DeviceOptions {
  deviceId: string;
  role: FirmwareRole;
  /** One or more mqtt://host:port URLs, tried in turn. */
  brokerUrls: readonly string[];
  username?: string;
  password?: string;
  firmwareVersion: string;
  location?: DeviceLocation;
  heartbeatIntervalMs: number;
  sampleIntervalMs: number;
  batchPointsMax: number;
  /** A non-empty batch is sent when its first point is this old. */
  batchAgeMaxMs: number;
  keepaliveS: number;
  connectTimeoutMs: number;
  backoff: BackoffPolicy;
  outbox: OutboxLimits;
  /** Extra command handlers (actuators); merged over the built-in ones. */
  commandHandlers?: Readonly<Record<string, CommandHandler>>;
  /**
   * Counters the node carries beside its own, sent in the same CounterState
   * (a mesh peer's merged counters, firmware/edge/mesh-node.ts); names must
   * not clash with the device's own.
   */
  extraCounters?: () => readonly Counter[];
  /** Seq values reserved per flash write. */
  seqBlock: number;
}

export const brokerUrlsMax = 8;

export const deviceDefaults = Object.freeze({
  role: DeviceRole.Sensor,
  firmwareVersion: "0.1.0",
  heartbeatIntervalMs: 10_000,
  sampleIntervalMs: 1_000,
  batchPointsMax: 32,
  batchAgeMaxMs: 30_000,
  keepaliveS: 30,
  connectTimeoutMs: 10_000,
  backoff: backoffDefaults,
  outbox: outboxDefaults,
  seqBlock: 64,
} as const);

export type DeviceOptionsInit = Partial<Omit<DeviceOptions, "outbox">> & {
  deviceId: string;
  brokerUrls: readonly string[];
  /** Merged over `outboxDefaults`. */
  outbox?: Partial<OutboxLimits>;
};

export function deviceOptions(init: DeviceOptionsInit): DeviceOptions {
  const o: DeviceOptions = {
    ...deviceDefaults,
    ...init,
    backoff: { ...deviceDefaults.backoff, ...init.backoff },
    outbox: { ...deviceDefaults.outbox, ...init.outbox },
  };
  assertDeviceId(o.deviceId);
  if (o.role !== DeviceRole.Sensor && o.role !== DeviceRole.Actuator && o.role !== DeviceRole.Gateway && o.role !== DeviceRole.Processing) {
    throw new Error(`role must be "sensor", "actuator", "gateway" or "processing", got ${JSON.stringify(o.role)}`);
  }
  if (o.brokerUrls.length < 1 || o.brokerUrls.length > brokerUrlsMax) throw new Error(`brokerUrls needs 1..${brokerUrlsMax} URLs, got ${o.brokerUrls.length}`);
  for (const u of o.brokerUrls) if (!/^mqtts?:\/\/[^/\s]+$/.test(u)) throw new Error(`broker URL must look like mqtt://host:port, got ${JSON.stringify(u)}`);
  checkRange("heartbeatIntervalMs", o.heartbeatIntervalMs, heartbeatIntervalMinMs, heartbeatIntervalMaxMs);
  checkRange("sampleIntervalMs", o.sampleIntervalMs, sampleIntervalMinMs, sampleIntervalMaxMs);
  checkRange("batchPointsMax", o.batchPointsMax, 1, batchPointsLimit);
  checkRange("batchAgeMaxMs", o.batchAgeMaxMs, 1, 24 * 3_600_000);
  checkRange("keepaliveS", o.keepaliveS, 1, 65_535);
  checkRange("connectTimeoutMs", o.connectTimeoutMs, 100, 600_000);
  checkRange("seqBlock", o.seqBlock, 1, 1_000_000);
  checkBackoffPolicy(o.backoff);
  checkOutboxLimits(o.outbox);
  return o;
}

export function checkRange(name: string, v: number, min: number, max: number): number {
  if (!(Number.isSafeInteger(v) && v >= min && v <= max)) throw new Error(`${name} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}
