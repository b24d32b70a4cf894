// Public entry of Raft storage: the in-memory store (tests, simulator) and
// the write-ahead log on disk (control-plane replicas).
export { MemoryStorage, type CrashOptions } from "./memory";
export { WalStorage, type WalOptions } from "./wal";
export { StorageError, type RaftStorage, type LogReader } from "./types";
