// Settings of command delivery: limits (config file `limits.*`) and retry
// timing (`commands.*`), with defaults and bounds. Composed into the node
// configuration by cloud/node/config.ts.
import type { IntRanges, SettingProblem } from "../base";

export interface CommandLimits {
  /** Pending (unacknowledged, unexpired) commands across the fleet. */
  commandsPendingMax: number;
  /** Pending commands per device. */
  commandsPerDeviceMax: number;
  /** Longest deadline a command may be given. */
  commandDeadlineMsMax: number;
  /** Timed re-sends per command (re-sends on device Hello are counted apart). */
  commandRetryAttemptsMax: number;
}

export const defaultCommandLimits: Readonly<CommandLimits> = Object.freeze({
  commandsPendingMax: 10_000,
  commandsPerDeviceMax: 32,
  commandDeadlineMsMax: 7 * 24 * 3600_000,
  commandRetryAttemptsMax: 30,
});

export const commandLimitRanges: IntRanges<CommandLimits> = Object.freeze({
  commandsPendingMax: [1, 1_000_000],
  commandsPerDeviceMax: [1, 10_000],
  commandDeadlineMsMax: [1000, 30 * 24 * 3600_000],
  commandRetryAttemptsMax: [0, 1000],
});

export interface CommandRetrySettings {
  /** First re-send delay; doubles per attempt up to retryMaxMs (with jitter). */
  retryInitialMs: number;
  retryMaxMs: number;
  /** How long a node owns a command's retry loop after each send. */
  leaseMs: number;
  /** Period of the retry/expiry loop. */
  tickMs: number;
}

export const defaultCommandRetry: Readonly<CommandRetrySettings> = Object.freeze({
  retryInitialMs: 500,
  retryMaxMs: 10_000,
  leaseMs: 15_000,
  tickMs: 200,
});

export const commandRetryRanges: IntRanges<CommandRetrySettings> = Object.freeze({
  retryInitialMs: [10, 600_000],
  retryMaxMs: [10, 3600_000],
  leaseMs: [100, 3600_000],
  tickMs: [10, 60_000],
});

/** Rules between retry settings (each within its range); paths relative to `commands`. */
export function commandRetryProblems(s: CommandRetrySettings): SettingProblem[] {
  const out: SettingProblem[] = [];
  if (s.retryMaxMs < s.retryInitialMs) out.push({ path: "retryMaxMs", message: `must be >= commands.retryInitialMs (${s.retryInitialMs})` });
  if (s.leaseMs <= s.retryMaxMs) out.push({ path: "leaseMs", message: `must be longer than commands.retryMaxMs (${s.retryMaxMs}) so an owner keeps its lease between re-sends` });
  return out;
}
