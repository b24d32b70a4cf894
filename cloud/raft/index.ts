// Public entry of the Raft capability. Internals (raft.ts, log.ts,
// progress.ts, ...) are importable for tests but not part of this surface.

export { RawNode } from "./rawnode";
export type { Ready, Status } from "./rawnode";
export { MemoryStorage, WalStorage, StorageError, type WalOptions, type RaftStorage, type LogReader } from "./storage";
export { encodeMessage, decodeMessage, encodeBatches, decodeBatch, encodedSize, batchMessageCount, CodecError } from "./codec";
export {
  ConfChangeType,
  EntryType,
  MessageType,
  ProposalError,
  ReadOnlyOption,
  StateType,
  NONE,
  STATE_NAMES,
  encodeConfChange,
  decodeConfChange,
  isEmptySnapshot,
  message,
} from "./types";
export type { ConfChange, ConfState, Entry, HardState, Message, NodeId, RaftConfig, RaftLogger, Snapshot } from "./types";
