// Public entry of the Raft simulator: a whole cluster of the real core on one
// thread with a faulty network, crashing servers (torn writes, slow disks),
// membership changes and clients; one seed replays a run. Test files
// (test/cloud/raft/sim) and scripts/raft-soak.ts drive it. Its network
// (network.ts) is generic and drives the CASPaxos simulator too.
export { runSeed, configForSeed, Simulation, type SimConfig, type SimResult } from "./cluster";
export { InvariantViolation } from "./invariants";
export { SimNetwork, IN_FLIGHT_MAX, type Addressed, type NetworkFaults } from "./network";
