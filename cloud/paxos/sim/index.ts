// Public entry of the CASPaxos simulator: acceptors on a simulated disk
// with power loss and torn writes, leaderless clients, a faulty network,
// invariants at every step, linearizability of the history; one seed
// replays a run. Driven by test/cloud/paxos/sim and scripts/paxos-soak.ts.
export { PaxosSimulation, runPaxosSeed, configForSeed, type PaxosSimConfig, type PaxosSimResult } from "./cluster";
export { PaxosInvariants } from "./invariants";
export { Mutation, MUTATIONS, isMutation } from "./mutations";
export { kvChange, kvValueOf, decodeKvValue } from "./kv-register";
