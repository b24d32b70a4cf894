// Public entry of the acceptor store: the seam, the disk store and the
// simulator's in-memory disk with power loss.
export { StoreError, type AcceptorStore } from "./types";
export { FileAcceptorStore, FILE_STORE_DEFAULTS, type FileStoreOptions } from "./file";
export { MemoryAcceptorStore, type PowerLoss } from "./memory";
export { encodeSlotRecord } from "./slot-codec";
