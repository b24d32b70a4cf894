// Public entry of the device registry: registration, lifecycle and
// metadata, on NATS KV or on the Raft control plane. (A device's
// configuration is its desired shadow: cloud/shadow, docs/shadow.md.)
export * from "./types";
export * from "./settings";
export { KvDeviceRegistry, registryBucket, openRegistryBucket, type KvRegistryOptions } from "./kv-registry";
export { ControlPlaneRegistry } from "./control-plane-registry";
export { checkMetadataPatch } from "./validate";
export {
  AdmissionCache, kvAdmissionCache, kvRegistryFeed, registryLookup, defaultAdmissionOptions,
  type AdmissionOptions, type FeedHandle, type RegistryFeed, type RegistryLookup,
} from "./admission";
