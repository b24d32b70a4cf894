// Pure request handling for the JSON endpoints: query-string validation
// (every bad parameter is a clear 400, never a silent default) and the
// filter/sort/page step over a fleet snapshot. No I/O here.
import { isDeviceId } from "../../shared/topics";
import {
  devicePresences, DevicePresence, type DashboardLimits, type DeviceRow, type FleetSnapshot, type HistoryQuery, type WindowsQuery,
} from "./types";

/** A bad request parameter; the message is shown to the caller as is. */
export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueryError";
  }
}

export const FleetSort = {
  DeviceId: "deviceId",
  Role: "role",
  Presence: "presence",
  PresenceSince: "presenceSinceMs",
  LastSeen: "lastSeenMs",
  Firmware: "firmware",
  FreeHeap: "freeHeapBytes",
  Rssi: "rssiDbm",
} as const;
export type FleetSort = (typeof FleetSort)[keyof typeof FleetSort];
const fleetSorts: readonly string[] = Object.values(FleetSort);

export interface FleetQuery {
  offset: number;
  limit: number;
  /** Case-insensitive substring of device id, role, firmware or location. */
  q: string;
  presence: DevicePresence | null;
  role: string | null;
  sort: FleetSort;
  order: "asc" | "desc";
}

export const filterTextBytesMax = 64;
const fleetParams = ["offset", "limit", "q", "presence", "role", "sort", "order"];
const historyParams = ["device", "channel", "fromMs", "toMs", "limit"];
const channelPattern = /^[\x21-\x7e]{1,64}$/;

function rejectUnknown(params: URLSearchParams, allowed: readonly string[]): void {
  for (const key of params.keys()) {
    if (!allowed.includes(key)) {
      throw new QueryError(`unknown parameter "${key}"; allowed: ${allowed.join(", ")}`);
    }
  }
}

function single(params: URLSearchParams, name: string): string | null {
  const all = params.getAll(name);
  if (all.length > 1) throw new QueryError(`parameter "${name}" given ${all.length} times; give it once`);
  return all.length === 0 ? null : all[0]!;
}

