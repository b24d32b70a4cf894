// The one place that names device<->cloud topics. MQTT topics map to NATS
// subjects by '/' -> '.', which is why device ids may not contain '.', ' ',
// '/', '+', '#', '*' or '>' (nats-server 2.9 MQTT rules).

export const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
export const deviceIdLengthMax = 64;

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

const kinds: readonly string[] = Object.freeze(["hello", "hb", "tele", "ctr", "ack", "status", "cmd", "cfg"]);

/** Parses a device subject or topic; null when it is not one of ours. */
export function parseDeviceAddress(subjectOrTopic: string): ParsedDeviceAddress | null {
  const parts = subjectOrTopic.split(subjectOrTopic.indexOf("/") >= 0 ? "/" : ".");
  if (parts.length !== 5 || parts[0] !== "xsfleet" || parts[1] !== "v1" || parts[2] !== "dev") return null;
  const deviceId = parts[3]!;
  const kind = parts[4]!;
  if (!isDeviceId(deviceId) || kinds.indexOf(kind) < 0) return null;
  return { deviceId, kind: kind as Uplink | Downlink };
}

/** Cloud-side subjects for integrators (JSON). */
export const outSubjectRoot = "xsfleet.v1.out";

export function outTelemetrySubject(deviceId: string): string {
  return `${outSubjectRoot}.${deviceId}.telemetry`;
}

export const DeviceEvent = Object.freeze({
  Registered: "registered",
  Online: "online",
  Offline: "offline",
  CommandAcked: "command-acked",
  CommandExpired: "command-expired",
  Decommissioned: "decommissioned",
} as const);
export type DeviceEvent = (typeof DeviceEvent)[keyof typeof DeviceEvent];

export function deviceEventSubject(deviceId: string, event: DeviceEvent): string {
  return `xsfleet.v1.events.${deviceId}.${event}`;
}
