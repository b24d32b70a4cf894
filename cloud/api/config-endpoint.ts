// devices.config.set (docs/shadow.md, "Configuration"; docs/api.md): a
// device's configuration is its desired shadow. Every field is checked with
// the rules the device applies it with (shared/device-config.ts), then all
// are written in one compare-and-set of this node's writer key
// (`api-<nodeId>`, as shadow.put). Delivery is the ShadowDeltaPusher's: it
// pushes on the shadow event and again on the device's Hello.
import { type DvvContext } from "../../shared/clock/dvv";
import { checkConfigField, configFieldPattern } from "../../shared/device-config";
import type { DeviceRegistry } from "../registry";
import { apiShadowWriter, ShadowDoc, type ShadowChange, type ShadowStore } from "../shadow";
import { requireActiveDevice, writeOptions } from "./shadow-endpoints";
import { ApiEndpoint, ApiError, type ConfigSetReply } from "./types";
import { deviceIdField, objectField, onlyFields, type Body } from "./validate";

/** Fields one config.set may write (the shadow document's bound is the real limit). */
export const configFieldsPerSetMax = 32;

export function registerConfigEndpoint(
  registry: DeviceRegistry, shadow: ShadowStore | undefined, nodeId: string, add: (e: ApiEndpoint, fn: (b: Body) => Promise<unknown>) => void,
): void {
  const writer = apiShadowWriter(nodeId);
  add(ApiEndpoint.DevicesConfigSet, async (b): Promise<ConfigSetReply> => {
    onlyFields(b, ["deviceId", "config", "contexts"]);
    const deviceId = deviceIdField(b);
    const config = objectField(b, "config", true) as Record<string, unknown>;
    const contexts = (objectField(b, "contexts", false) ?? {}) as Record<string, unknown>;
    const changes = configChanges(config, contexts);
    if (!shadow) throw new ApiError("not_available", "device configuration needs the device shadow, not available on this node (no shadow store wired in)");
    await requireActiveDevice(registry, deviceId);
    const r = await shadow.write(deviceId, ShadowDoc.Desired, writer, changes, writeOptions("devices.config.set"));
    const view = await shadow.get(deviceId);
    return { deviceId, op: r.op, fields: r.fields ?? {}, delta: view.delta };
  });
}

/** The body's fields as shadow changes; 400 naming the first field that fails the device's own check. */
export function configChanges(config: Record<string, unknown>, contexts: Record<string, unknown>): ShadowChange[] {
  const names = Object.keys(config).sort();
  if (names.length === 0) throw new ApiError("bad_request", "config must name at least one field");
  if (names.length > configFieldsPerSetMax) throw new ApiError("too_large", `config has ${names.length} fields (limit ${configFieldsPerSetMax})`);
  for (const n of Object.keys(contexts)) {
    if (!(n in config)) throw new ApiError("bad_request", `contexts.${n.slice(0, 64)}: not a field of config`);
  }
  return names.map((field): ShadowChange => {
    const value = config[field];
    const ctx = contexts[field] as DvvContext | undefined;
    const context = ctx === undefined ? {} : { context: ctx };
    if (value === null) {
      if (!configFieldPattern.test(field)) throw new ApiError("bad_request", `config field ${JSON.stringify(field.slice(0, 80))}: name is not 1–64 of [A-Za-z0-9_.-]`);
      return { field, deleted: true, ...context };
    }
    if (value === undefined) throw new ApiError("bad_request", `config.${field}: a value or null`);
    const bad = checkConfigField(field, JSON.stringify(value));
    if (bad !== undefined) throw new ApiError("bad_request", `config field ${bad}`);
    return { field, value, ...context };
  });
}
