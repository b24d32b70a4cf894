// The shadow endpoints of the API role (docs/shadow.md): get, put with
// context, delete with context, history. Only the desired document is
// written here (the device writes its reported document through ingest);
// this node issues dots as `api-<nodeId>` (cloud/shadow writer ids).
import { context as otelContext } from "@opentelemetry/api";
import { checkConfigField } from "../../shared/device-config";
import { traceparentOf } from "../tracing";
import { DeviceLifecycle, type DeviceRegistry } from "../registry";
import { apiShadowWriter, ShadowDoc, ShadowError, shadowDocs, type ShadowStore, type ShadowWriteOptions } from "../shadow";
import {
  ApiEndpoint, ApiError, type ApiErrorCode, type ShadowGetReply, type ShadowHistoryReply, type ShadowWriteReply,
} from "./types";
import { deviceIdField, intField, objectField, onlyFields, stringField, type Body } from "./validate";

type Handler = (b: Body) => Promise<unknown>;

const actorPattern = /^[\x20-\x7e]{1,64}$/;

/** Desired state is written only for devices the registry holds and has not decommissioned (404 / 410 otherwise). */
export async function requireActiveDevice(registry: DeviceRegistry, deviceId: string): Promise<void> {
  const device = await registry.get(deviceId);
  if (!device) throw new ApiError("not_found", `device ${deviceId} is not registered`);
  if (device.lifecycle !== DeviceLifecycle.Registered) throw new ApiError("decommissioned", `device ${deviceId} is decommissioned; register it again first`);
}

/** Who asked, and this call's trace (the delta push continues it). */
export function writeOptions(actor: string | undefined): ShadowWriteOptions {
  const traceparent = traceparentOf(otelContext.active());
  return { ...(actor ? { actor } : {}), ...(traceparent ? { traceparent } : {}) };
}

export function registerShadowEndpoints(shadow: ShadowStore | undefined, registry: DeviceRegistry, nodeId: string, add: (e: ApiEndpoint, fn: Handler) => void): void {
  const store = (): ShadowStore => {
    if (!shadow) throw new ApiError("not_available", "device shadows are not available on this node (no shadow store wired in)");
    return shadow;
  };
  const writer = apiShadowWriter(nodeId);

  add(ApiEndpoint.ShadowGet, async (b): Promise<ShadowGetReply> => {
    onlyFields(b, ["deviceId"]);
    return { shadow: await store().get(deviceIdField(b)) };
  });

  add(ApiEndpoint.ShadowPut, async (b): Promise<ShadowWriteReply> => {
    onlyFields(b, ["deviceId", "field", "value", "context", "actor"]);
    const deviceId = deviceIdField(b);
    const field = stringField(b, "field", { required: true, bytesMax: 64 });
    if (!("value" in b)) throw new ApiError("bad_request", "value is required (any JSON; use shadow.delete to remove a field)");
    const context = (objectField(b, "context", false) ?? {}) as Record<string, number>;
    const actor = stringField(b, "actor", { bytesMax: 64, pattern: actorPattern });
    // A desired field is configuration the device applies: refused here with the device's own rules (shared/device-config.ts),
    // so nothing accepted stays pending for ever.
    const bad = checkConfigField(field, JSON.stringify(b.value) ?? "");
    if (bad !== undefined) throw new ApiError("bad_request", `field ${bad}`);
    await requireActiveDevice(registry, deviceId);
    const r = await store().put(deviceId, ShadowDoc.Desired, writer, field, b.value, context, writeOptions(actor));
    return { deviceId, doc: r.doc, op: r.op, field: r.field! };
  });

  add(ApiEndpoint.ShadowDelete, async (b): Promise<ShadowWriteReply> => {
    onlyFields(b, ["deviceId", "field", "context", "actor"]);
    const deviceId = deviceIdField(b);
    const field = stringField(b, "field", { required: true, bytesMax: 64 });
    // Required: a delete without a context would remove nothing.
    const context = objectField(b, "context", true) as Record<string, number>;
    const actor = stringField(b, "actor", { bytesMax: 64, pattern: actorPattern });
    await requireActiveDevice(registry, deviceId);
    const r = await store().delete(deviceId, ShadowDoc.Desired, writer, field, context, writeOptions(actor));
    return { deviceId, doc: r.doc, op: r.op, field: r.field! };
  });

  add(ApiEndpoint.ShadowHistory, async (b): Promise<ShadowHistoryReply> => {
    onlyFields(b, ["deviceId", "doc", "limit"]);
    const deviceId = deviceIdField(b);
    const doc = stringField(b, "doc", { bytesMax: 16 });
    if (doc !== undefined && !(shadowDocs as readonly string[]).includes(doc)) throw new ApiError("bad_request", `doc must be one of ${shadowDocs.join(", ")}`);
    const s = store();
    const limit = intField(b, "limit", { min: 1, max: s.limits.historyReplyMax });
    return { history: await s.history(deviceId, doc as ShadowDoc | undefined, limit) };
  });
}

const shadowToApi: Record<string, ApiErrorCode> = { invalid: "bad_request", too_large: "too_large", conflict: "conflict", contended: "overloaded" };

/** Maps a ShadowError to the API's error codes; undefined for other errors. */
export function shadowApiError(e: unknown): ApiError | undefined {
  return e instanceof ShadowError ? new ApiError(shadowToApi[e.code] ?? "internal", e.message) : undefined;
}
