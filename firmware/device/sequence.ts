// A counter that never repeats a value across restarts, without a flash
// write per value: the high-water mark is reserved in blocks. On boot the
// next value is the persisted mark + 1, and a new block is reserved before
// any value of it is handed out, so a crash can skip up to a block of
// values but never reuse one.
//
// Invariant: next <= reserved + 1, and `reserved` is durable before any
// value <= reserved is returned.
import type { Storage } from "../platform";

/** Values per flash write; a crash skips at most this many. */
export const sequenceBlockDefault = 64;
/** Values stay exact JS integers (protobuf uint64 as a number). */
const sequenceMax = Number.MAX_SAFE_INTEGER;

export class PersistentSequence {
  readonly #storage: Storage;
  readonly #key: string;
  readonly #block: number;
  #next: number;
  #reserved: number;

  constructor(storage: Storage, key: string, block = sequenceBlockDefault) {
    if (!(Number.isSafeInteger(block) && block >= 1)) throw new Error(`sequence block must be a positive integer, got ${block}`);
    this.#storage = storage;
    this.#key = key;
    this.#block = block;
    const mark = readMark(storage.read(key));
    this.#reserved = mark;
    this.#next = mark + 1;
  }

  /** The value the next `take()` returns. */
  peek(): number {
    return this.#next;
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
    this.#storage.write(this.#key, writeMark(mark));
    this.#reserved = mark;
  }
}

// Mark encoding: 8 bytes little-endian, as two u32 halves (no BigInt on XS hot paths).
function writeMark(mark: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, mark % 4294967296, true);
  v.setUint32(4, Math.floor(mark / 4294967296), true);
  return b;
}

function readMark(b: Uint8Array | undefined): number {
  if (b === undefined) return 0;
  if (b.length !== 8) throw new Error(`corrupt sequence mark: ${b.length} bytes, want 8`);
  const v = new DataView(b.buffer, b.byteOffset, 8);
  return v.getUint32(4, true) * 4294967296 + v.getUint32(0, true);
}
