// Desired configuration per device, versioned. `set` is a compare-and-set on
// the version (0 = "no config yet"), so concurrent writers are serialised by
// the log and the loser learns the current version instead of overwriting.
// Devices report the version they run (DesiredConfig.version on the wire),
// which lets the cloud see which devices lag behind.

import { readConfig } from "./codec";
import { Fields, FieldError } from "./fields";
import type { ControlLimits } from "./limits";
import type { DeviceRegistry } from "./registry";
import {
  CommandKind,
  ControlError,
  failure,
  success,
  type ConfigGetCommand,
  type ConfigSetCommand,
  type DesiredConfigRecord,
  type ResultFor,
} from "./types";

export class DesiredConfigs {
  readonly #limits: ControlLimits;
  readonly #registry: DeviceRegistry;
  /** Invariant: keys are devices in the registry (active or decommissioned); version >= 1. */
  readonly #configs = new Map<string, DesiredConfigRecord>();

  constructor(limits: ControlLimits, registry: DeviceRegistry) {
    this.#limits = limits;
    this.#registry = registry;
  }

  set(cmd: ConfigSetCommand, timeMs: number): ResultFor<typeof CommandKind.ConfigSet> {
    if (!this.#registry.active(cmd.deviceId)) {
      return failure(ControlError.NotFound, `device ${cmd.deviceId} is not an active registered device`);
    }
    const current = this.#configs.get(cmd.deviceId);
    const version = current?.version ?? 0;
    if (version !== cmd.expectedVersion) {
      return failure(ControlError.Conflict, `config of ${cmd.deviceId} is at version ${version}, not ${cmd.expectedVersion}`, { current: version });
    }
    const record: DesiredConfigRecord = { deviceId: cmd.deviceId, version: version + 1, config: { ...cmd.config }, updatedAtMs: timeMs };
    this.#configs.set(cmd.deviceId, record);
    return success(CommandKind.ConfigSet, record);
  }

  get(cmd: ConfigGetCommand): ResultFor<typeof CommandKind.ConfigGet> {
    const c = this.#configs.get(cmd.deviceId);
    if (!c) return failure(ControlError.NotFound, `no desired config for ${cmd.deviceId}`, { current: 0 });
    return success(CommandKind.ConfigGet, c);
  }

  /**
   * Decommission keeps the config (a re-registered device resumes from it,
   * and its version keeps increasing, so a stale device never mistakes an
   * old config for a new one).
   */
  dump(): DesiredConfigRecord[] {
    return [...this.#configs.keys()].sort().map((id) => this.#configs.get(id)!);
  }

  load(items: unknown[]): void {
    if (items.length > this.#limits.devicesMax) throw new FieldError(`snapshot.configs: ${items.length} exceed devicesMax`);
    this.#configs.clear();
    items.forEach((item, i) => {
      const path = `snapshot.configs[${i}]`;
      const f = new Fields(item, path);
      const c: DesiredConfigRecord = {
        deviceId: f.str("deviceId", 64, /^[A-Za-z0-9_-]{1,64}$/),
        version: f.int("version", 1, Number.MAX_SAFE_INTEGER),
        config: readConfig(f.raw("config"), f.at("config"), this.#limits),
        updatedAtMs: f.int("updatedAtMs", 0, Number.MAX_SAFE_INTEGER),
      };
      f.done();
      if (!this.#registry.has(c.deviceId)) throw new FieldError(`${path}: config for unregistered device ${c.deviceId}`);
      if (this.#configs.has(c.deviceId)) throw new FieldError(`${path}: duplicate ${c.deviceId}`);
      this.#configs.set(c.deviceId, c);
    });
  }
}