/** Parses a non-negative integer parameter within [min, max]. */
export function intParam(params: URLSearchParams, name: string, min: number, max: number, fallback: number): number {
  const raw = single(params, name);
  if (raw === null || raw === "") return fallback;
  if (!/^-?\d{1,16}$/.test(raw)) throw new QueryError(`parameter "${name}" must be an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new QueryError(`parameter "${name}" must be between ${min} and ${max}, got ${raw}`);
  }
  return n;
}

function oneOf<T extends string>(params: URLSearchParams, name: string, allowed: readonly T[]): T | null {
  const raw = single(params, name);
  if (raw === null || raw === "") return null;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new QueryError(`parameter "${name}" must be one of ${allowed.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

export function parseFleetQuery(params: URLSearchParams, limits: Pick<DashboardLimits, "devicesPageMax">): FleetQuery {
  rejectUnknown(params, fleetParams);
  const q = single(params, "q") ?? "";
  if (q.length > filterTextBytesMax) throw new QueryError(`parameter "q" is longer than ${filterTextBytesMax} characters`);
  const role = single(params, "role");
  if (role !== null && role.length > filterTextBytesMax) {
    throw new QueryError(`parameter "role" is longer than ${filterTextBytesMax} characters`);
  }
  return {
    offset: intParam(params, "offset", 0, 1_000_000_000, 0),
    limit: intParam(params, "limit", 1, limits.devicesPageMax, Math.min(50, limits.devicesPageMax)),
    q: q.toLowerCase(),
    presence: oneOf(params, "presence", devicePresences),
    role: role === "" ? null : role,
    sort: oneOf(params, "sort", fleetSorts as readonly FleetSort[]) ?? FleetSort.DeviceId,
    order: oneOf(params, "order", ["asc", "desc"] as const) ?? "asc",
  };
}

export function parseHistoryQuery(
  params: URLSearchParams, limits: Pick<DashboardLimits, "historyPointsMax" | "historySpanMsMax">, nowMs: number,
): HistoryQuery {
  rejectUnknown(params, historyParams);
  const deviceId = single(params, "device");
  if (deviceId === null || deviceId === "") throw new QueryError(`parameter "device" is required`);
  if (!isDeviceId(deviceId)) {
    throw new QueryError(`parameter "device" is not a device id (1-64 of A-Z a-z 0-9 _ -): ${JSON.stringify(deviceId.slice(0, 80))}`);
  }
  const channel = single(params, "channel");
  if (channel === null || channel === "") throw new QueryError(`parameter "channel" is required`);
  if (!channelPattern.test(channel)) {
    throw new QueryError(`parameter "channel" must be 1-64 printable characters without spaces`);
  }
  const toMs = intParam(params, "toMs", 0, Number.MAX_SAFE_INTEGER, nowMs);
  const fromMs = intParam(params, "fromMs", 0, Number.MAX_SAFE_INTEGER, Math.max(0, toMs - 3600_000));
  if (fromMs >= toMs) throw new QueryError(`"fromMs" (${fromMs}) must be before "toMs" (${toMs})`);
  if (toMs - fromMs > limits.historySpanMsMax) {
    throw new QueryError(`time range ${toMs - fromMs} ms is wider than the ${limits.historySpanMsMax} ms allowed`);
  }
  const limit = intParam(params, "limit", 1, limits.historyPointsMax, Math.min(500, limits.historyPointsMax));
  return { deviceId, channel, fromMs, toMs, limit };
}

/** /api/windows?device=&fromMs=&toMs=&limit=: one device's window results (default: the last 15 minutes). */
export function parseWindowsQuery(
  params: URLSearchParams, limits: Pick<DashboardLimits, "windowsMax" | "windowsSpanMsMax">, nowMs: number,
): WindowsQuery {
  rejectUnknown(params, ["device", "fromMs", "toMs", "limit"]);
  const deviceId = single(params, "device");
  if (deviceId === null || deviceId === "") throw new QueryError(`parameter "device" is required`);
  if (!isDeviceId(deviceId)) {
    throw new QueryError(`parameter "device" is not a device id (1-64 of A-Z a-z 0-9 _ -): ${JSON.stringify(deviceId.slice(0, 80))}`);
  }
  const toMs = intParam(params, "toMs", 0, Number.MAX_SAFE_INTEGER, nowMs);
  const fromMs = intParam(params, "fromMs", 0, Number.MAX_SAFE_INTEGER, Math.max(0, toMs - 15 * 60_000));
  if (fromMs >= toMs) throw new QueryError(`"fromMs" (${fromMs}) must be before "toMs" (${toMs})`);
  if (toMs - fromMs > limits.windowsSpanMsMax) {
    throw new QueryError(`time range ${toMs - fromMs} ms is wider than the ${limits.windowsSpanMsMax} ms allowed`);
  }
  const limit = intParam(params, "limit", 1, limits.windowsMax, Math.min(200, limits.windowsMax));
  return { deviceId, fromMs, toMs, limit };
}

/** /api/shadow?device=<id>: the device id. */
export function parseShadowQuery(params: URLSearchParams): string {
  rejectUnknown(params, ["device"]);
  const deviceId = single(params, "device");
  if (deviceId === null || deviceId === "") throw new QueryError(`parameter "device" is required`);
  if (!isDeviceId(deviceId)) {
    throw new QueryError(`parameter "device" is not a device id (1-64 of A-Z a-z 0-9 _ -): ${JSON.stringify(deviceId.slice(0, 80))}`);
  }
  return deviceId;
}

export interface FleetTotals {
  devices: number;
  online: number;
  offline: number;
  unknown: number;
  /** Device count per role. */
  roles: Record<string, number>;
}

export function fleetTotals(devices: readonly DeviceRow[]): FleetTotals {
  const t: FleetTotals = { devices: devices.length, online: 0, offline: 0, unknown: 0, roles: {} };
  for (const d of devices) {
    if (d.presence === DevicePresence.Online) t.online++;
    else if (d.presence === DevicePresence.Offline) t.offline++;
    else t.unknown++;
    t.roles[d.role] = (t.roles[d.role] ?? 0) + 1;
  }
  return t;
}

export interface FleetPage {
  generatedMs: number;
  totals: FleetTotals;
  truncated: boolean;
  errors: string[];
  /** Rows matching the filter, before paging. */
  matched: number;
  offset: number;
  limit: number;
  sort: FleetSort;
  order: "asc" | "desc";
  devices: DeviceRow[];
}

function compareRows(a: DeviceRow, b: DeviceRow, sort: FleetSort): number {
  const x = a[sort];
  const y = b[sort];
  // Unknown values sort last in either order; see pageFleet.
  if (x === y) return 0;
  if (typeof x === "number" && typeof y === "number") return x - y;
  return String(x).localeCompare(String(y));
}

function matches(d: DeviceRow, q: FleetQuery): boolean {
  if (q.presence !== null && d.presence !== q.presence) return false;
  if (q.role !== null && d.role !== q.role) return false;
  if (q.q === "") return true;
  return [d.deviceId, d.role, d.firmware ?? "", d.location, d.via].some((s) => s.toLowerCase().includes(q.q));
}

/** Filter, sort (nulls last, device id as tie-break) and cut one page. */
export function pageFleet(snapshot: FleetSnapshot, q: FleetQuery): FleetPage {
  const sign = q.order === "asc" ? 1 : -1;
  const rows = snapshot.devices.filter((d) => matches(d, q));
  rows.sort((a, b) => {
    const an = a[q.sort] === null;
    const bn = b[q.sort] === null;
    if (an !== bn) return an ? 1 : -1;
    return sign * compareRows(a, b, q.sort) || a.deviceId.localeCompare(b.deviceId);
  });
  return {
    generatedMs: snapshot.generatedMs,
    totals: fleetTotals(snapshot.devices),
    truncated: snapshot.truncated,
    errors: snapshot.errors,
    matched: rows.length,
    offset: q.offset,
    limit: q.limit,
    sort: q.sort,
    order: q.order,
    devices: rows.slice(q.offset, q.offset + q.limit),
  };
}
