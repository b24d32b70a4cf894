// Alerts and window results for the dashboard (docs/dashboard.md "Alerts"),
// without I/O:
// - the body of POST /api/alerts/ack: bounded by the server, then exactly
//   {ruleId, key, episode} with the API's own patterns, else a QueryError (400);
// - the API's replies to alerts.list, alerts.ack and analytics.windows reduced
//   to the rows the page draws. They come over the wire: a malformed entry is
//   skipped, never thrown; a reply that is not the expected shape is a 502;
// - ApiCallError: a failed API call with the HTTP status the dashboard answers
//   (503 nobody serves it, 504 no answer in time, 502 an unreadable reply,
//   the API's own 400/404/409 passed through, other API failures 502).
import { QueryError } from "./query";
import type { AlertAckInput, AlertRow, WindowRow, WindowsView } from "./types";

/** A failed call to the management API; `status` is what the dashboard answers. */
export class ApiCallError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = "ApiCallError";
  }
}

/** The API's statuses an operator can act on pass through; the rest mean the API failed us. */
export function dashboardStatusOfApiError(apiStatus: number): number {
  if (apiStatus === 400 || apiStatus === 404 || apiStatus === 409 || apiStatus === 410) return apiStatus;
  if (apiStatus === 501 || apiStatus === 503) return 503; // the node answering has no analytics / is overloaded
  if (apiStatus === 504) return 504;
  return 502;
}

// The API's alerts.ack patterns (cloud/api analytics-endpoints.ts).
const rulePattern = /^[A-Za-z0-9_.-]{1,128}$/;
const keyBytesMax = 128;
const ackFields = ["ruleId", "key", "episode"];

/** Validates the JSON text of POST /api/alerts/ack. */
export function parseAckBody(text: string): AlertAckInput {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new QueryError(`the body must be JSON {"ruleId", "key", "episode"}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new QueryError(`the body must be a JSON object {"ruleId", "key", "episode"}`);
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!ackFields.includes(k)) throw new QueryError(`unknown field "${k.slice(0, 40)}"; allowed: ${ackFields.join(", ")}`);
  const { ruleId, key, episode } = b;
  if (typeof ruleId !== "string" || !rulePattern.test(ruleId)) throw new QueryError(`"ruleId" must be 1-128 of A-Z a-z 0-9 _ . -`);
  if (typeof key !== "string" || key.length === 0 || Buffer.byteLength(key) > keyBytesMax) throw new QueryError(`"key" must be a non-empty string of at most ${keyBytesMax} bytes`);
  if (typeof episode !== "number" || !Number.isSafeInteger(episode) || episode < 1) throw new QueryError(`"episode" must be a positive integer`);
  return { ruleId, key, episode };
}

const states: readonly string[] = ["raised", "acknowledged", "cleared"];
const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** One AlertJson of the API as a row; null when it is not one. */
export function alertRow(v: unknown): AlertRow | null {
  if (typeof v !== "object" || v === null) return null;
  const a = v as Record<string, unknown>;
  if (typeof a.ruleId !== "string" || typeof a.key !== "string" || !finite(a.episode) || typeof a.state !== "string" || !states.includes(a.state)) return null;
  if (!finite(a.raisedAtMs)) return null;
  const state = a.state as AlertRow["state"];
  const since = state === "cleared" ? a.clearedAtMs : state === "acknowledged" ? a.ackedAtMs : a.raisedAtMs;
  return {
    ruleId: a.ruleId, key: a.key, episode: a.episode, state,
    reason: typeof a.reason === "string" ? a.reason : "",
    value: finite(a.value) ? a.value : null,
    sinceMs: finite(since) ? since : a.raisedAtMs,
    raisedAtMs: a.raisedAtMs,
    ackedBy: typeof a.ackedBy === "string" ? a.ackedBy : null,
  };
}

function field(reply: unknown, name: string, endpoint: string): unknown {
  if (typeof reply !== "object" || reply === null || !(name in reply)) throw new ApiCallError(`${endpoint} replied without "${name}"`, 502);
  return (reply as Record<string, unknown>)[name];
}

/** The reply of alerts.list as rows (bad entries skipped). */
export function alertRows(reply: unknown): AlertRow[] {
  const list = field(reply, "alerts", "alerts.list");
  if (!Array.isArray(list)) throw new ApiCallError(`alerts.list replied with "alerts" not a list`, 502);
  return list.map(alertRow).filter((r): r is AlertRow => r !== null);
}

/** The reply of alerts.ack: the alert after the ack. */
export function ackedAlert(reply: unknown): AlertRow {
  const row = alertRow(field(reply, "alert", "alerts.ack"));
  if (!row) throw new ApiCallError(`alerts.ack replied with an unreadable alert`, 502);
  return row;
}

/** The reply of analytics.windows as rows in time order (bad entries skipped). */
export function windowRows(reply: unknown): WindowsView {
  const list = field(reply, "windows", "analytics.windows");
  if (!Array.isArray(list)) throw new ApiCallError(`analytics.windows replied with "windows" not a list`, 502);
  const windows: WindowRow[] = [];
  for (const v of list) {
    if (typeof v !== "object" || v === null) continue;
    const w = v as Record<string, unknown>;
    if (typeof w.operator !== "string" || typeof w.channel !== "string" || !finite(w.start) || !finite(w.end)) continue;
    if (!finite(w.count) || !finite(w.min) || !finite(w.max) || !finite(w.mean)) continue;
    windows.push({ operator: w.operator, channel: w.channel, startMs: w.start, endMs: w.end, count: w.count, min: w.min, max: w.max, mean: w.mean, final: w.final === true });
  }
  windows.sort((a, b) => a.startMs - b.startMs);
  return { windows, truncated: (reply as Record<string, unknown>).truncated === true };
}
