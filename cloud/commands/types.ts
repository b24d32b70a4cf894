// Command delivery contracts. A command is persisted as a CommandRecord in a
// KV bucket before its first send; the record's state moves
// pending -> acked | expired exactly once (a compare-and-set), and only the
// writer of that transition publishes the matching event.
import type { AckStatus } from "../../shared/proto/xsfleet.gen";
import { ackLimits } from "../records";

export const CommandState = {
  Pending: "pending",
  Acked: "acked",
  Expired: "expired",
} as const;
export type CommandState = (typeof CommandState)[keyof typeof CommandState];

/** The device's AckStatus as a name, for JSON. */
export const AckStatusName = {
  Unspecified: "unspecified",
  Ok: "ok",
  Rejected: "rejected",
  Expired: "expired",
  Failed: "failed",
} as const;
export type AckStatusName = (typeof AckStatusName)[keyof typeof AckStatusName];

export function ackStatusName(s: AckStatus | number): AckStatusName {
  return (["unspecified", "ok", "rejected", "expired", "failed"] as const)[s] ?? "unspecified";
}

export interface CommandAckInfo {
  status: AckStatusName;
  message: string;
  /** The device's result, UTF-8 JSON as sent (may be empty). */
  resultJson: string;
  /** The device reported it had already executed this command id. */
  duplicate: boolean;
  ackedMs: number;
}

export interface CommandRecord {
  commandId: string;
  deviceId: string;
  name: string;
  argsJson: string;
  issuedMs: number;
  deadlineMs: number;
  state: CommandState;
  /** Sends so far (first send, timed re-sends and re-sends on Hello). */
  attempt: number;
  /** Timed re-sends so far; bounded by limits.commandRetryAttemptsMax. */
  timedAttempts: number;
  /** Re-sends triggered by the device coming online; bounded by onlineResendsMax. */
  onlineResends: number;
  nextAttemptMs: number;
  /** Node that owns the retry loop until leaseUntilMs ("" = nobody). */
  leaseOwner: string;
  leaseUntilMs: number;
  ack?: CommandAckInfo;
  expiredMs?: number;
  /** W3C traceparent of the call that submitted the command; every attempt joins its trace (spans.ts). */
  traceparent?: string;
}

/** What the API replies and events carry: the record without delivery bookkeeping. */
export interface CommandOutcome {
  commandId: string;
  deviceId: string;
  name: string;
  state: CommandState;
  attempts: number;
  issuedMs: number;
  deadlineMs: number;
  ack?: CommandAckInfo;
  expiredMs?: number;
}

export function outcomeOf(r: CommandRecord): CommandOutcome {
  const o: CommandOutcome = {
    commandId: r.commandId, deviceId: r.deviceId, name: r.name, state: r.state,
    attempts: r.attempt, issuedMs: r.issuedMs, deadlineMs: r.deadlineMs,
  };
  if (r.ack) o.ack = r.ack;
  if (r.expiredMs !== undefined) o.expiredMs = r.expiredMs;
  return o;
}

/** Payload of xsfleet.v1.events.<device>.command-acked and .command-expired (JSON). */
export interface CommandEvent extends CommandOutcome {
  event: "command-acked" | "command-expired";
  /** Node that made the transition. */
  nodeId: string;
}

export const CommandErrorCode = {
  Invalid: "invalid",
  TooManyPending: "too_many_pending",
  Conflict: "conflict",
  NotFound: "not_found",
} as const;
export type CommandErrorCode = (typeof CommandErrorCode)[keyof typeof CommandErrorCode];

export class CommandError extends Error {
  readonly code: CommandErrorCode;
  constructor(code: CommandErrorCode, message: string) {
    super(message);
    this.name = "CommandError";
    this.code = code;
  }
}

export const commandWireLimits = {
  /** One definition with the ack decoder (cloud/records), which checks a device's command ids. */
  commandIdPattern: ackLimits.commandIdPattern,
  namePattern: /^[A-Za-z0-9_.:-]{1,64}$/,
  argsJsonBytesMax: 4096,
  deadlineMsMin: 500,
  /** Re-sends on Hello/online per command: a device in a reconnect loop must not amplify traffic forever. */
  onlineResendsMax: 20,
  /** Ack CAS attempts before giving up (the ack is then retried by the device's next duplicate ack). */
  ackCasAttemptsMax: 10,
} as const;
