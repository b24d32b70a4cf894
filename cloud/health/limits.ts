// Named limits and shared argument checks for the detectors.

/** Hard cap on nodes any single detector instance may monitor. */
export const DETECTOR_NODES_MAX = 1_000_000;
/** Hard cap on the phi-accrual window (Akka's default is 1000). */
export const PHI_SAMPLE_SIZE_MAX = 100_000;

export function assertTimeMs(what: string, nowMs: number): void {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) {
    throw new Error(`${what}: time must be a non-negative integer of ms, got ${nowMs}`);
  }
}

export function requireConfig(ok: boolean, message: string): void {
  if (!ok) throw new Error(`invalid failure-detector config: ${message}`);
}
