// Command encoding: canonical JSON of the Envelope, UTF-8. Compact enough for
// a control plane (commands are small and rare next to telemetry) and easy
// to inspect in a Raft log dump. Decoding is bounded (size first), strict
// (every field typed and range-checked, unknown fields rejected) and
// canonical (bytes that are not exactly what the encoder would produce are
// rejected), and it never throws: bad bytes become a typed failure that the
// state machine returns as the entry's result.

import { canonicalBytes, parseBoundedJson } from "./canonical-json";
import { Fields, FieldError, KEY_PATTERN, NAME_PATTERN, checkString, isPlainObject, readFlatMap, utf8Bytes } from "./fields";
import type { ControlLimits } from "./limits";
import { BASE64_PATTERN, RESTORE_COUNTER_GAP_MAX, SHA256_PATTERN } from "./restore";
import { isDeviceId } from "../../shared/topics";
import { deviceRoles } from "../../shared/device-role";
import { cloudRoles, type CloudRole } from "../base";
import {
  CONTROL_FORMAT_VERSION,
  CommandKind,
  RetiredCommandKind,
  ControlError,
  type ApplyResult,
  type Command,
  type Envelope,
  type MemberResources,
  type SessionRef,
} from "./types";

export type DecodeResult = { ok: true; envelope: Envelope } | { ok: false; message: string };

const COMMAND_KINDS = [...Object.values(CommandKind), ...Object.values(RetiredCommandKind)];
const CLOUD_ROLES: readonly string[] = cloudRoles;
const SEQ_MAX = Number.MAX_SAFE_INTEGER;
const ID_MAX = Number.MAX_SAFE_INTEGER;

/** Encodes an envelope; throws if it would not decode (paired check at encode and decode). */
export function encodeEnvelope(envelope: Envelope, limits: ControlLimits): Uint8Array {
  // Validate first: it normalises (sorted role sets), then encode the normal form.
  const checked = validateEnvelope(envelope, limits);
  if (!checked.ok) throw new Error(`control command does not encode: ${checked.message}`);
  const bytes = canonicalBytes(checked.envelope);
  const back = decodeEnvelope(bytes, limits);
  if (!back.ok) throw new Error(`control command does not encode: ${back.message}`);
  return bytes;
}

export function decodeEnvelope(bytes: Uint8Array, limits: ControlLimits): DecodeResult {
  const parsed = parseBoundedJson(bytes, limits.commandBytesMax);
  if (!parsed.ok) return { ok: false, message: `command: ${parsed.message}` };
  let envelope: Envelope;
  try {
    envelope = readEnvelope(parsed.value, limits);
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, message: err.message };
    throw err;
  }
  // Canonical form only: one command, one byte string.
  const again = canonicalBytes(envelope);
  if (!sameBytes(again, bytes)) return { ok: false, message: "command: not in canonical form" };
  return { ok: true, envelope };
}

