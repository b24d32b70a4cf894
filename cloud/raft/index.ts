// Public entry of the Raft capability. Internals (raft.ts, log.ts,
// progress.ts, ...) are importable for tests but not part of this surface.

export { RawNode } from "./rawnode";
export type { Ready, Status } from "./rawnode";
export { MemoryStorage } from "./storage/memory";
export { WalStorage } from "./storage/wal";
export type { WalOptions } from "./storage/wal";
export { StorageError } from "./storage/types";
export type { RaftStorage, LogReader } from "./storage/types";
export { encodeMessage, decodeMessage, encodeBatches, decodeBatch, CodecError } from "./codec";
export {
  ConfChangeType,
  EntryType,
  MessageType,
  ProposalError,
  ReadOnlyOption,
  StateType,
  NONE,
  encodeConfChange,
  decodeConfChange,
} from "./types";
export type { ConfChange, ConfState, Entry, HardState, Message, NodeId, RaftConfig, Snapshot } from "./types";
