// The acceptor store seam: what an acceptor persists (one Slot per key) and
// the promise it must keep — put() is visible at once and durable after
// sync(); an acceptor replies only after the sync that follows its writes.
// Two implementations share one record format and one replay
// (slot-codec.ts): FileAcceptorStore (disk, fsync) and MemoryAcceptorStore
// (the simulator's disk, with power loss and torn writes).

import type { Slot } from "../types";

export interface AcceptorStore {
  /** The slots found at open (a key's last durable write). */
  loaded(): ReadonlyMap<string, Slot>;
  /** Records the new slot of `key`; durable after the next sync(). */
  put(key: string, slot: Slot): void;
  /** Resolves once every earlier put() is durable. Concurrent calls share one fsync. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(readonly code: "corrupt" | "closed" | "failed" | "invalid", message: string) {
    super(`paxos acceptor store: ${message}`);
  }
}
