// The device-message contract on the cloud side: decoding of one device
// uplink (subject + protobuf Envelope) with limits, and the reasons a message
// is refused. Pure: bytes + subject in, a typed result out. Every rejection
// carries a DlqReason so the caller can dead-letter and count it; nothing
// here throws on bad input. It is the one home of device-message decoding:
// every field that travels on from a device (into a NATS header, JSON, KV or
// a subject) is validated here (checkFields), the trace context per W3C
// trace-context level 1 (shared/trace-context.ts).
import { BatchDecoder } from "../../shared/codec/batch";
import { CodecError, CodecErrorReason } from "../../shared/codec/errors";
import { GCounter } from "../../shared/crdt/gcounter";
import { PNCounter } from "../../shared/crdt/pncounter";
import { CrdtError } from "../../shared/crdt/wire";
import { decodeEnvelope, CounterKind, Encoding, type CommandAck, type Envelope, type TelemetryBatch } from "../../shared/proto/xsfleet.gen";
import { ProtoError, type DecodeLimits } from "../../shared/proto/wire";
import { parseDeviceAddress, isDeviceId, Uplink } from "../../shared/topics";
import { normalizeTraceparent } from "../../shared/trace-context";

/** Why a device message went to the dead-letter stream. Stable strings:
 *  they are subject tokens (`xsfleet.v1.dlq.<reason>`), header values and
 *  metric labels. */
export const DlqReason = Object.freeze({
  /** The subject is not `xsfleet.v1.dev.<id>.<kind>` with an uplink kind. */
  BadSubject: "bad-subject",
  /** Payload larger than `messageBytesMax`. */
  TooLarge: "too-large",
  /** The protobuf Envelope does not decode (truncated, bad varint, limits). */
  BadEnvelope: "bad-envelope",
  /** Envelope.device_id differs from the device id in the subject. */
  DeviceMismatch: "device-mismatch",
  /** The body is missing or does not match the subject's kind. */
  WrongBody: "wrong-body",
  /** seq is 0 (only status may be unsequenced). */
  BadSeq: "bad-seq",
  /** The seq is far beyond the device's highest (ingest's `seqJumpMax`):
   *  quarantined, receipted as rejected, the device's record unchanged. */
  SeqJump: "seq-jump",
  /** A text field (trace context, firmware version, names, reasons...) is
   *  too long, has control characters or breaks its format. */
  BadField: "bad-field",
  /** The device id is not in the registry. */
  Unregistered: "unregistered",
  /** The device was decommissioned. */
  Decommissioned: "decommissioned",
  /** TelemetryBatch.encoding is not one this node decodes. */
  BadEncoding: "bad-encoding",
  /** The codec rejected the payload (truncated, corrupt, trailing bytes). */
  BadPayload: "bad-payload",
  /** A declared or decoded count is above pointsPerBatchMax / channelsMax. */
  LimitExceeded: "limit-exceeded",
  /** Channel metadata does not match the decoded columns. */
  BadChannels: "bad-channels",
  /** A CRDT counter state does not decode or would break its limits. */
  BadCounter: "bad-counter",
  /** schema_version is newer than this node understands. */
  BadSchemaVersion: "bad-schema-version",
  /** Handling it failed at every delivery up to the consumer's max_deliver
   *  (the last error in Xsf-Dlq-Detail): dead-lettered instead of blocking. */
  Poison: "poison",
} as const);
export type DlqReason = (typeof DlqReason)[keyof typeof DlqReason];

/** One decoded channel of a telemetry batch; `t` is shared by all channels. */
export interface DecodedChannel {
  name: string;
  unit: string;
  resolution: number;
  t: readonly number[];
  v: readonly number[];
}

export interface DecodedTelemetry {
  pointCount: number;
  channels: DecodedChannel[];
}

export interface DecodedCounter {
  name: string;
  kind: "g" | "pn";
  counter: GCounter | PNCounter;
}

export interface DecodedMessage {
  ok: true;
  deviceId: string;
  kind: Uplink;
  env: Envelope;
  telemetry: DecodedTelemetry | null;
  counters: DecodedCounter[] | null;
}

