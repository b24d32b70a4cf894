// The one place that names device<->cloud topics (the cloud's own subjects
// are built in cloud/subjects). MQTT topics map to NATS
// subjects by '/' -> '.', which is why device ids may not contain '.', ' ',
// '/', '+', '#', '*' or '>' (nats-server 2.9 MQTT rules).

export const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

export function isDeviceId(id: string): boolean {
  return deviceIdPattern.test(id);
}

export function assertDeviceId(id: string): string {
  if (!isDeviceId(id)) {
    throw new Error(`invalid device id ${JSON.stringify(id)}: use 1-64 characters from A-Z a-z 0-9 _ -`);
  }
  return id;
}

/** Device -> cloud message kinds, and the last topic level that carries each. */
export const Uplink = Object.freeze({
  Hello: "hello",
  Heartbeat: "hb",
  Telemetry: "tele",
  Counters: "ctr",
  CommandAck: "ack",
  Status: "status",
} as const);
export type Uplink = (typeof Uplink)[keyof typeof Uplink];

/** Cloud -> device message kinds. */
export const Downlink = Object.freeze({
  Command: "cmd",
  Config: "cfg",
  /** Receipts: the seqs the cloud has durably handled (docs/delivery.md). */
  Receipt: "rcpt",
} as const);
export type Downlink = (typeof Downlink)[keyof typeof Downlink];

export const topicRoot = "xsfleet/v1/dev";
export const subjectRoot = "xsfleet.v1.dev";

export function deviceTopic(deviceId: string, kind: Uplink | Downlink): string {
  return `${topicRoot}/${deviceId}/${kind}`;
}

export function deviceSubject(deviceId: string, kind: Uplink | Downlink): string {
  return `${subjectRoot}.${deviceId}.${kind}`;
}

/** NATS wildcard subject for one kind across all devices, e.g. xsfleet.v1.dev.*.tele */
export function allDevicesSubject(kind: Uplink | Downlink): string {
  return `${subjectRoot}.*.${kind}`;
}

export function mqttTopicToSubject(topic: string): string {
  return topic.split("/").join(".");
}

export function subjectToMqttTopic(subject: string): string {
  return subject.split(".").join("/");
}

export interface ParsedDeviceAddress {
  deviceId: string;
  kind: Uplink | Downlink;
}

const kinds: readonly string[] = Object.freeze(["hello", "hb", "tele", "ctr", "ack", "status", "cmd", "cfg", "rcpt"]);

/**
 * Parses a device subject or topic — `xsfleet.v1.dev.<id>.<kind>`, or the
 * partitioned form the broker maps uplinks to,
 * `xsfleet.v1.p.<partition>.dev.<id>.<kind>` — null when it is not one of ours.
 */
export function parseDeviceAddress(subjectOrTopic: string): ParsedDeviceAddress | null {
  let parts = subjectOrTopic.split(subjectOrTopic.indexOf("/") >= 0 ? "/" : ".");
  if (parts.length === 7 && parts[2] === "p" && /^[0-9]{1,5}$/.test(parts[3]!)) parts = [parts[0]!, parts[1]!, parts[4]!, parts[5]!, parts[6]!];
  if (parts.length !== 5 || parts[0] !== "xsfleet" || parts[1] !== "v1" || parts[2] !== "dev") return null;
  const deviceId = parts[3]!;
  const kind = parts[4]!;
  if (!isDeviceId(deviceId) || kinds.indexOf(kind) < 0) return null;
  return { deviceId, kind: kind as Uplink | Downlink };
}

// ---- partitions: one ordered writer per device (docs/delivery.md) ----

export const partitionRoot = "xsfleet.v1.p";
/** Most partitions a deployment may configure (the broker's mapping and the consumers follow it). */
export const partitionsMax = 1024;

/**
 * The partition nats-server's subject mapping `{{partition(n,1)}}` puts a
 * device in: FNV-1a-32 over the device id's bytes, mod n (nats-server 2.9
 * accounts.go getHashPartition). Device ids are ASCII, so chars are bytes.
 */
export function devicePartition(deviceId: string, partitions: number): number {
  if (!(Number.isInteger(partitions) && partitions >= 1 && partitions <= partitionsMax)) throw new Error(`partitions must be an integer in 1..${partitionsMax}, got ${partitions}`);
  let h = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i++) {
    h ^= deviceId.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h >>> 0) % partitions;
}

/** The subject an uplink of `deviceId` has after the broker's partition mapping. */
export function partitionedDeviceSubject(deviceId: string, kind: Uplink, partitions: number): string {
  return `${partitionRoot}.${devicePartition(deviceId, partitions)}.dev.${deviceId}.${kind}`;
}
