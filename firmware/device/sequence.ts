// A counter that never repeats a value across restarts, without a flash
// write per value: the high-water mark is reserved in blocks. On boot the
// next value is the persisted mark + 1, and a new block is reserved before
// any value of it is handed out, so a crash can skip up to a block of
// values but never reuse one.
//
// Epoch (the envelope seq only, docs/delivery.md): a random non-zero u32
// stored in the same record as the mark, so the two cannot come apart — a
// wiped flash loses both, and a new epoch tells the cloud that seqs start
// over. It is made when the record is created (first boot, wiped flash) or,
// once, when a record of older firmware has a mark but no epoch (the seqs
// then continue: the cloud may keep its dedup record across 0 -> epoch).
//
// Invariant: next <= reserved + 1, and `reserved` is durable before any
// value <= reserved is returned; `epoch` is durable before it is returned.
import type { Random, Storage } from "../platform";

/** Values per flash write; a crash skips at most this many. */
export const sequenceBlockDefault = 64;
/** Values stay exact JS integers (protobuf uint64 as a number). */
const sequenceMax = Number.MAX_SAFE_INTEGER;
const markBytes = 8;
const markEpochBytes = 12;

export class PersistentSequence {
  readonly #storage: Storage;
  readonly #key: string;
  readonly #block: number;
  readonly #epoch: number;
  readonly #epochCreated: boolean;
  #next: number;
  #reserved: number;

  /** With `random`, the sequence carries an epoch (made here when the record has none). */
  constructor(storage: Storage, key: string, block = sequenceBlockDefault, random?: Random) {
    if (!(Number.isSafeInteger(block) && block >= 1)) throw new Error(`sequence block must be a positive integer, got ${block}`);
    this.#storage = storage;
    this.#key = key;
    this.#block = block;
    const rec = storage.read(key);
    const mark = readMark(rec);
    const stored = readEpoch(rec);
    this.#reserved = mark;
    this.#next = mark + 1;
    this.#epochCreated = random !== undefined && stored === 0;
    this.#epoch = this.#epochCreated ? newEpoch(random!) : stored;
    if (this.#epochCreated) storage.write(key, writeMark(mark, this.#epoch));
  }

  /** The value the next `take()` returns. */
  peek(): number {
    return this.#next;
  }

  /** Random non-zero u32 fixed for the life of this record; 0 without epochs. */
  get epoch(): number {
    return this.#epoch;
  }

  /** True when this boot made the epoch (first boot, wiped flash, or upgrade from firmware without epochs). */
  get epochCreated(): boolean {
    return this.#epochCreated;
  }

  /** Returns a fresh value, reserving a block first when needed. */
  take(): number {
    if (this.#next > this.#reserved) this.#reserve();
    const v = this.#next++;
    return v;
  }

  #reserve(): void {
    const mark = this.#next - 1 + this.#block;
    if (mark > sequenceMax) throw new Error(`sequence ${this.#key} exhausted`);
    this.#storage.write(this.#key, writeMark(mark, this.#epoch));
    this.#reserved = mark;
  }
}

function newEpoch(random: Random): number {
  for (;;) {
    const e = random.u32() >>> 0;
    if (e !== 0) return e;
  }
}

// Record: mark as 8 bytes little-endian (two u32 halves: no BigInt on XS hot
// paths), then the epoch as u32 LE when there is one.
function writeMark(mark: number, epoch: number): Uint8Array {
  const b = new Uint8Array(epoch === 0 ? markBytes : markEpochBytes);
  const v = new DataView(b.buffer);
  v.setUint32(0, mark % 4294967296, true);
  v.setUint32(4, Math.floor(mark / 4294967296), true);
  if (epoch !== 0) v.setUint32(8, epoch, true);
  return b;
}

function readMark(b: Uint8Array | undefined): number {
  if (b === undefined) return 0;
  if (b.length !== markBytes && b.length !== markEpochBytes) throw new Error(`corrupt sequence mark: ${b.length} bytes, want ${markBytes} or ${markEpochBytes}`);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  return v.getUint32(4, true) * 4294967296 + v.getUint32(0, true);
}

function readEpoch(b: Uint8Array | undefined): number {
  if (b === undefined || b.length !== markEpochBytes) return 0;
  return new DataView(b.buffer, b.byteOffset, b.length).getUint32(8, true);
}
