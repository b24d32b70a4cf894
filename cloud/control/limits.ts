// Named limits of the control-plane state machine. Every map has a maximum,
// checked before each insert; every field has a size bound, checked at
// decode. All replicas must run with the same limits (they decide results),
// so a cluster treats them as part of its configuration.

export interface ControlLimits {
  /** Encoded command (envelope) size. */
  readonly commandBytesMax: number;
  /** Snapshot size accepted by restore(). */
  readonly snapshotBytesMax: number;
  /** Base64 bytes of a backup being restored (restore.chunk), staged until restore.commit. */
  readonly restoreStagingBytesMax: number;
  /** Lock names, role names, holder/node/client ids, addresses. */
  readonly nameBytesMax: number;
  readonly devicesMax: number;
  readonly metadataEntriesMax: number;
  /** Sum of UTF-8 bytes of keys and values of one device's metadata. */
  readonly metadataBytesMax: number;
  /** Page size of device.list. */
  readonly listLimitMax: number;
  readonly leasesMax: number;
  readonly rolesMax: number;
  readonly locksMax: number;
  readonly membersMax: number;
  readonly memberRolesMax: number;
  readonly sessionsMax: number;
  /** Alert rules stored (rules.ts). */
  readonly rulesMax: number;
  /** One rule's canonical JSON. */
  readonly ruleBytesMax: number;
  /** Responses remembered per session (for out-of-order retries). */
  readonly sessionResponsesMax: number;
  /** A session idle this long (state-machine time) is forgotten. */
  readonly sessionTtlMs: number;
  readonly ttlMsMin: number;
  readonly ttlMsMax: number;
}

export const DEFAULT_CONTROL_LIMITS: ControlLimits = Object.freeze({
  commandBytesMax: 64 * 1024,
  snapshotBytesMax: 512 * 1024 * 1024,
  restoreStagingBytesMax: 192 * 1024 * 1024,
  nameBytesMax: 128,
  devicesMax: 100_000,
  metadataEntriesMax: 32,
  metadataBytesMax: 4096,
  listLimitMax: 1000,
  leasesMax: 10_000,
  rolesMax: 4096,
  locksMax: 10_000,
  membersMax: 256,
  memberRolesMax: 8,
  sessionsMax: 10_000,
  rulesMax: 500,
  ruleBytesMax: 16 * 1024,
  sessionResponsesMax: 16,
  sessionTtlMs: 10 * 60_000,
  ttlMsMin: 1,
  ttlMsMax: 24 * 3600_000,
});

export function resolveLimits(overrides: Partial<ControlLimits> = {}): ControlLimits {
  const limits: ControlLimits = { ...DEFAULT_CONTROL_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new Error(`invalid control-plane limit ${name}: must be a positive integer, got ${String(value)}`);
    }
  }
  if (limits.ttlMsMin > limits.ttlMsMax) {
    throw new Error(`invalid control-plane limits: ttlMsMin ${limits.ttlMsMin} > ttlMsMax ${limits.ttlMsMax}`);
  }
  return Object.freeze(limits);
}
