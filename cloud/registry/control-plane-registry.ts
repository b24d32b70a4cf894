// The device registry on the Raft control plane (cloud/control through
// cloud/controlplane): the same DeviceRegistry contract as the KV registry,
// but every write is a replicated, linearizable state-machine command and
// every read goes through ReadIndex. Works with any Proposer: the Raft
// client's (ControlClient.proposer()) in production, test/harness/local-proposer.ts in tests.
//
// Mapping: the control plane keeps the device record (revision bumped by
// every metadata change or decommission). Its limits are the control
// plane's (32 metadata keys, 4 KiB metadata); inputs beyond them fail as
// "invalid". A device's configuration is its desired shadow (cloud/shadow).
import { assertDeviceId, isDeviceId } from "../../shared/topics";
import { DeviceRole, isDeviceRole } from "../../shared/device-role";
import { CommandKind, ControlError, DeviceStatus, type ApplyResult, type Proposer } from "../control";
import type { DeviceRecord as ControlDevice } from "../control";
import { checkMetadataPatch } from "./validate";
import {
  DeviceLifecycle, RegistryError, registryLimits, type DevicePage, type DeviceRecord,
  type DeviceRegistry, type ListOptions, type RegistryErrorCode, type WriteOptions,
} from "./types";

const errorCodes: Partial<Record<ControlError, RegistryErrorCode>> = {
  [ControlError.NotFound]: "not_found",
  [ControlError.AlreadyExists]: "already_exists",
  [ControlError.Conflict]: "conflict",
  [ControlError.Decommissioned]: "decommissioned",
  [ControlError.InvalidCommand]: "invalid",
  [ControlError.LimitExceeded]: "invalid",
};

type Ok<R> = R extends { ok: true } ? R : never;

function unwrap<R extends ApplyResult>(r: R): Ok<R>["value"] {
  if (r.ok) return (r as Ok<R>).value;
  const code = errorCodes[r.code] ?? "unavailable";
  throw new RegistryError(code, r.message);
}

function roleOf(metadata: Record<string, string>): DeviceRole {
  const r = metadata.role;
  return isDeviceRole(r) ? r : DeviceRole.Sensor;
}

export class ControlPlaneRegistry implements DeviceRegistry {
  readonly #propose: Proposer;

  constructor(propose: Proposer) {
    this.#propose = propose;
  }

  async #record(d: ControlDevice): Promise<DeviceRecord> {
    const rec: DeviceRecord = {
      deviceId: d.deviceId,
      lifecycle: d.status === DeviceStatus.Active ? DeviceLifecycle.Registered : DeviceLifecycle.Decommissioned,
      registeredMs: d.registeredAtMs,
      updatedMs: d.updatedAtMs,
      metadata: { ...d.metadata },
      revision: d.revision,
    };
    if (rec.lifecycle === DeviceLifecycle.Decommissioned) rec.decommissionedMs = d.updatedAtMs;
    return rec;
  }

  async get(deviceId: string): Promise<DeviceRecord | null> {
    assertDeviceId(deviceId);
    const r = await this.#propose({ kind: CommandKind.DeviceGet, deviceId });
    if (!r.ok && r.code === ControlError.NotFound) return null;
    return this.#record(unwrap(r) as ControlDevice);
  }

  async register(deviceId: string, init: { metadata?: Record<string, string> } = {}): Promise<DeviceRecord> {
    assertDeviceId(deviceId);
    const metadata = checkMetadataPatch(init.metadata ?? {}, {});
    const d = unwrap(await this.#propose({ kind: CommandKind.DeviceRegister, deviceId, role: roleOf(metadata), metadata })) as ControlDevice;
    return this.#record(d);
  }

  async list(opts: ListOptions): Promise<DevicePage> {
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new RegistryError("invalid", `limit must be a positive integer, got ${opts.limit}`);
    if (opts.after !== undefined && !isDeviceId(opts.after)) throw new RegistryError("invalid", `after must be a device id, got ${JSON.stringify(opts.after)}`);
    const devices: DeviceRecord[] = [];
    let after = opts.after;
    // Pages of the control plane may be filtered down by lifecycle; keep reading until full or done.
    for (;;) {
      const page = unwrap(await this.#propose({
        kind: CommandKind.DeviceList, limit: Math.min(opts.limit + 1, 1000), includeDecommissioned: opts.lifecycle !== DeviceLifecycle.Registered,
        ...(after !== undefined ? { afterDeviceId: after } : {}),
      })) as { devices: readonly ControlDevice[]; nextAfterDeviceId?: string };
      for (const d of page.devices) {
        const rec = await this.#record(d);
        if (opts.lifecycle && rec.lifecycle !== opts.lifecycle) continue;
        if (devices.length === opts.limit) return { devices, next: devices[devices.length - 1]!.deviceId };
        devices.push(rec);
      }
      if (page.nextAfterDeviceId === undefined || page.devices.length === 0) return { devices };
      after = page.nextAfterDeviceId;
    }
  }

  async decommission(deviceId: string, opts: WriteOptions = {}): Promise<DeviceRecord> {
    assertDeviceId(deviceId);
    const d = unwrap(await this.#propose({
      kind: CommandKind.DeviceDecommission, deviceId, ...(opts.expectedRevision !== undefined ? { expectedRevision: opts.expectedRevision } : {}),
    })) as ControlDevice;
    return this.#record(d);
  }

  async setMetadata(deviceId: string, patch: Record<string, string | null>, opts: WriteOptions = {}): Promise<DeviceRecord> {
    assertDeviceId(deviceId);
    // Read, merge, write at the read revision: a lost race retries on top
    // (unless the caller pinned a revision), so no patch is lost.
    for (let attempt = 0; attempt < registryLimits.casAttemptsMax; attempt++) {
      const cur = unwrap(await this.#propose({ kind: CommandKind.DeviceGet, deviceId })) as ControlDevice;
      if (cur.status !== DeviceStatus.Active) throw new RegistryError("decommissioned", `device ${deviceId} is decommissioned; register it again first`);
      if (opts.expectedRevision !== undefined && cur.revision !== opts.expectedRevision) {
        throw new RegistryError("conflict", `device ${deviceId} is at revision ${cur.revision}, not ${opts.expectedRevision}; re-read and retry`);
      }
      const metadata = checkMetadataPatch(patch, { ...cur.metadata });
      const r = await this.#propose({ kind: CommandKind.DeviceUpdateMetadata, deviceId, metadata, expectedRevision: opts.expectedRevision ?? cur.revision });
      if (!r.ok && r.code === ControlError.Conflict && opts.expectedRevision === undefined) continue;
      return this.#record(unwrap(r) as ControlDevice);
    }
    throw new RegistryError("conflict", `device ${deviceId}: gave up after ${registryLimits.casAttemptsMax} concurrent-update conflicts; retry later`);
  }
}
