// Public entry of CASPaxos: a leaderless linearizable register per key
// (pure proposer and acceptor cores, the wire codec, the acceptor store).
// The simulator is its own entry (./sim); see README.md.
export { Acceptor, ACCEPTOR_DEFAULTS, ballotProblem, type AcceptorLimits, type AcceptorStats, type Handled } from "./acceptor";
export {
  Proposer, OpError, PROPOSER_DEFAULTS,
  type Change, type ChangeOutcome, type OpOutcome, type ProposerConfig, type ProposerLimits, type ProposerStats, type Outgoing, type Completed, type Promised,
} from "./proposer";
export { encodeFrames, decodeFrame, CodecError } from "./codec";
export * from "./types";
export { FileAcceptorStore, MemoryAcceptorStore, StoreError, FILE_STORE_DEFAULTS, type AcceptorStore, type FileStoreOptions, type PowerLoss } from "./storage";
export { PaxosClient, NatsProposerTransport, PAXOS_CLIENT_DEFAULTS, CLIENT_LIMITS, type PaxosClientOptions, type ProposerTransport, type NatsTransportStats } from "./client";
export { ConfigRegister, RegisterUnavailableError, type ChangeRunner, type Versioned, type SetResult } from "./register";
export { AcceptorNode, ACCEPTOR_NODE_LIMITS, type AcceptorNodeOptions, type AcceptorStatus, type AcceptorNodeStats } from "./acceptor-node";
