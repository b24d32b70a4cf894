// DesiredConfig from the cloud: applied only when its version is newer than
// the one held, validated field by field (0 = leave unchanged), persisted
// (key "cfg") so a restart keeps it.
import { decodeDesiredConfig, encodeDesiredConfig, type DesiredConfig } from "../../shared/proto/xsfleet.gen";
import type { Storage } from "../platform";
import { batchPointsLimit, heartbeatIntervalMaxMs, heartbeatIntervalMinMs, sampleIntervalMaxMs, sampleIntervalMinMs } from "../../shared/device-config";

const storageKey = "cfg";

export interface Cadence {
  heartbeatIntervalMs: number;
  sampleIntervalMs: number;
  batchPointsMax: number;
}

export const ConfigOutcome = Object.freeze({ Applied: 0, Stale: 1, Invalid: 2 } as const);
export type ConfigOutcome = (typeof ConfigOutcome)[keyof typeof ConfigOutcome];

export class DesiredConfigStore {
  readonly #storage: Storage;
  #version = 0;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  get version(): number {
    return this.#version;
  }

  /** Applies the persisted config (if any) over `cadence`. */
  restore(cadence: Cadence): void {
    const bytes = this.#storage.read(storageKey);
    if (bytes === undefined) return;
    try {
      const cfg = decodeDesiredConfig(bytes);
      if (validate(cfg) === undefined) {
        applyTo(cfg, cadence);
        this.#version = cfg.version;
      }
    } catch {
      // Corrupt: keep the built-in cadence; the cloud resends its desired config.
    }
  }

  /** Applies `cfg` over `cadence` if newer and valid; persists it. */
  offer(cfg: DesiredConfig, cadence: Cadence): { outcome: ConfigOutcome; reason: string } {
    if (cfg.version <= this.#version) return { outcome: ConfigOutcome.Stale, reason: `version ${cfg.version} <= held ${this.#version}` };
    const bad = validate(cfg);
    if (bad !== undefined) return { outcome: ConfigOutcome.Invalid, reason: bad };
    this.#storage.write(storageKey, encodeDesiredConfig(cfg));
    this.#version = cfg.version;
    applyTo(cfg, cadence);
    return { outcome: ConfigOutcome.Applied, reason: "" };
  }
}

/** The desired config the device holds (persisted by the store), for parts that read its settings (the gateway's allow-list). */
export function storedDesiredConfig(storage: Storage): DesiredConfig | undefined {
  const bytes = storage.read(storageKey);
  if (bytes === undefined) return undefined;
  try {
    return decodeDesiredConfig(bytes);
  } catch {
    return undefined;
  }
}

function validate(cfg: DesiredConfig): string | undefined {
  const h = cfg.heartbeatIntervalMs;
  if (h !== 0 && (h < heartbeatIntervalMinMs || h > heartbeatIntervalMaxMs)) return `heartbeat_interval_ms ${h} outside ${heartbeatIntervalMinMs}..${heartbeatIntervalMaxMs}`;
  const s = cfg.sampleIntervalMs;
  if (s !== 0 && (s < sampleIntervalMinMs || s > sampleIntervalMaxMs)) return `sample_interval_ms ${s} outside ${sampleIntervalMinMs}..${sampleIntervalMaxMs}`;
  const b = cfg.batchPointsMax;
  if (b !== 0 && b > batchPointsLimit) return `batch_points_max ${b} above ${batchPointsLimit}`;
  return undefined;
}

function applyTo(cfg: DesiredConfig, cadence: Cadence): void {
  if (cfg.heartbeatIntervalMs !== 0) cadence.heartbeatIntervalMs = cfg.heartbeatIntervalMs;
  if (cfg.sampleIntervalMs !== 0) cadence.sampleIntervalMs = cfg.sampleIntervalMs;
  if (cfg.batchPointsMax !== 0) cadence.batchPointsMax = cfg.batchPointsMax;
}
