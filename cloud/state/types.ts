// Device state as ingest maintains it and the management APIs read it: one
// JSON value per device in the KV bucket XSF_DEVICE_STATE (key = device id).
// Every field is derived deterministically from the device's messages and
// their JetStream timestamps, so it is the same whichever ingest node applied
// them and in whatever order.

import { DevicePresence } from "../../shared/device-presence";

/** What last changed presence. */
export const PresenceSource = {
  None: "none",
  Hello: "hello",
  /** A Status message: "online" on connect or the MQTT will "offline". */
  Status: "status",
  /** Heartbeat/telemetry after a heartbeat-timeout offline. */
  Activity: "activity",
  /** No message within heartbeatTimeoutFactor × the heartbeat interval. */
  HeartbeatTimeout: "heartbeat-timeout",
  /** Derived: the gateway the device's last uplink came through went offline (docs/edge.md). */
  GatewayOffline: "gateway-offline",
} as const;
export type PresenceSource = (typeof PresenceSource)[keyof typeof PresenceSource];

export interface PresenceState {
  state: DevicePresence;
  /** JetStream time (ms) of the change. */
  sinceMs: number;
  source: PresenceSource;
  reason: string;
}

export interface ChannelMeta {
  name: string;
  unit: string;
  resolution: number;
}

export interface HelloState {
  seq: number;
  atMs: number;
  role: number;
  capabilities: string[];
  resources: { freeHeapBytes: number; flashTotalBytes: number; flashFreeBytes: number; cpuMhz: number; cpuLoadCentiPct: number } | null;
  location: { site: string; zone: string; latitude: number; longitude: number } | null;
  firmwareVersion: string;
  bootCount: number;
  channels: ChannelMeta[];
  heartbeatIntervalMs: number;
}

export interface HeartbeatState {
  seq: number;
  atMs: number;
  deviceTimeMs: number;
  heartbeatSeq: number;
  uptimeMs: number;
  freeHeapBytes: number;
  rssiDbm: number;
  counterDigest: number;
  outboxDepth: number;
  outboxDropped: number;
  cpuLoadCentiPct: number;
}

/** Latest reading of one channel: the point with the greatest device time
 *  (ties: greater seq), so the result does not depend on arrival order. */
export interface Reading {
  t: number;
  v: number;
  seq: number;
  unit: string;
}

export interface CounterValue {
  kind: "g" | "pn";
  value: number;
  /** Canonical CRDT bytes (shared/crdt), base64. */
  state: string;
}

export interface DeviceState {
  deviceId: string;
  /** JetStream time of the first Hello; null until one is seen. */
  registeredAtMs: number | null;
  /** Greatest JetStream time of any applied message. */
  lastSeenMs: number;
  presence: PresenceState;
  hello: HelloState | null;
  heartbeat: HeartbeatState | null;
  readings: Record<string, Reading>;
  counters: Record<string, CounterValue>;
  /** Telemetry applied exactly once: batches and points. */
  telemetry: { batches: number; points: number; lastSeq: number };
  /** Last W3C traceparent seen, for correlating. */
  traceparent: string;
  /** The gateway the device's last applied uplink came through ("" = direct; docs/edge.md). */
  via: string;
}

/** Dedup record of a device (docs/delivery.md, "Exactly-once rules"); kept
 *  by cloud/ingest/dedup.ts. Invariants: epoch is the current epoch (0 =
 *  legacy device without epochs, or none seen yet); retiredEpochs holds at
 *  most 4 epochs, none equal to `epoch`; every seq <= floor is settled;
 *  ranges are inclusive [first, last], sorted, disjoint, not adjacent, all
 *  above floor + 1 (a range starting at floor + 1 is merged into the floor),
 *  at most `dedupRangesMax` of them. */
export interface StoredDedup {
  epoch: number;
  /** JetStream time of the message that started the current epoch (0: none). */
  epochSinceMs: number;
  retiredEpochs: number[];
  floor: number;
  ranges: Array<[number, number]>;
}

/** What the KV value holds: the public state plus ingest's bookkeeping. */
export interface StoredDeviceState extends DeviceState {
  v: 2;
  /** Seqs recorded for the current epoch (one record for every kind: the device has one seq counter). */
  dedup: StoredDedup;
  /** Highest XSF_UP stream sequence applied to presence (hello/status
   *  order is the server's arrival order, which is the truth for wills). */
  presenceStreamSeq: number;
}

export const stateFormatVersion = 2;

export function emptyDedup(): StoredDedup {
  return { epoch: 0, epochSinceMs: 0, retiredEpochs: [], floor: 0, ranges: [] };
}

export function emptyDeviceState(deviceId: string): StoredDeviceState {
  return {
    v: 2,
    deviceId,
    registeredAtMs: null,
    lastSeenMs: 0,
    presence: { state: DevicePresence.Unknown, sinceMs: 0, source: PresenceSource.None, reason: "" },
    hello: null,
    heartbeat: null,
    readings: {},
    counters: {},
    telemetry: { batches: 0, points: 0, lastSeq: 0 },
    traceparent: "",
    via: "",
    dedup: emptyDedup(),
    presenceStreamSeq: 0,
  };
}

/** The public view: drops ingest's bookkeeping. */
export function publicState(s: StoredDeviceState): DeviceState {
  const { v: _v, dedup: _d, presenceStreamSeq: _p, ...pub } = s;
  return pub;
}
