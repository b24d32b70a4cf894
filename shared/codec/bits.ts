// Bit-level cursors (used by the Gorilla reference codec) and integer helpers.
// One writer class serves both passes of an encoder: with no buffer it only
// counts bits (pass 1 sizes the output), with a buffer it writes them (pass 2
// fills an exact-size Uint8Array). Bits are written MSB first. Widths go up to
// 53 bits so every safe integer fits; nothing here allocates after
// construction.
import { CodecError, CodecErrorReason } from "./errors";

const two24 = 0x1000000;

export class BitWriter {
  /** Bits written (or counted) so far. */
  bitPos = 0;

  /** `bytes` must be zero-filled; null makes a counting writer. */
  constructor(readonly bytes: Uint8Array | null) {}

  /** Writes the low `width` bits of `value` (0 <= value < 2^width, width <= 53). */
  bits(value: number, width: number): void {
    if (width > 24) {
      const high = Math.floor(value / two24);
      this.bits(high, width - 24);
      this.bits(value - high * two24, 24);
      return;
    }
    const bytes = this.bytes;
    if (bytes === null) {
      this.bitPos += width;
      return;
    }
    let pos = this.bitPos;
    while (width > 0) {
      const free = 8 - (pos & 7);
      const take = width < free ? width : free;
      const chunk = (value >>> (width - take)) & ((1 << take) - 1);
      bytes[pos >>> 3] |= chunk << (free - take);
      pos += take;
      width -= take;
    }
    this.bitPos = pos;
  }

  bit(b: number): void {
    this.bits(b, 1);
  }

  /** Unsigned integer in 7-bit groups, low group first, each after a "more" flag. */
  uvar(v: number): void {
    for (;;) {
      const low = v % 128;
      v = (v - low) / 128;
      this.bits(v > 0 ? 1 : 0, 1);
      this.bits(low, 7);
      if (v === 0) return;
    }
  }

  svar(v: number): void {
    this.uvar(zigzag(v));
  }

  /** Bytes needed for what was written so far. */
  byteLength(): number {
    return (this.bitPos + 7) >>> 3;
  }
}

export class BitReader {
  bitPos = 0;
  readonly bitEnd: number;

  constructor(readonly bytes: Uint8Array) {
    this.bitEnd = bytes.length * 8;
  }

  /** Reads `width` bits (width <= 53) as an unsigned integer. */
  bits(width: number): number {
    if (width > 24) {
      const high = this.bits(width - 24);
      return high * two24 + this.bits(24);
    }
    let pos = this.bitPos;
    if (pos + width > this.bitEnd) throw new CodecError(CodecErrorReason.Truncated, `input ends at bit ${this.bitEnd}`);
    const bytes = this.bytes;
    let v = 0;
    while (width > 0) {
      const avail = 8 - (pos & 7);
      const take = width < avail ? width : avail;
      const chunk = (bytes[pos >>> 3]! >>> (avail - take)) & ((1 << take) - 1);
      v = (v << take) | chunk;
      pos += take;
      width -= take;
    }
    this.bitPos = pos;
    return v >>> 0;
  }

  bit(): number {
    return this.bits(1);
  }

  uvar(): number {
    return readUvar(this);
  }

  svar(): number {
    return unzigzag(this.uvar());
  }

  /** Throws unless only zero padding (< 1 byte) is left. */
  expectEnd(): void {
    const left = this.bitEnd - this.bitPos;
    if (left >= 8 || (left > 0 && this.bits(left) !== 0)) {
      throw new CodecError(CodecErrorReason.TrailingBytes, `${left} bits after the declared content`);
    }
  }
}

/** Maps signed to unsigned: 0,-1,1,-2 → 0,1,2,3. Exact for |v| <= 2^52. */
/** Reads a varint written as groups of (more bit, 7 value bits) from any bit source. */
export function readUvar(src: { bits(n: number): number }): number {
  let v = 0;
  let scale = 1;
  for (let group = 0; ; group++) {
    if (group === 8) throw new CodecError(CodecErrorReason.Corrupt, "varint longer than 8 groups");
    const more = src.bits(1);
    v += src.bits(7) * scale;
    scale *= 128;
    if (more === 0) break;
  }
  if (v > Number.MAX_SAFE_INTEGER) throw new CodecError(CodecErrorReason.Corrupt, "varint above 2^53");
  return v;
}

export function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

export function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** Bits needed to write unsigned v (0 for 0). */
export function bitLength(v: number): number {
  if (v < 0x100000000) return 32 - Math.clz32(v);
  return 32 + bitLength(Math.floor(v / 0x100000000));
}

export function uvarBits(v: number): number {
  let n = 8;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n += 8;
  }
  return n;
}
