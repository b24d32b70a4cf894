// Input checks shared by every DeviceRegistry implementation, so the limits
// in registryLimits hold whichever store is behind the interface.
import { utf8Length } from "../../shared/proto/utf8";
import { RegistryError, registryLimits } from "./types";

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
