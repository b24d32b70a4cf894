// Cache keys: "<namespace>:<id>", one home for the spelling so the reader
// (read-side.ts) and the invalidation watch (invalidation.ts) agree.
export const CacheNamespace = Object.freeze({
  /** Device state (cloud/state, bucket XSF_DEVICE_STATE), by device id. */
  DeviceState: "state",
  /** Registry records (cloud/registry), by device id. */
  Registry: "reg",
} as const);
export type CacheNamespace = (typeof CacheNamespace)[keyof typeof CacheNamespace];

export function cacheKey(ns: CacheNamespace, id: string): string {
  return `${ns}:${id}`;
}

export function inNamespace(ns: CacheNamespace, key: string): boolean {
  return key.startsWith(`${ns}:`);
}
