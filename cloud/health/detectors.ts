// One constructor for every detector configuration: callers (the heartbeat
// manager, the benchmark) select a detector per use through `DetectorConfig`.

import { PhiAccrualDetector } from "./phi-accrual";
import { TimeoutDetector } from "./timeout-detector";
import { DetectorKind, type DetectorConfig, type FailureDetector } from "./types";

export function createDetector(config: DetectorConfig): FailureDetector {
  switch (config.kind) {
    case DetectorKind.Timeout:
      return new TimeoutDetector(config);
    case DetectorKind.PhiAccrual:
      return new PhiAccrualDetector(config);
    default: {
      const never: never = config;
      throw new Error(`createDetector: unknown detector kind ${JSON.stringify(never)}`);
    }
  }
}

/** Short human-readable description, for logs and benchmark tables. */
export function describeDetector(config: DetectorConfig): string {
  if (config.kind === DetectorKind.Timeout) return `timeout ${config.timeoutMs} ms`;
  return (
    `phi>=${config.threshold} window=${config.maxSampleSize} minStd=${config.minStdDeviationMs}ms ` +
    `pause=${config.acceptableHeartbeatPauseMs}ms`
  );
}