export interface Rejected {
  ok: false;
  deviceId: string | null;
  reason: DlqReason;
  detail: string;
  /** Set when the subject named an uplink kind and the envelope decoded: the
   *  seq a receipt can reject (ingest routes the message through dedup). */
  seqInfo?: { kind: Uplink; epoch: number; seq: number; settledBelow: number };
}

export type DecodeResult = DecodedMessage | Rejected;

/** Limits a decoder enforces (the ingest role's settings carry them). */
export interface DecodeConfig {
  /** Largest accepted device payload. */
  messageBytesMax: number;
  /** Most points in one telemetry batch (checked before allocating). */
  pointsPerBatchMax: number;
  /** Most channels in one telemetry batch. */
  channelsMax: number;
  /** Newest protobuf schema_version accepted. */
  schemaVersionMax: number;
}

/** Longest channel name accepted (names become subject tokens of history). */
export const channelNameBytesMax = 64;
/** Most counters in one CounterState message. */
export const countersPerMessageMax = 64;

/** Uplink kinds ingest decodes (command acks too: ingest records and confirms
 *  them; their effect on the command is cloud/commands', through decodeCommandAck). */
export const decodedKinds: readonly Uplink[] = Object.freeze([Uplink.Telemetry, Uplink.Heartbeat, Uplink.Hello, Uplink.Status, Uplink.Counters, Uplink.CommandAck]);

function reject(deviceId: string | null, reason: DlqReason, detail: string): Rejected {
  return { ok: false, deviceId, reason, detail };
}

/** A rejection that names the message's seq (when it has one). A function
 *  rather than a closure per message: decoding runs for every message. */
function refuse(deviceId: string, seqInfo: Rejected["seqInfo"], reason: DlqReason, detail: string): Rejected {
  return seqInfo ? { ...reject(deviceId, reason, detail), seqInfo } : reject(deviceId, reason, detail);
}

/** Longest free-text field copied from a device into state, JSON or headers
 *  (firmware version, capability, site, zone, unit, status reason). */
export const textFieldBytesMax = 128;
/** Longest tracestate / baggage (W3C: 512 / 8192; we keep neither, so bound them tightly). */
export const traceExtraBytesMax = 512;
/** Most capabilities a Hello may list. */
export const capabilitiesMax = 32;

/** Why `s` may not travel on (null: fine): bounded, no control characters
 *  (C0, DEL, C1), no line or paragraph separators, no lone surrogates. */
export function textFieldProblem(s: string, max = textFieldBytesMax): string | null {
  if (s.length > max) return `${s.length} chars > ${max}`;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return `control character U+${c.toString(16).padStart(4, "0")} at ${i}`;
    if (c >= 0xd800 && c <= 0xdfff) {
      const pair = c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
      if (!pair) return `lone surrogate at ${i}`;
      i++;
    }
  }
  return null;
}

/** Checks (and normalizes the trace context of) every text field of `env`
 *  that ingest copies into a header, JSON, KV or a subject. */
