// Public entry of the management API: the request/reply contracts, the
// service (api role) and a typed client.
export * from "./types";
export * from "./settings";
export { startApiRole, toApiError, type ApiRole, type ApiRoleDeps, type ApiRoleStats, type DeviceStateSource, type HistoryQueryFn } from "./service";
export { ApiClient, type ApiClientOptions } from "./client";
export { parseBody, onlyFields, deviceIdField, stringField, intField, boolField, objectField, type Body } from "./validate";
