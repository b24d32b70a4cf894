// Settings of the provisioning role (config file section `provisioning`):
// lifetimes and named limits, with their bounds. Composed into the node
// configuration by cloud/node/config.ts.
import type { IntRanges } from "../base";
import { credentialTtlMaxS } from "./issuer";
import { revocationsMaxDefault } from "./revocations";

export interface ProvisioningSettings {
  /** Lifetime of a new claim unless the request asks for less or more (within claimTtlMaxS). */
  claimTtlS: number;
  /** Longest lifetime a claim may be given. */
  claimTtlMaxS: number;
  /** Lifetime of a device credential. */
  credentialTtlS: number;
  /** Claims one claims.create request may make (each ~1.2 KB of reply; the reply must stay under max_payload, 1 MiB). */
  claimsPerRequestMax: number;
  /** Provisioning requests one node handles per second (token bucket), and its burst. */
  requestsPerSec: number;
  requestBurst: number;
  /** Requests one claim may make per claimAttemptWindowS on one node. */
  claimAttemptsMax: number;
  claimAttemptWindowS: number;
  /** Live entries of the FLEET account's revocation list. */
  revocationsMax: number;
  /** Provisioning requests and API calls in flight on one node; more are answered "unavailable". */
  inflightMax: number;
}

export const defaultProvisioningSettings: Readonly<ProvisioningSettings> = Object.freeze({
  claimTtlS: 24 * 3600,
  claimTtlMaxS: 30 * 24 * 3600,
  credentialTtlS: 90 * 24 * 3600,
  claimsPerRequestMax: 500,
  requestsPerSec: 200,
  requestBurst: 500,
  claimAttemptsMax: 10,
  claimAttemptWindowS: 60,
  revocationsMax: revocationsMaxDefault,
  inflightMax: 256,
});

export const provisioningSettingRanges: IntRanges<ProvisioningSettings> = Object.freeze({
  claimTtlS: [60, 30 * 24 * 3600],
  claimTtlMaxS: [60, 30 * 24 * 3600],
  credentialTtlS: [60, credentialTtlMaxS],
  claimsPerRequestMax: [1, 800],
  requestsPerSec: [1, 100_000],
  requestBurst: [1, 1_000_000],
  claimAttemptsMax: [1, 1000],
  claimAttemptWindowS: [1, 3600],
  revocationsMax: [1, 12_000],
  inflightMax: [1, 100_000],
});

/** Cross-field rules the ranges cannot say. */
export function provisioningSettingProblems(s: ProvisioningSettings): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if (s.claimTtlS > s.claimTtlMaxS) out.push({ path: "claimTtlS", message: `must not exceed claimTtlMaxS (${s.claimTtlMaxS})` });
  return out;
}