function checkFields(env: Envelope): string | null {
  if (env.traceparent !== "") {
    const tp = normalizeTraceparent(env.traceparent);
    if (tp === null) return `traceparent ${JSON.stringify(env.traceparent.slice(0, 80))} is not W3C trace-context level 1`;
    env.traceparent = tp;
  }
  const fields: Array<[string, string, number]> = [
    ["tracestate", env.tracestate, traceExtraBytesMax], ["baggage", env.baggage, traceExtraBytesMax],
  ];
  if (env.via !== "" && !isDeviceId(env.via)) return `via ${JSON.stringify(env.via.slice(0, 80))} is not a device id`;
  const h = env.hello;
  if (h) {
    if (h.capabilities.length > capabilitiesMax) return `${h.capabilities.length} capabilities > ${capabilitiesMax}`;
    fields.push(["hello.firmware_version", h.firmwareVersion, textFieldBytesMax]);
    for (const c of h.capabilities) fields.push(["hello.capabilities", c, textFieldBytesMax]);
    if (h.location) fields.push(["hello.location.site", h.location.site, textFieldBytesMax], ["hello.location.zone", h.location.zone, textFieldBytesMax]);
    for (const c of h.channels) fields.push(["hello.channels.name", c.name, channelNameBytesMax], ["hello.channels.unit", c.unit, textFieldBytesMax]);
  }
  if (env.telemetry) for (const c of env.telemetry.channels) fields.push(["telemetry.channels.name", c.name, channelNameBytesMax], ["telemetry.channels.unit", c.unit, textFieldBytesMax]);
  if (env.status) fields.push(["status.reason", env.status.reason, textFieldBytesMax]);
  if (env.counters) for (const c of env.counters.counters) fields.push(["counters.name", c.name, channelNameBytesMax]);
  for (const [name, value, max] of fields) {
    const p = textFieldProblem(value, max);
    if (p !== null) return `${name}: ${p}`;
  }
  return null;
}

export function decodeDeviceMessage(subject: string, data: Uint8Array, cfg: DecodeConfig): DecodeResult {
  const addr = parseDeviceAddress(subject);
  if (!addr || !decodedKinds.includes(addr.kind as Uplink)) return reject(addr?.deviceId ?? null, DlqReason.BadSubject, `not an ingest subject: ${subject}`);
  const deviceId = addr.deviceId;
  const kind = addr.kind as Uplink;
  if (data.length > cfg.messageBytesMax) {
    return reject(deviceId, DlqReason.TooLarge, `${data.length} bytes > messageBytesMax ${cfg.messageBytesMax}`);
  }
  const limits: DecodeLimits = { fieldBytesMax: cfg.messageBytesMax, repeatedMax: Math.max(cfg.channelsMax, countersPerMessageMax, 64), depthMax: 8 };
  let env: Envelope;
  try {
    env = decodeEnvelope(data, limits);
  } catch (err) {
    // ProtoError for malformed bytes; any other error is still the input's fault.
    return reject(deviceId, DlqReason.BadEnvelope, err instanceof ProtoError ? `${err.reason}: ${err.message}` : String(err));
  }
  if (env.schemaVersion > cfg.schemaVersionMax) {
    return reject(deviceId, DlqReason.BadSchemaVersion, `schema_version ${env.schemaVersion} > ${cfg.schemaVersionMax}`);
  }
  if (env.deviceId !== "" && env.deviceId !== deviceId) {
    return reject(deviceId, DlqReason.DeviceMismatch, `envelope device_id ${JSON.stringify(env.deviceId)} on the subject of ${deviceId}`);
  }
  const bodyOk =
    (kind === Uplink.Telemetry && env.telemetry !== undefined) ||
    (kind === Uplink.Heartbeat && env.heartbeat !== undefined) ||
    (kind === Uplink.Hello && env.hello !== undefined) ||
    (kind === Uplink.Status && env.status !== undefined) ||
    (kind === Uplink.Counters && env.counters !== undefined) ||
    (kind === Uplink.CommandAck && env.commandAck !== undefined);
  if (env.seq === 0 && kind !== Uplink.Status) return reject(deviceId, DlqReason.BadSeq, "seq 0 (device seqs start at 1)");
  // From here on a rejection names the seq, so ingest can answer it in a receipt.
  const seqInfo = env.seq > 0 ? { kind, epoch: env.epoch, seq: env.seq, settledBelow: Math.min(env.settledBelow, env.seq) } : undefined;
  if (!bodyOk) return refuse(deviceId, seqInfo, DlqReason.WrongBody, `a ${kind} message needs its body`);
  // settled_below is taken after the message's own seq: never above it.
  if (env.seq > 0 && env.settledBelow > env.seq) return refuse(deviceId, seqInfo, DlqReason.BadSeq, `settled_below ${env.settledBelow} > seq ${env.seq}`);
  const fieldProblem = checkFields(env);
  if (fieldProblem !== null) return refuse(deviceId, seqInfo, DlqReason.BadField, fieldProblem);

  let telemetry: DecodedTelemetry | null = null;
  let counters: DecodedCounter[] | null = null;
  if (env.telemetry !== undefined) {
    const t = decodeTelemetry(env.telemetry, cfg);
    if (!t.ok) return refuse(deviceId, seqInfo, t.reason, t.detail);
    telemetry = t.value;
  }
  if (env.counters !== undefined) {
    const c = decodeCounters(env);
    if (!c.ok) return refuse(deviceId, seqInfo, c.reason, c.detail);
    counters = c.value;
  }
  return { ok: true, deviceId, kind, env, telemetry, counters };
}

