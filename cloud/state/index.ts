// Public entry of device state: the read API the management API and the
// dashboard use (and a live mirror of the bucket), and the compare-and-set
// write API ingest uses. See docs/ingest.md.
export {
  DeviceStateStore, deviceStateBucket, ensureDeviceStateBucket, defaultStateBucketOptions, encodeState, decodeState, listIdsMax,
  type LoadedState, type StateBucketOptions,
} from "./store";
export { DeviceStateMirror, type DeviceStateMirrorOptions } from "./mirror";
export * from "./types";
export { upgradeStoredState, dedupFromV1Window } from "./migrate";
export { mergeMeshCounters, meshCountersMax, meshReportersListedMax, type MeshCounters, type MeshCounterView } from "./mesh-counters";
