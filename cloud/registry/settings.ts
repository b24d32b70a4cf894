// Where the device registry lives: NATS KV, or the Raft control plane
// (cloud/controlplane replicas must run). Config key `registry`.
export const RegistryBackend = Object.freeze({ Kv: "kv", Control: "control" } as const);
export type RegistryBackend = (typeof RegistryBackend)[keyof typeof RegistryBackend];

export const registryBackends: readonly RegistryBackend[] = Object.freeze(Object.values(RegistryBackend));