export type Result<T> = { ok: true; value: T } | { ok: false; reason: DlqReason; detail: string };

/** One decoder for every telemetry payload this process decodes: its models
 *  are reset in place per batch instead of allocated (28 KB per 4-channel
 *  batch otherwise). Decoding is synchronous, so sharing it is safe. */
const telemetryDecoder = new BatchDecoder();

/** Decodes a wire TelemetryBatch (encoding, codec payload, channel names) with limits. */
export function decodeTelemetry(tb: TelemetryBatch, cfg: Pick<DecodeConfig, "pointsPerBatchMax" | "channelsMax">): Result<DecodedTelemetry> {
  if (tb.encoding !== Encoding.ENCODING_XSF_TS1) {
    return { ok: false, reason: DlqReason.BadEncoding, detail: `telemetry encoding ${tb.encoding} is not supported (expected ${Encoding.ENCODING_XSF_TS1})` };
  }
  if (tb.pointCount > cfg.pointsPerBatchMax) {
    return { ok: false, reason: DlqReason.LimitExceeded, detail: `point_count ${tb.pointCount} > pointsPerBatchMax ${cfg.pointsPerBatchMax}` };
  }
  if (tb.channels.length > cfg.channelsMax) {
    return { ok: false, reason: DlqReason.LimitExceeded, detail: `${tb.channels.length} channels > channelsMax ${cfg.channelsMax}` };
  }
  let batch;
  try {
    batch = telemetryDecoder.decode(tb.payload, { pointsMax: cfg.pointsPerBatchMax, channelsMax: cfg.channelsMax });
  } catch (err) {
    if (err instanceof CodecError) {
      const reason = err.reason === CodecErrorReason.LimitExceeded ? DlqReason.LimitExceeded
        : err.reason === CodecErrorReason.BadEncoding || err.reason === CodecErrorReason.BadVersion ? DlqReason.BadEncoding
        : DlqReason.BadPayload;
      return { ok: false, reason, detail: err.message };
    }
    return { ok: false, reason: DlqReason.BadPayload, detail: err instanceof Error ? err.message : String(err) };
  }
  const n = batch.timestampsMs.length;
  if (tb.pointCount !== 0 && tb.pointCount !== n) {
    return { ok: false, reason: DlqReason.BadPayload, detail: `point_count ${tb.pointCount} but the payload holds ${n} points` };
  }
  if (tb.channels.length !== 0 && tb.channels.length !== batch.channels.length) {
    return { ok: false, reason: DlqReason.BadChannels, detail: `${tb.channels.length} channel infos for ${batch.channels.length} columns` };
  }
  const seen = new Set<string>();
  const channels: DecodedChannel[] = [];
  for (let i = 0; i < batch.channels.length; i++) {
    const info = tb.channels[i];
    const name = info && info.name !== "" ? info.name : `c${i}`;
    if (name.length > channelNameBytesMax || seen.has(name)) {
      return { ok: false, reason: DlqReason.BadChannels, detail: `channel name ${JSON.stringify(name.slice(0, 80))} is too long or repeated` };
    }
    seen.add(name);
    const col = batch.channels[i]!;
    channels.push({ name, unit: info?.unit ?? "", resolution: col.resolution, t: batch.timestampsMs, v: col.values });
  }
  return { ok: true, value: { pointCount: n, channels } };
}

