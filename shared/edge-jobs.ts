// Edge jobs (docs/edge.md, "Edge scheduling"): work the cloud's orchestrator
// places on gateway and processing devices, and the one wire form both sides
// share. A job reaches its device as one desired-config setting
//
//   key   "job.<jobId>"                       jobId: 1..jobIdBytesMax of a-z 0-9 -
//   value "<kind>;<key>=<value>;..."          at most jobValueBytesMax bytes
//
//   aggregate;w=<windowMs>[;ch=<c1>,<c2>..]   windowed count/min/max/mean of
//                                             the children's telemetry, sent
//                                             instead of their raw points
//   rules;ch=<channel>;gt|lt=<threshold>[;act=<device>:<value>]
//                                             a threshold rule on the children's
//                                             data; act: the actuator command it
//                                             sends locally when the cloud is
//                                             unreachable
//   relay;c=<id1>,<id2>..                     relay duty: children added to the
//                                             device's allow-list
//
// Pure, XS-safe: frozen tables, named limits, parse returns an error string
// instead of throwing (a bad setting is counted by the device, never a crash).
import { isDeviceId } from "./topics";

export const EdgeJobKind = Object.freeze({ Aggregate: "aggregate", Rules: "rules", Relay: "relay" } as const);
export type EdgeJobKind = (typeof EdgeJobKind)[keyof typeof EdgeJobKind];
export const edgeJobKinds: readonly EdgeJobKind[] = Object.freeze([EdgeJobKind.Aggregate, EdgeJobKind.Rules, EdgeJobKind.Relay]);

/** The capability (Hello.capabilities) a device must announce to take a job of each kind. */
export const edgeJobCapability = Object.freeze({ aggregate: "aggregate", rules: "rules", relay: "relay" } as const);

/** Setting key prefix of a job; the cloud's fencing token rides beside them under `edgeFenceSettingKey`. */
export const jobSettingPrefix = "job.";
export const edgeFenceSettingKey = "edge.fence";
export const jobIdBytesMax = 24;
/** The registry's settingValueBytesMax: a job must fit one setting. */
export const jobValueBytesMax = 256;
/** Jobs one device runs at most (more settings are refused, counted). */
export const jobsPerDeviceMax = 8;
export const aggregateWindowMinMs = 1_000;
export const aggregateWindowMaxMs = 3_600_000;
/** Channels one aggregate job names at most (4 statistics each; the codec carries 16 channels). */
export const aggregateChannelsMax = 4;
/** Children one relay job lists at most. */
export const relayChildrenMax = 16;

export interface AggregateJob {
  readonly id: string;
  readonly kind: typeof EdgeJobKind.Aggregate;
  readonly windowMs: number;
  /** Channels to aggregate; empty: every channel of the children. */
  readonly channels: readonly string[];
}

export interface RulesJob {
  readonly id: string;
  readonly kind: typeof EdgeJobKind.Rules;
  readonly channel: string;
  /** "gt": fires while value > threshold; "lt": while value < threshold. */
  readonly op: "gt" | "lt";
  readonly threshold: number;
  /** Local action when the cloud is unreachable: `set {value}` on this child actuator ("" = none). */
  readonly actuator: string;
  readonly value: number;
}

export interface RelayJob {
  readonly id: string;
  readonly kind: typeof EdgeJobKind.Relay;
  readonly children: readonly string[];
}

export type EdgeJob = AggregateJob | RulesJob | RelayJob;

export function isJobId(id: string): boolean {
  if (id.length < 1 || id.length > jobIdBytesMax) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45)) return false;
  }
  return true;
}

function isChannelName(s: string): boolean {
  if (s.length < 1 || s.length > 32) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 44 || c === 59 || c === 61 || c > 126) return false; // no space , ; =
  }
  return true;
}

function list(v: string): string[] {
  const out: string[] = [];
  for (const p of v.split(",")) if (p.length > 0) out.push(p);
  return out;
}

