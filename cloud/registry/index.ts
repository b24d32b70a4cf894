// Public entry of the device registry: registration, metadata, desired
// configuration, on NATS KV or on the Raft control plane, and the pusher
// that delivers desired configuration to devices.
export * from "./types";
export * from "./settings";
export { KvDeviceRegistry, registryBucket, openRegistryBucket, type KvRegistryOptions } from "./kv-registry";
export { ControlPlaneRegistry } from "./control-plane-registry";
export { DesiredConfigPusher, desiredConfigEnvelope, isOnlineSignal, configQueueGroup, type ConfigPusherStats } from "./config-pusher";
export { checkDesiredConfig, checkMetadataPatch } from "./validate";
export {
  AdmissionCache, kvAdmissionCache, kvRegistryFeed, registryLookup, defaultAdmissionOptions,
  type AdmissionOptions, type FeedHandle, type RegistryFeed, type RegistryLookup,
} from "./admission";
