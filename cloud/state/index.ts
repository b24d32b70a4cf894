// Device state read API (and the CAS write API ingest uses). See docs/ingest.md.
export { DeviceStateStore, deviceStateBucket, ensureDeviceStateBucket, decodeState, listIdsMax, type LoadedState, type StateBucketOptions } from "./store";
export { DeviceStateMirror, type DeviceStateMirrorOptions } from "./mirror";
export * from "./types";
