// The name a mesh counter carries upstream (docs/edge.md): a peer that
// reaches the cloud reports each merged mesh counter as a PN state named
// `mesh-<name>`; the cloud merges those states across every device that
// reports them (cloud/state/mesh-counters.ts). One home for the prefix, read
// by the firmware (firmware/edge/mesh-node.ts) and the cloud.
export const meshCounterPrefix = "mesh-";
