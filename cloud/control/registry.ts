// Device registry: registration with metadata, lookup, paged listing,
// decommission, and metadata updates guarded by the record's revision
// (compare-and-set, so two operators editing the same device cannot lose
// each other's change silently).
//
// A decommissioned device keeps its record (status "decommissioned") so
// discovery can still show what it was; registering it again reactivates it
// with a higher revision. Records count against devicesMax either way.

import { deviceRoles } from "../../shared/device-role";
import { readMetadata } from "./codec";
import { Fields, FieldError } from "./fields";
import type { ControlLimits } from "./limits";
import {
  CommandKind,
  ControlError,
  DeviceStatus,
  failure,
  success,
  type DeviceDecommissionCommand,
  type DeviceGetCommand,
  type DeviceListCommand,
  type DeviceRecord,
  type DeviceRegisterCommand,
  type DeviceUpdateMetadataCommand,
  type ResultFor,
} from "./types";

export class DeviceRegistry {
  readonly #limits: ControlLimits;
  /** Invariant: every record's revision >= 1 and updatedAtMs >= registeredAtMs. */
  readonly #devices = new Map<string, DeviceRecord>();

  constructor(limits: ControlLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#devices.size;
  }

  register(cmd: DeviceRegisterCommand, timeMs: number): ResultFor<typeof CommandKind.DeviceRegister> {
    const existing = this.#devices.get(cmd.deviceId);
    if (existing?.status === DeviceStatus.Active) {
      return failure(ControlError.AlreadyExists, `device ${cmd.deviceId} is already registered`, { current: existing.revision });
    }
    if (!existing && this.#devices.size >= this.#limits.devicesMax) {
      return failure(ControlError.LimitExceeded, `device registry is full (devicesMax ${this.#limits.devicesMax})`);
    }
    const record: DeviceRecord = {
      deviceId: cmd.deviceId,
      role: cmd.role,
      metadata: { ...cmd.metadata },
      revision: existing ? existing.revision + 1 : 1,
      status: DeviceStatus.Active,
      registeredAtMs: timeMs,
      updatedAtMs: timeMs,
    };
    this.#devices.set(cmd.deviceId, record);
    return success(CommandKind.DeviceRegister, record);
  }

  updateMetadata(cmd: DeviceUpdateMetadataCommand, timeMs: number): ResultFor<typeof CommandKind.DeviceUpdateMetadata> {
    const d = this.#devices.get(cmd.deviceId);
    if (!d) return failure(ControlError.NotFound, `device ${cmd.deviceId} is not registered`);
    if (d.status !== DeviceStatus.Active) return failure(ControlError.Decommissioned, `device ${cmd.deviceId} is decommissioned`);
    if (d.revision !== cmd.expectedRevision) {
      return failure(ControlError.Conflict, `device ${cmd.deviceId} is at revision ${d.revision}, not ${cmd.expectedRevision}`, { current: d.revision });
    }
    const record: DeviceRecord = { ...d, metadata: { ...cmd.metadata }, revision: d.revision + 1, updatedAtMs: timeMs };
    this.#devices.set(cmd.deviceId, record);
    return success(CommandKind.DeviceUpdateMetadata, record);
  }

  decommission(cmd: DeviceDecommissionCommand, timeMs: number): ResultFor<typeof CommandKind.DeviceDecommission> {
    const d = this.#devices.get(cmd.deviceId);
    if (!d) return failure(ControlError.NotFound, `device ${cmd.deviceId} is not registered`);
    if (d.status !== DeviceStatus.Active) return failure(ControlError.Decommissioned, `device ${cmd.deviceId} is already decommissioned`);
    if (cmd.expectedRevision !== undefined && d.revision !== cmd.expectedRevision) {
      return failure(ControlError.Conflict, `device ${cmd.deviceId} is at revision ${d.revision}, not ${cmd.expectedRevision}`, { current: d.revision });
    }
    const record: DeviceRecord = { ...d, status: DeviceStatus.Decommissioned, revision: d.revision + 1, updatedAtMs: timeMs };
    this.#devices.set(cmd.deviceId, record);
    return success(CommandKind.DeviceDecommission, record);
  }

  get(cmd: DeviceGetCommand): ResultFor<typeof CommandKind.DeviceGet> {
    const d = this.#devices.get(cmd.deviceId);
    if (!d) return failure(ControlError.NotFound, `device ${cmd.deviceId} is not registered`);
    return success(CommandKind.DeviceGet, d);
  }

  list(cmd: DeviceListCommand): ResultFor<typeof CommandKind.DeviceList> {
    // Sorting per page is O(n log n); fine at devicesMax = 1e5 for an
    // operator listing. A sorted index would be the next step.
    const ids = [...this.#devices.keys()].sort();
    const devices: DeviceRecord[] = [];
    let next: string | undefined;
    for (const id of ids) {
      if (cmd.afterDeviceId !== undefined && id <= cmd.afterDeviceId) continue;
      const d = this.#devices.get(id)!;
      if (d.status !== DeviceStatus.Active && !cmd.includeDecommissioned) continue;
      if (devices.length === cmd.limit) { next = devices[devices.length - 1]!.deviceId; break; }
      devices.push(d);
    }
    return success(CommandKind.DeviceList, next === undefined ? { devices } : { devices, nextAfterDeviceId: next });
  }

  dump(): DeviceRecord[] {
    return [...this.#devices.keys()].sort().map((id) => this.#devices.get(id)!);
  }

  load(items: unknown[]): void {
    if (items.length > this.#limits.devicesMax) throw new FieldError(`snapshot.devices: ${items.length} exceed devicesMax`);
    this.#devices.clear();
    items.forEach((item, i) => {
      const d = readDeviceRecord(item, `snapshot.devices[${i}]`, this.#limits);
      if (this.#devices.has(d.deviceId)) throw new FieldError(`snapshot.devices[${i}]: duplicate ${d.deviceId}`);
      this.#devices.set(d.deviceId, d);
    });
  }
}

const DEVICE_STATUSES = Object.values(DeviceStatus);

function readDeviceRecord(v: unknown, path: string, limits: ControlLimits): DeviceRecord {
  const f = new Fields(v, path);
  const d: DeviceRecord = {
    deviceId: f.str("deviceId", 64, /^[A-Za-z0-9_-]{1,64}$/),
    role: f.oneOf("role", deviceRoles),
    metadata: readMetadata(f.raw("metadata"), f.at("metadata"), limits),
    revision: f.int("revision", 1, Number.MAX_SAFE_INTEGER),
    status: f.oneOf("status", DEVICE_STATUSES),
    registeredAtMs: f.int("registeredAtMs", 0, Number.MAX_SAFE_INTEGER),
    updatedAtMs: f.int("updatedAtMs", 0, Number.MAX_SAFE_INTEGER),
  };
  f.done();
  if (d.updatedAtMs < d.registeredAtMs) throw new FieldError(`${path}: updatedAtMs before registeredAtMs`);
  return d;
}
