// Input checks shared by every DeviceRegistry implementation, so the limits
// in registryLimits hold whichever store is behind the interface.
import { utf8Length } from "../../shared/proto/utf8";
import { RegistryError, registryLimits, type DesiredConfigInput, type DesiredConfigSpec } from "./types";

const keyPattern = /^[A-Za-z0-9_.:-]{1,64}$/;


/** Applies `patch` to `current` (null removes a key) and checks the result's limits. */
export function checkMetadataPatch(patch: Record<string, string | null>, current: Record<string, string>): Record<string, string> {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) throw new RegistryError("invalid", "metadata must be an object of string values");
  const out: Record<string, string> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (!keyPattern.test(k)) throw new RegistryError("invalid", `metadata key ${JSON.stringify(k)} must be 1-64 characters from A-Z a-z 0-9 _ . : -`);
    if (v === null) { delete out[k]; continue; }
    if (typeof v !== "string") throw new RegistryError("invalid", `metadata value for ${k} must be a string (or null to remove it)`);
    if (utf8Length(v) > registryLimits.metadataValueBytesMax) throw new RegistryError("invalid", `metadata value for ${k} is longer than ${registryLimits.metadataValueBytesMax} bytes`);
    out[k] = v;
  }
  if (Object.keys(out).length > registryLimits.metadataKeysMax) throw new RegistryError("invalid", `a device may have at most ${registryLimits.metadataKeysMax} metadata keys`);
  return out;
}

const uint32Max = 0xffff_ffff;

export function checkDesiredConfig(c: DesiredConfigInput): Omit<DesiredConfigSpec, "version" | "updatedMs"> {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new RegistryError("invalid", "config must be an object");
  const known = ["heartbeatIntervalMs", "sampleIntervalMs", "batchPointsMax", "settings"];
  for (const k of Object.keys(c)) if (!known.includes(k)) throw new RegistryError("invalid", `unknown config field ${JSON.stringify(k)}; known fields: ${known.join(", ")}`);
  const num = (name: string, v: number | undefined, max: number): number => {
    if (v === undefined) return 0;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw new RegistryError("invalid", `${name} must be an integer from 0 to ${max} (0 = device default), got ${JSON.stringify(v)}`);
    return v;
  };
  const settings = c.settings ?? {};
  if (typeof settings !== "object" || settings === null || Array.isArray(settings)) throw new RegistryError("invalid", "settings must be an object of string values");
  const entries = Object.entries(settings);
  if (entries.length > registryLimits.settingsMax) throw new RegistryError("invalid", `at most ${registryLimits.settingsMax} settings`);
  for (const [k, v] of entries) {
    if (!keyPattern.test(k)) throw new RegistryError("invalid", `setting key ${JSON.stringify(k)} must be 1-64 characters from A-Z a-z 0-9 _ . : -`);
    if (typeof v !== "string") throw new RegistryError("invalid", `setting ${k} must be a string`);
    if (utf8Length(v) > registryLimits.settingValueBytesMax) throw new RegistryError("invalid", `setting ${k} is longer than ${registryLimits.settingValueBytesMax} bytes`);
  }
  return {
    heartbeatIntervalMs: num("heartbeatIntervalMs", c.heartbeatIntervalMs, uint32Max),
    sampleIntervalMs: num("sampleIntervalMs", c.sampleIntervalMs, uint32Max),
    batchPointsMax: num("batchPointsMax", c.batchPointsMax, 65_535),
    settings: { ...settings },
  };
}
