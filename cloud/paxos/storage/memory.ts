// The simulator's acceptor disk. put() appends to an unsynced tail;
// syncNow() makes it durable (the simulator decides when the "fsync"
// completes). crash() is a power loss: the durable slots survive, and the
// unsynced tail is encoded exactly as the file store writes it
// (slot-codec.ts), cut after a random number of bytes — even inside a
// record — and sometimes followed by garbage or zeros (a sector being
// written). The restarted store replays those bytes with the file store's
// replay code, so a torn record is found by its CRC and dropped, as on disk.

import type { Slot } from "../types";
import { encodeSlotRecord, replayLog } from "./slot-codec";
import { StoreError, type AcceptorStore } from "./types";

export interface PowerLoss {
  /** Bytes of the unsynced tail that reached the disk (clamped to its length). */
  readonly keepBytes: number;
  /** Bytes that landed after them (a torn sector), or none. */
  readonly garbage?: Uint8Array;
}

export class MemoryAcceptorStore implements AcceptorStore {
  readonly #loaded: Map<string, Slot>;
  /** What survives a power loss for sure. */
  readonly #durable: Map<string, Slot>;
  #unsynced: (readonly [string, Slot])[] = [];
  #unsyncedBytes = 0;
  #closed = false;
  /** Whether opening found (and dropped) a torn tail. */
  readonly recoveredTornTail: boolean;
  syncs = 0;

  /** A store holding `durable`, after replaying `tail` (bytes that reached the disk after it). */
  constructor(durable: ReadonlyMap<string, Slot> = new Map(), tail: Uint8Array = new Uint8Array(0)) {
    const slots = new Map(durable);
    const r = replayLog(tail, slots, "memory store");
    this.recoveredTornTail = r.torn !== undefined;
    this.#loaded = slots;
    this.#durable = new Map(slots);
  }

  loaded(): ReadonlyMap<string, Slot> {
    return this.#loaded;
  }

  put(key: string, slot: Slot): void {
    if (this.#closed) throw new StoreError("closed", "memory store is closed (crashed)");
    this.#unsynced.push([key, slot]);
    // Record size as on disk: header + key + two ballots + state.
    this.#unsyncedBytes += 9 + 2 + key.length + 2 * (10 + slot.promise.p.length) + 9 + (slot.state.data ? 4 + slot.state.data.byteLength : 0);
  }

  /** About how many bytes of records wait for the next sync (a crash keeps a random prefix of them). */
  get unsyncedBytes(): number {
    return this.#unsyncedBytes;
  }

  syncNow(): void {
    if (this.#closed) return;
    if (this.#unsynced.length > 0) this.syncs++;
    for (const [k, s] of this.#unsynced) this.#durable.set(k, s);
    this.#unsynced = [];
    this.#unsyncedBytes = 0;
  }

  async sync(): Promise<void> {
    if (this.#closed) throw new StoreError("closed", "memory store is closed (crashed)");
    this.syncNow();
  }

  async close(): Promise<void> {
    this.syncNow();
    this.#closed = true;
  }

  /**
   * Power loss: the store a restarted acceptor finds. The unsynced records
   * are encoded as on disk and cut after `keepBytes`; this one becomes unusable.
   */
  crash(loss: PowerLoss = { keepBytes: 0 }): MemoryAcceptorStore {
    this.#closed = true;
    const tail = concat(this.#unsynced.map(([k, s]) => encodeSlotRecord(k, s)));
    const kept = tail.subarray(0, Math.max(0, Math.min(loss.keepBytes, tail.byteLength)));
    return new MemoryAcceptorStore(this.#durable, concat([kept, loss.garbage ?? new Uint8Array(0)]));
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