/** Parses a setting value; a string is the reason it was refused. */
export function parseJob(id: string, value: string): EdgeJob | string {
  if (!isJobId(id)) return `job id ${JSON.stringify(id)}: 1..${jobIdBytesMax} of a-z 0-9 -`;
  if (value.length > jobValueBytesMax) return `job ${id}: ${value.length} bytes above ${jobValueBytesMax}`;
  const parts = value.split(";");
  const kind = parts[0]!;
  const f: Record<string, string> = {};
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf("=");
    if (eq <= 0) return `job ${id}: field ${JSON.stringify(p)} is not key=value`;
    f[p.slice(0, eq)] = p.slice(eq + 1);
  }
  if (kind === EdgeJobKind.Aggregate) {
    const w = Number(f.w);
    if (!(Number.isInteger(w) && w >= aggregateWindowMinMs && w <= aggregateWindowMaxMs)) return `job ${id}: window w must be ${aggregateWindowMinMs}..${aggregateWindowMaxMs} ms`;
    const channels = f.ch === undefined ? [] : list(f.ch);
    if (channels.length > aggregateChannelsMax) return `job ${id}: more than ${aggregateChannelsMax} channels`;
    for (const c of channels) if (!isChannelName(c)) return `job ${id}: bad channel ${JSON.stringify(c)}`;
    return Object.freeze({ id, kind: EdgeJobKind.Aggregate, windowMs: w, channels: Object.freeze(channels) });
  }
  if (kind === EdgeJobKind.Rules) {
    const channel = f.ch ?? "";
    if (!isChannelName(channel)) return `job ${id}: rule channel ch missing or bad`;
    const op: "gt" | "lt" | "" = f.gt !== undefined ? "gt" : f.lt !== undefined ? "lt" : "";
    if (op === "") return `job ${id}: rule needs gt= or lt=`;
    const threshold = Number(op === "gt" ? f.gt : f.lt);
    if (!Number.isFinite(threshold)) return `job ${id}: threshold is not a number`;
    let actuator = "";
    let value = 0;
    if (f.act !== undefined) {
      const colon = f.act.lastIndexOf(":");
      actuator = colon > 0 ? f.act.slice(0, colon) : "";
      value = Number(f.act.slice(colon + 1));
      if (!isDeviceId(actuator) || !Number.isFinite(value)) return `job ${id}: act must be <device>:<number>`;
    }
    return Object.freeze({ id, kind: EdgeJobKind.Rules, channel, op, threshold, actuator, value });
  }
  if (kind === EdgeJobKind.Relay) {
    const children = list(f.c ?? "");
    if (children.length > relayChildrenMax) return `job ${id}: more than ${relayChildrenMax} children`;
    for (const c of children) if (!isDeviceId(c)) return `job ${id}: bad child id ${JSON.stringify(c)}`;
    return Object.freeze({ id, kind: EdgeJobKind.Relay, children: Object.freeze(children) });
  }
  return `job ${id}: unknown kind ${JSON.stringify(kind)}`;
}

/** The setting value of a job (parseJob's inverse). */
export function encodeJob(job: EdgeJob): string {
  let v: string;
  if (job.kind === EdgeJobKind.Aggregate) v = `aggregate;w=${job.windowMs}${job.channels.length > 0 ? `;ch=${job.channels.join(",")}` : ""}`;
  else if (job.kind === EdgeJobKind.Rules) v = `rules;ch=${job.channel};${job.op}=${job.threshold}${job.actuator !== "" ? `;act=${job.actuator}:${job.value}` : ""}`;
  else v = `relay;c=${job.children.join(",")}`;
  const back = parseJob(job.id, v);
  if (typeof back === "string") throw new Error(back);
  return v;
}

export interface JobsFromSettings {
  readonly jobs: readonly EdgeJob[];
  /** Why each refused job setting was refused. */
  readonly refused: readonly string[];
}

/** The jobs a desired config's settings carry (keys "job.<id>"), at most jobsPerDeviceMax. */
export function jobsFromSettings(settings: readonly { readonly key: string; readonly value: string }[]): JobsFromSettings {
  const jobs: EdgeJob[] = [];
  const refused: string[] = [];
  for (const s of settings) {
    if (s.key.indexOf(jobSettingPrefix) !== 0) continue;
    const j = parseJob(s.key.slice(jobSettingPrefix.length), s.value);
    if (typeof j === "string") refused.push(j);
    else if (jobs.length >= jobsPerDeviceMax) refused.push(`job ${j.id}: more than ${jobsPerDeviceMax} jobs`);
    else jobs.push(j);
  }
  return { jobs, refused };
}
