// The device registry contract. Deliberately narrow: a later issue moves the
// registry onto the Raft control plane, and every implementation must offer
// the same linearizable-per-device semantics — reads see the latest write,
// and concurrent writes to one device either both apply (retried on top of
// each other) or one fails with a conflict; no update is silently lost.

export const DeviceLifecycle = {
  Registered: "registered",
  Decommissioned: "decommissioned",
} as const;
export type DeviceLifecycle = (typeof DeviceLifecycle)[keyof typeof DeviceLifecycle];

export interface DeviceRecord {
  deviceId: string;
  lifecycle: DeviceLifecycle;
  registeredMs: number;
  updatedMs: number;
  decommissionedMs?: number;
  metadata: Record<string, string>;
  /** Opaque per-device revision; pass it back as expectedRevision for compare-and-set. */
  revision: number;
}

export interface ListOptions {
  /** Only devices in this lifecycle state (default: all). */
  lifecycle?: DeviceLifecycle;
  /** Page size; the implementation caps it. */
  limit: number;
  /** Resume after this device id (ids are listed in ascending order). */
  after?: string;
}

export interface DevicePage {
  devices: DeviceRecord[];
  /** Pass as `after` to get the next page; absent on the last page. */
  next?: string;
}

export interface WriteOptions {
  /** Fail with a conflict unless the record is still at this revision. */
  expectedRevision?: number;
}

export interface DeviceRegistry {
  /** Creates the record; re-registers a decommissioned device. Fails with already_exists if registered. */
  register(deviceId: string, init?: { metadata?: Record<string, string> }): Promise<DeviceRecord>;
  get(deviceId: string): Promise<DeviceRecord | null>;
  list(opts: ListOptions): Promise<DevicePage>;
  decommission(deviceId: string, opts?: WriteOptions): Promise<DeviceRecord>;
  /** Merges the patch; a null value removes the key. */
  setMetadata(deviceId: string, patch: Record<string, string | null>, opts?: WriteOptions): Promise<DeviceRecord>;
}

export const RegistryErrorCode = {
  NotFound: "not_found",
  AlreadyExists: "already_exists",
  Conflict: "conflict",
  Decommissioned: "decommissioned",
  Invalid: "invalid",
  Unavailable: "unavailable",
} as const;
export type RegistryErrorCode = (typeof RegistryErrorCode)[keyof typeof RegistryErrorCode];

/** Expected failures of registry operations (the caller's input or a race), never bugs. */
export class RegistryError extends Error {
  readonly code: RegistryErrorCode;
  constructor(code: RegistryErrorCode, message: string) {
    super(message);
    this.name = "RegistryError";
    this.code = code;
  }
}

export const registryLimits = {
  metadataKeysMax: 64,
  metadataKeyBytesMax: 64,
  metadataValueBytesMax: 1024,
  /** Compare-and-set attempts before a write gives up with a conflict. */
  casAttemptsMax: 50,
} as const;
