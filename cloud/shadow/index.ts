// Public entry of the device shadow (docs/shadow.md): desired and reported
// documents of DVV sets per field, stored in NATS KV one key per writer.
export * from "./types";
export { ShadowStore, ensureShadowBucket, shadowBucket, shadowKey, type ShadowStoreOptions, type ShadowWriteOptions, type ShadowWriteResult, type ShadowBucketOptions } from "./store";
export { shadowDelta, shadowDeltaSets, joinFields, validateFields, encodeValue } from "./document";
export { apiShadowWriter, deviceShadowWriter, gatewayShadowWriter } from "./writer";
export { applyShadowReport, shadowReportMerger, type ShadowReportMerger } from "./report";
export { ShadowDeltaPusher, shadowDeltaEnvelope, shadowPushQueueGroup, type ShadowPusherStats } from "./delta-pusher";
