// Queries over what the analytics role stored: window results by key
// (device) / operator / time range from XSF_ANALYTICS, and alert history from
// XSF_ALERTS — both read as they are now through the history module's stream
// scan (short-lived ephemeral consumer from a start time, never waiting).
import type { JetStreamClient } from "@nats-io/jetstream";
import { scanStream } from "../history";
import { alertsFilter, alertsStream, analyticsStream, windowResultsFilter } from "../subjects";
import type { WindowResultRecord } from "./outputs";
import type { AlertEvent } from "./types";

/** Most records one query returns / scans. */
export const analyticsQueryLimitMax = 10_000;
export const analyticsScanMax = 200_000;

export interface WindowsQuery {
  /** The window key (a device id for per-device operators). */
  key: string;
  /** One operator, or every one. */
  operator?: string;
  /** Window start in [fromMs, toMs] (ms). */
  fromMs: number;
  toMs: number;
  limit?: number;
}

export interface WindowsResult {
  /** The latest version of each window (a correction replaces the first result), by start then channel. */
  windows: WindowResultRecord[];
  truncated: boolean;
}

/** How far before `fromMs` stored results are read (a window is stored after it closes, corrections later). */
const storedAfterMaxMs = 24 * 3600_000;

export async function queryWindows(js: JetStreamClient, q: WindowsQuery): Promise<WindowsResult> {
  if (typeof q.key !== "string" || q.key === "") throw new Error("queryWindows: key is required");
  if (!Number.isFinite(q.fromMs) || !Number.isFinite(q.toMs) || q.fromMs > q.toMs) throw new Error(`queryWindows: bad range ${q.fromMs}..${q.toMs}`);
  const limit = q.limit ?? 1_000;
  if (!Number.isInteger(limit) || limit < 1 || limit > analyticsQueryLimitMax) throw new Error(`queryWindows: limit must be 1..${analyticsQueryLimitMax}`);
  const jsm = await js.jetstreamManager(false);
  const latest = new Map<string, WindowResultRecord>();
  const startTime = new Date(Math.max(0, q.fromMs - storedAfterMaxMs)).toISOString();
  const r = await scanStream(js, jsm, analyticsStream, windowResultsFilter(q.operator ?? null, q.key), startTime, analyticsScanMax, (data) => {
    const rec = JSON.parse(new TextDecoder().decode(data)) as WindowResultRecord;
    if (rec.start < q.fromMs || rec.start > q.toMs) return;
    // Later records of the same window (corrections) replace earlier ones.
    latest.set(`${rec.operator}\u0000${rec.channel}\u0000${rec.start}`, rec);
  });
  const all = [...latest.values()].sort((a, b) => a.start - b.start || (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0) || (a.operator < b.operator ? -1 : 1));
  return { windows: all.slice(0, limit), truncated: all.length > limit || r.cut };
}

export interface AlertHistoryQuery {
  ruleId?: string;
  key?: string;
  /** Events stored since (ms); default 24 h ago. */
  sinceMs?: number;
  limit?: number;
}

/** Alert events (raised, acknowledged, cleared), oldest first, the newest `limit`. */
export async function alertHistory(js: JetStreamClient, q: AlertHistoryQuery, nowMs: number): Promise<{ events: AlertEvent[]; truncated: boolean }> {
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > analyticsQueryLimitMax) throw new Error(`alertHistory: limit must be 1..${analyticsQueryLimitMax}`);
  const jsm = await js.jetstreamManager(false);
  const events: AlertEvent[] = [];
  const since = q.sinceMs ?? nowMs - 24 * 3600_000;
  const r = await scanStream(js, jsm, alertsStream, alertsFilter(q.ruleId ?? null, q.key ?? null), new Date(Math.max(0, since)).toISOString(), analyticsScanMax, (data) => {
    events.push(JSON.parse(new TextDecoder().decode(data)) as AlertEvent);
  });
  return { events: events.slice(-limit), truncated: events.length > limit || r.cut };
}
