// Names of the trust state in JetStream, next to nothing else so that the
// permission table and the stores read them from one place.

/** KV bucket of claim records, device credential records and revocations (docs/security.md). */
export const trustBucket = "xsfleet_trust";

/** Stream of claim-use markers: one message per claim, ever (discard new per subject). */
export const claimUsesStream = "XSF_CLAIM_USES";
