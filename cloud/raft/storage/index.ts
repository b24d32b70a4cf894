// Public entry of Raft storage: the in-memory store (tests, simulator) and
// the write-ahead log on disk (control-plane replicas); and the CRC-framed
// records and atomic file steps they are built from, which the CASPaxos
// acceptor store (cloud/paxos/storage) shares.
export { MemoryStorage, type CrashOptions } from "./memory";
export { WalStorage, type WalOptions } from "./wal";
export { StorageError, type RaftStorage, type LogReader } from "./types";
export {
  crc32, encodeFrame, decodeFrame, fsyncDir, writeFileAtomic, removeTempFiles, writevAll, fdatasync,
  RecordTooLargeError, RECORD_HEADER_BYTES, RECORD_BYTES_MAX, type DecodedFrame,
} from "./records";
