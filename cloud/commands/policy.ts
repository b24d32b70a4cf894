// The pure part of command delivery: given a record, the time and this
// node's id, what should happen next. No I/O, no clock reads; the worker
// applies the decision with a compare-and-set so that, across nodes, each
// decision is taken by exactly one of them.
import type { CommandRetrySettings } from "./settings";
import { CommandState, commandWireLimits, type CommandRecord } from "./types";

export type CommandAction = "none" | "send" | "expire";

/** Exponential backoff with full jitter over the upper half: delay(n) in [d/2, d], d = min(initial * 2^(n-1), max). */
export function retryDelayMs(timedAttempt: number, s: Pick<CommandRetrySettings, "retryInitialMs" | "retryMaxMs">, random01: number): number {
  const exp = Math.min(Math.max(timedAttempt - 1, 0), 30);
  const d = Math.min(s.retryInitialMs * 2 ** exp, s.retryMaxMs);
  return Math.round(d / 2 + (d / 2) * random01);
}

function holdsOrMayTakeLease(r: CommandRecord, nodeId: string, nowMs: number): boolean {
  return r.leaseOwner === "" || r.leaseOwner === nodeId || r.leaseUntilMs <= nowMs;
}

export function decide(r: CommandRecord, nowMs: number, nodeId: string, attemptsMax: number): CommandAction {
  if (r.state !== CommandState.Pending) return "none";
  // Only the lease holder (or anyone once the lease lapsed) acts, so nodes do not race on every tick.
  if (!holdsOrMayTakeLease(r, nodeId, nowMs)) return "none";
  if (nowMs >= r.deadlineMs) return "expire";
  if (nowMs < r.nextAttemptMs || r.timedAttempts >= attemptsMax) return "none";
  return "send";
}

/** The record after a timed re-send by `nodeId`. */
export function afterTimedSend(r: CommandRecord, nowMs: number, nodeId: string, s: CommandRetrySettings, random01: number): CommandRecord {
  const timedAttempts = r.timedAttempts + 1;
  return {
    ...r, attempt: r.attempt + 1, timedAttempts,
    nextAttemptMs: nowMs + retryDelayMs(timedAttempts + 1, s, random01),
    leaseOwner: nodeId, leaseUntilMs: nowMs + s.leaseMs,
  };
}

/** The record after a re-send because the device came online, or null when that is not allowed. */
export function afterOnlineSend(r: CommandRecord, nowMs: number, nodeId: string, s: CommandRetrySettings): CommandRecord | null {
  if (r.state !== CommandState.Pending || nowMs >= r.deadlineMs || r.onlineResends >= commandWireLimits.onlineResendsMax) return null;
  return {
    ...r, attempt: r.attempt + 1, onlineResends: r.onlineResends + 1,
    nextAttemptMs: nowMs + s.retryInitialMs,
    leaseOwner: nodeId, leaseUntilMs: nowMs + s.leaseMs,
  };
}

export function afterExpire(r: CommandRecord, nowMs: number): CommandRecord {
  return { ...r, state: CommandState.Expired, expiredMs: nowMs, leaseOwner: "", leaseUntilMs: 0 };
}
