// The stream-processing endpoints of the API role (docs/analytics.md "Rules
// API", "Alerts"): window results by key/operator/time range, alerts (list,
// acknowledge, history) and the rules table on the control plane (list,
// put — refused with every validation error — and delete). The work is
// done behind the AnalyticsApi seam that cloud/node wires from cloud/analytics.
import { ApiEndpoint, ApiError, type AnalyticsApi } from "./types";
import { intField, objectField, onlyFields, stringField, type Body } from "./validate";

type Handler = (b: Body) => Promise<unknown>;

const idPattern = /^[A-Za-z0-9_.-]{1,128}$/;
const alertStates = ["raised", "acknowledged", "cleared"];

export function registerAnalyticsEndpoints(seam: AnalyticsApi | undefined, add: (e: ApiEndpoint, fn: Handler) => void): void {
  const api = (): AnalyticsApi => {
    if (!seam) throw new ApiError("not_available", "stream processing is not available on this node (cloud/analytics is not wired in)");
    return seam;
  };
  const time = (b: Body, name: string, required: boolean): number | undefined => {
    const v = b[name];
    if (v === undefined && !required) return undefined;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new ApiError("bad_request", `${name} must be a time in ms since the epoch`);
    return v;
  };

  add(ApiEndpoint.AnalyticsWindows, async (b) => {
    onlyFields(b, ["key", "deviceId", "operator", "fromMs", "toMs", "limit"]);
    const key = stringField(b, "key", { bytesMax: 128 }) ?? stringField(b, "deviceId", { required: true, bytesMax: 64 });
    const operator = stringField(b, "operator", { bytesMax: 128, pattern: idPattern });
    const fromMs = time(b, "fromMs", true)!;
    const toMs = time(b, "toMs", true)!;
    if (fromMs > toMs) throw new ApiError("bad_request", "fromMs must be <= toMs");
    const limit = intField(b, "limit", { min: 1, max: 10_000 });
    return api().windows({ key, fromMs, toMs, ...(operator !== undefined ? { operator } : {}), ...(limit !== undefined ? { limit } : {}) });
  });

  add(ApiEndpoint.AlertsList, async (b) => {
    onlyFields(b, ["state", "ruleId", "limit"]);
    const state = stringField(b, "state", { bytesMax: 16 });
    if (state !== undefined && !alertStates.includes(state)) throw new ApiError("bad_request", `state must be one of ${alertStates.join(", ")}`);
    const ruleId = stringField(b, "ruleId", { bytesMax: 128, pattern: idPattern });
    const limit = intField(b, "limit", { min: 1, max: 1_000 });
    return api().alertsList({ ...(state !== undefined ? { state } : {}), ...(ruleId !== undefined ? { ruleId } : {}), ...(limit !== undefined ? { limit } : {}) });
  });

  add(ApiEndpoint.AlertsAck, async (b) => {
    onlyFields(b, ["ruleId", "key", "episode", "by"]);
    const ruleId = stringField(b, "ruleId", { required: true, bytesMax: 128, pattern: idPattern });
    const key = stringField(b, "key", { required: true, bytesMax: 128 });
    const episode = intField(b, "episode", { required: true, min: 1, max: Number.MAX_SAFE_INTEGER });
    const by = stringField(b, "by", { bytesMax: 64, pattern: /^[\x20-\x7e]{1,64}$/ }) ?? "operator";
    return api().alertsAck({ ruleId, key, episode, by });
  });

  add(ApiEndpoint.AlertsHistory, async (b) => {
    onlyFields(b, ["ruleId", "key", "sinceMs", "limit"]);
    const ruleId = stringField(b, "ruleId", { bytesMax: 128, pattern: idPattern });
    const key = stringField(b, "key", { bytesMax: 128 });
    const sinceMs = time(b, "sinceMs", false);
    const limit = intField(b, "limit", { min: 1, max: 10_000 });
    return api().alertsHistory({
      ...(ruleId !== undefined ? { ruleId } : {}), ...(key !== undefined ? { key } : {}), ...(sinceMs !== undefined ? { sinceMs } : {}), ...(limit !== undefined ? { limit } : {}),
    });
  });

  add(ApiEndpoint.RulesList, async (b) => {
    onlyFields(b, []);
    return api().rulesList();
  });

  add(ApiEndpoint.RulesPut, async (b) => {
    onlyFields(b, ["rule", "expectedVersion"]);
    const rule = objectField(b, "rule", true);
    const expectedVersion = intField(b, "expectedVersion", { min: 0, max: Number.MAX_SAFE_INTEGER });
    return api().rulesPut(rule, expectedVersion);
  });

  add(ApiEndpoint.RulesDelete, async (b) => {
    onlyFields(b, ["ruleId"]);
    return api().rulesDelete(stringField(b, "ruleId", { required: true, bytesMax: 128, pattern: idPattern }));
  });
}