/** Validates an envelope given as an object (the in-process path skips bytes). */
export function validateEnvelope(value: unknown, limits: ControlLimits): DecodeResult {
  try {
    return { ok: true, envelope: readEnvelope(value, limits) };
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, message: err.message };
    throw err;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function readEnvelope(value: unknown, limits: ControlLimits): Envelope {
  const f = new Fields(value, "envelope");
  const v = f.int("v", 0, 255);
  if (v !== CONTROL_FORMAT_VERSION) throw new FieldError(`envelope.v: unsupported version ${v} (this build reads ${CONTROL_FORMAT_VERSION})`);
  const nowMs = f.int("nowMs", 0, Number.MAX_SAFE_INTEGER);
  const session = f.has("session") ? readSession(f.raw("session"), limits) : undefined;
  const cmd = readCommand(f.raw("cmd"), limits);
  f.done();
  return session ? { v: CONTROL_FORMAT_VERSION, nowMs, session, cmd } : { v: CONTROL_FORMAT_VERSION, nowMs, cmd };
}

function readSession(value: unknown, limits: ControlLimits): SessionRef {
  const f = new Fields(value, "envelope.session");
  const clientId = f.str("clientId", limits.nameBytesMax, NAME_PATTERN);
  const seq = f.int("seq", 1, SEQ_MAX);
  f.done();
  return { clientId, seq };
}

export function readCommand(value: unknown, limits: ControlLimits): Command {
  const f = new Fields(value, "cmd");
  const kind = f.oneOf("kind", COMMAND_KINDS);
  const name = (field: string): string => f.str(field, limits.nameBytesMax, NAME_PATTERN);
  const deviceId = (): string => {
    const id = f.str("deviceId", 64);
    if (!isDeviceId(id)) throw new FieldError(`${f.at("deviceId")}: device ids are [A-Za-z0-9_-]{1,64}`);
    return id;
  };
  const ttlMs = (): number => f.int("ttlMs", limits.ttlMsMin, limits.ttlMsMax);
  const token = (): number => f.int("token", 1, ID_MAX);
  let cmd: Command;
  switch (kind) {
    case CommandKind.Tick:
    case CommandKind.MemberList:
      cmd = { kind };
      break;
    case CommandKind.DeviceRegister:
      cmd = { kind, deviceId: deviceId(), role: f.oneOf("role", deviceRoles), metadata: readMetadata(f.raw("metadata"), f.at("metadata"), limits) };
      break;
    case CommandKind.DeviceUpdateMetadata:
      cmd = { kind, deviceId: deviceId(), metadata: readMetadata(f.raw("metadata"), f.at("metadata"), limits), expectedRevision: f.int("expectedRevision", 1, ID_MAX) };
      break;
    case CommandKind.DeviceDecommission: {
      const expectedRevision = f.optInt("expectedRevision", 1, ID_MAX);
      cmd = expectedRevision === undefined ? { kind, deviceId: deviceId() } : { kind, deviceId: deviceId(), expectedRevision };
      break;
    }
    case CommandKind.DeviceGet:
      cmd = { kind, deviceId: deviceId() };
      break;
    case CommandKind.DeviceList:
      cmd = readDeviceList(f, limits);
      break;
    case RetiredCommandKind.ConfigSet:
    case RetiredCommandKind.ConfigGet:
      // An old log's entry: its fields kept opaque (canonical re-encoding); it applies as a failure (state-machine.ts).
      cmd = { kind, ...(f.has("deviceId") ? { deviceId: f.raw("deviceId") } : {}), ...(f.has("config") ? { config: f.raw("config") } : {}),
        ...(f.has("expectedVersion") ? { expectedVersion: f.raw("expectedVersion") } : {}) };
      break;
    case CommandKind.LeaseGrant:
      cmd = { kind, holder: name("holder"), ttlMs: ttlMs() };
      break;
    case CommandKind.LeaseKeepAlive:
    case CommandKind.LeaseRevoke:
      cmd = { kind, leaseId: f.int("leaseId", 1, ID_MAX), holder: name("holder") };
      break;
    case CommandKind.RoleAcquire:
      cmd = { kind, role: name("role"), nodeId: name("nodeId"), ttlMs: ttlMs() };
      break;
    case CommandKind.RoleRelease:
      cmd = { kind, role: name("role"), nodeId: name("nodeId") };
      break;
    case CommandKind.RoleGet:
      cmd = { kind, role: name("role") };
      break;
    case CommandKind.LockTryAcquire:
      cmd = { kind, name: name("name"), holder: name("holder"), ttlMs: ttlMs() };
      break;
    case CommandKind.LockRelease:
      cmd = { kind, name: name("name"), holder: name("holder"), token: token() };
      break;
    case CommandKind.LockExtend:
      cmd = { kind, name: name("name"), holder: name("holder"), token: token(), ttlMs: ttlMs() };
      break;
    case CommandKind.LockCheckFence:
      cmd = { kind, name: name("name"), token: token() };
      break;
    case CommandKind.MemberJoin:
      cmd = {
        kind, nodeId: name("nodeId"), address: name("address"),
        roles: readCloudRoles(f.array("roles", limits.memberRolesMax), f.at("roles")),
        resources: readResources(f.raw("resources"), f.at("resources")), ttlMs: ttlMs(),
      };
      break;
    case CommandKind.MemberHeartbeat: {
      const base = { kind, nodeId: name("nodeId"), incarnation: f.int("incarnation", 1, ID_MAX) };
      cmd = f.has("resources") ? { ...base, resources: readResources(f.raw("resources"), f.at("resources")) } : base;
      break;
    }
    case CommandKind.MemberLeave:
      cmd = { kind, nodeId: name("nodeId"), incarnation: f.int("incarnation", 1, ID_MAX) };
      break;
    case CommandKind.RulePut: {
      const ruleJson = f.str("ruleJson", limits.ruleBytesMax);
      const expectedVersion = f.optInt("expectedVersion", 0, ID_MAX);
      cmd = expectedVersion === undefined ? { kind, ruleJson } : { kind, ruleJson, expectedVersion };
      break;
    }
    case CommandKind.RuleDelete:
      cmd = { kind, ruleId: f.str("ruleId", limits.nameBytesMax) };
      break;
    case CommandKind.RuleList:
      cmd = { kind };
      break;
    case CommandKind.RestoreChunk:
      cmd = {
        kind, restoreId: name("restoreId"), index: f.int("index", 0, ID_MAX), total: f.int("total", 1, ID_MAX),
        sha256: f.str("sha256", 64, SHA256_PATTERN), data: f.str("data", limits.commandBytesMax, BASE64_PATTERN),
      };
      break;
    case CommandKind.RestoreCommit:
      cmd = { kind, restoreId: name("restoreId"), counterGap: f.int("counterGap", 0, RESTORE_COUNTER_GAP_MAX) };
      break;
  }
  f.done();
  return cmd;
}

function readDeviceList(f: Fields, limits: ControlLimits): Command {
  const limit = f.int("limit", 1, limits.listLimitMax);
  const after = f.optStr("afterDeviceId", 64);
  const includeDecommissioned = f.optBool("includeDecommissioned");
  return {
    kind: CommandKind.DeviceList,
    limit,
    ...(after !== undefined ? { afterDeviceId: after } : {}),
    ...(includeDecommissioned !== undefined ? { includeDecommissioned } : {}),
  };
}

export function readMetadata(v: unknown, path: string, limits: ControlLimits): Record<string, string> {
  return readFlatMap(v, path, limits.metadataEntriesMax, limits.metadataBytesMax,
    (x, p) => checkString(x, p, limits.metadataBytesMax), utf8Bytes);
}

export function readCloudRoles(items: unknown[], path: string): CloudRole[] {
  const roles: CloudRole[] = [];
  items.forEach((r, i) => {
    if (typeof r !== "string" || !(CLOUD_ROLES as readonly string[]).includes(r)) {
      throw new FieldError(`${path}[${i}]: expected one of ${CLOUD_ROLES.join(", ")}`);
    }
    if (roles.includes(r as CloudRole)) throw new FieldError(`${path}[${i}]: duplicate role ${r}`);
    roles.push(r as CloudRole);
  });
  // Sorted, so the same set of roles has one encoding (unsorted bytes then
  // fail the canonical check; unsorted objects are normalised).
  return roles.sort();
}

export function readResources(v: unknown, path: string): MemberResources {
  const f = new Fields(v, path);
  const r = { cpuMillis: f.int("cpuMillis", 0, 1 << 30), memoryBytes: f.int("memoryBytes", 0, Number.MAX_SAFE_INTEGER) };
  f.done();
  return r;
}

export { KEY_PATTERN, NAME_PATTERN };

// Retired kinds too: an old snapshot's session table may hold their results.
const RESULT_KINDS: readonly string[] = [...Object.values(CommandKind), ...Object.values(RetiredCommandKind)];
const RESULT_CODES: readonly string[] = Object.values(ControlError);

/** Shallow check of a remembered ApplyResult (a session's response in a
 *  snapshot): it is returned to its client verbatim, never interpreted here. */
export function readApplyResult(v: unknown, path: string): ApplyResult {
  if (!isPlainObject(v)) throw new FieldError(`${path}: result is not an object`);
  const okSuccess = v.ok === true && typeof v.kind === "string" && RESULT_KINDS.includes(v.kind) && isPlainObject(v.value);
  const okFailure = v.ok === false && typeof v.code === "string" && RESULT_CODES.includes(v.code) && typeof v.message === "string";
  if (!okSuccess && !okFailure) throw new FieldError(`${path}: malformed result`);
  return v as unknown as ApplyResult;
}