function decodeCounters(env: Envelope): Result<DecodedCounter[]> {
  const list = env.counters!.counters;
  if (list.length > countersPerMessageMax) {
    return { ok: false, reason: DlqReason.LimitExceeded, detail: `${list.length} counters > ${countersPerMessageMax}` };
  }
  const out: DecodedCounter[] = [];
  for (const c of list) {
    if (c.name === "" || c.name.length > channelNameBytesMax) return { ok: false, reason: DlqReason.BadCounter, detail: `bad counter name ${JSON.stringify(c.name.slice(0, 80))}` };
    try {
      if (c.kind === CounterKind.COUNTER_KIND_G) out.push({ name: c.name, kind: "g", counter: GCounter.decode(c.state) });
      else if (c.kind === CounterKind.COUNTER_KIND_PN) out.push({ name: c.name, kind: "pn", counter: PNCounter.decode(c.state) });
      else return { ok: false, reason: DlqReason.BadCounter, detail: `counter ${c.name}: kind ${c.kind} unspecified` };
    } catch (err) {
      if (err instanceof CrdtError) return { ok: false, reason: DlqReason.BadCounter, detail: `counter ${c.name}: ${err.message}` };
      throw err;
    }
  }
  return { ok: true, value: out };
}

/** Longest command id (a KV key token of cloud/commands) and ack texts. */
export const ackLimits = Object.freeze({
  commandIdPattern: /^[A-Za-z0-9_-]{1,64}$/,
  messageBytesMax: 1024,
  resultJsonBytesMax: 4096,
});

/** A device's CommandAck (subject `xsfleet.v1.dev.<id>.ack`) with every field
 *  that goes on into the command record (KV JSON) and its events checked:
 *  the command id is a key token, the message bounded without control
 *  characters, the result JSON bounded and parseable. */
export function decodeCommandAck(subject: string, data: Uint8Array, cfg: Pick<DecodeConfig, "messageBytesMax">): Result<{ deviceId: string; env: Envelope; ack: CommandAck }> {
  const addr = parseDeviceAddress(subject);
  if (!addr || addr.kind !== Uplink.CommandAck) return { ok: false, reason: DlqReason.BadSubject, detail: `not an ack subject: ${subject}` };
  if (data.length > cfg.messageBytesMax) return { ok: false, reason: DlqReason.TooLarge, detail: `${data.length} bytes > messageBytesMax ${cfg.messageBytesMax}` };
  let env: Envelope;
  try {
    env = decodeEnvelope(data, { fieldBytesMax: cfg.messageBytesMax, repeatedMax: 64, depthMax: 8 });
  } catch (err) {
    return { ok: false, reason: DlqReason.BadEnvelope, detail: err instanceof ProtoError ? `${err.reason}: ${err.message}` : String(err) };
  }
  if (env.deviceId !== "" && env.deviceId !== addr.deviceId) return { ok: false, reason: DlqReason.DeviceMismatch, detail: `envelope device_id on the subject of ${addr.deviceId}` };
  const ack = env.commandAck;
  if (!ack) return { ok: false, reason: DlqReason.WrongBody, detail: "an ack message needs its body" };
  if (!ackLimits.commandIdPattern.test(ack.commandId)) return { ok: false, reason: DlqReason.BadField, detail: `command id ${JSON.stringify(ack.commandId.slice(0, 80))}` };
  const problem = checkFields(env) ?? textFieldProblem(ack.message, ackLimits.messageBytesMax);
  if (problem !== null) return { ok: false, reason: DlqReason.BadField, detail: problem };
  if (ack.resultJson !== "") {
    if (ack.resultJson.length > ackLimits.resultJsonBytesMax) return { ok: false, reason: DlqReason.BadField, detail: `result_json ${ack.resultJson.length} chars > ${ackLimits.resultJsonBytesMax}` };
    try {
      JSON.parse(ack.resultJson);
    } catch {
      return { ok: false, reason: DlqReason.BadField, detail: "result_json is not JSON" };
    }
  }
  return { ok: true, value: { deviceId: addr.deviceId, env, ack } };
}
