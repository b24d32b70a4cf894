// A device's configuration is its desired shadow document (docs/shadow.md,
// "Configuration"): one desired field per setting, the value canonical JSON
// text. The cloud validates a write with the same rules the device applies
// them with, so a value the API accepted is never refused on the device.
//
// - Cadence fields (JSON numbers): `heartbeatIntervalMs`, `sampleIntervalMs`,
//   `batchPointsMax`. A deleted cadence field means "back to the built-in".
// - Every other field is a setting: any JSON value of at most
//   settingValueBytesMax characters. The device keeps and reports it; the
//   parts that read settings take the string ones (`DeviceRuntime.settings()`):
//   the gateway's `children` allow-list, edge jobs `job.<id>`
//   (shared/edge-jobs.ts), the scheduler's `edge.fence`; `mode` or an
//   actuator's set point may be any JSON.
//
// Delivery: the delta (desired fields whose single value the reported
// document does not hold, and desired fields deleted while the reported
// document still holds a value) rides in `DesiredConfig.shadow_delta`; the
// device applies a field, then reports the value it applied. A field that
// fails `checkConfigField` is not applied and not reported (counted).
// Plain ES: runs on XS and on Node.

export const ConfigField = Object.freeze({
  HeartbeatIntervalMs: "heartbeatIntervalMs",
  SampleIntervalMs: "sampleIntervalMs",
  BatchPointsMax: "batchPointsMax",
} as const);
export type ConfigField = (typeof ConfigField)[keyof typeof ConfigField];
/** The cadence fields, in a fixed order (a device restores them at boot in this order). */
export const cadenceFields: readonly ConfigField[] = Object.freeze([ConfigField.HeartbeatIntervalMs, ConfigField.SampleIntervalMs, ConfigField.BatchPointsMax]);

export const heartbeatIntervalMinMs = 200;
export const heartbeatIntervalMaxMs = 3_600_000;
export const sampleIntervalMinMs = 10;
export const sampleIntervalMaxMs = 3_600_000;
/** Rows one telemetry batch may hold (the batcher's hard limit). */
export const batchPointsLimit = 512;
/** Characters of one setting's JSON text (the device keeps up to its replica's field limit of them). */
export const settingValueBytesMax = 512;
/** Field names: letters, digits, `_`, `-` and `.` (edge jobs are `job.<id>`). */
export const configFieldPattern = /^[A-Za-z0-9_.-]{1,64}$/;

/** The cadence a device runs with; a config applies over it. */
export interface Cadence {
  heartbeatIntervalMs: number;
  sampleIntervalMs: number;
  batchPointsMax: number;
}

const cadenceRanges: Readonly<Record<ConfigField, readonly [number, number]>> = Object.freeze({
  heartbeatIntervalMs: Object.freeze([heartbeatIntervalMinMs, heartbeatIntervalMaxMs] as const),
  sampleIntervalMs: Object.freeze([sampleIntervalMinMs, sampleIntervalMaxMs] as const),
  batchPointsMax: Object.freeze([1, batchPointsLimit] as const),
});

export function isCadenceField(name: string): name is ConfigField {
  return name === ConfigField.HeartbeatIntervalMs || name === ConfigField.SampleIntervalMs || name === ConfigField.BatchPointsMax;
}

/** Why `valueText` (canonical JSON) is not a valid value of field `name`; undefined when it is. */
export function checkConfigField(name: string, valueText: string): string | undefined {
  if (!configFieldPattern.test(name)) return `field name ${JSON.stringify(name.slice(0, 80))} is not 1–64 of [A-Za-z0-9_.-]`;
  if (valueText.length > settingValueBytesMax) return `${name}: value longer than ${settingValueBytesMax} characters of JSON`;
  let v: unknown;
  try {
    v = JSON.parse(valueText);
  } catch {
    return `${name}: value is not JSON`;
  }
  if (isCadenceField(name)) {
    const r = cadenceRanges[name];
    if (typeof v !== "number" || !Number.isInteger(v) || v < r[0] || v > r[1]) return `${name}: ${valueText.slice(0, 40)} is not an integer in ${r[0]}..${r[1]}`;
    return undefined;
  }
  return undefined;
}

/** Applies one valid cadence field over `cadence`; `undefined` (deleted) restores `defaults`' value. */
export function applyCadenceField(cadence: Cadence, defaults: Readonly<Cadence>, name: ConfigField, valueText: string | undefined): void {
  cadence[name] = valueText === undefined ? defaults[name] : (JSON.parse(valueText) as number);
}
