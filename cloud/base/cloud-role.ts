// Cloud node roles: the one vocabulary for node configuration, control-plane
// membership records and recovery. One process may run several.
export const CloudRole = Object.freeze({
  /** Device uplink into JetStream: decode, dedup, device state, history. */
  Ingest: "ingest",
  /** The device-management API (NATS micro service). */
  Api: "api",
  /** Downlink reliability: command retries (configuration is pushed by the api role's shadow delta pusher). */
  Commands: "commands",
  Analytics: "analytics",
  /** Fault tolerance: membership, leases and failover, replacement. */
  Orchestration: "orchestration",
  /** Trust: one-time claims exchanged for device credentials, revocation (docs/security.md). */
  Provisioning: "provisioning",
  /** A node of the distributed cache: serves its share of the hash ring (docs/data-plane.md). */
  Cache: "cache",
} as const);
export type CloudRole = (typeof CloudRole)[keyof typeof CloudRole];

export const cloudRoles: readonly CloudRole[] = Object.freeze(Object.values(CloudRole));

export function isCloudRole(v: unknown): v is CloudRole {
  return typeof v === "string" && (cloudRoles as readonly string[]).includes(v);
}
