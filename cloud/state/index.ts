// Device state read API (and the CAS write API ingest uses). See docs/ingest.md.
export { DeviceStateStore, deviceStateBucket, ensureDeviceStateBucket, type LoadedState, type StateBucketOptions } from "./store";
export * from "./types";
