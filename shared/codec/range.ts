// Binary range coder (the LZMA design: 11-bit adaptive probabilities, 32-bit
// range, carry propagation through a cached byte) for the adaptive codec's
// body. Adaptive bits learn each stream's distribution as it goes, so a
// symbol costs close to its entropy instead of a whole prefix-code bit;
// "direct" bits (probability 1/2) carry headers. Integer state only; the
// encoder counts bytes when it has no buffer (exact-size pass) and writes
// otherwise. The decoder never reads past its input: a short input is a
// CodecError, and any bytes decode to *something* bounded by the caller.
import { CodecError, CodecErrorReason } from "./errors";
import { readUvar, uvarBits, zigzag, unzigzag } from "./bits";

const probBits = 11;
export const probOne = 1 << probBits;
export const probInit = probOne >>> 1;
const top = 0x1000000;
const two32 = 0x100000000;

/** A set of adaptive probabilities, all starting at 1/2. */
export function newProbs(n: number): Uint16Array {
  return new Uint16Array(n).fill(probInit);
}

// A probability entry packs the 11-bit probability of a 0 (low 12 bits) and
// how many times it was updated, up to 15 (high 4 bits). Early updates take
// bigger steps (1/2, 1/3, … like a frequency count) so a fresh model learns
// a stream in a few dozen symbols; later ones settle at 1/32.
const countShift = 12;
const probMask = (1 << countShift) - 1;
const rateShift: readonly number[] = Object.freeze([1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5]);

function adapt(probs: Uint16Array, i: number, bit: number): void {
  const e = probs[i]!;
  const p = e & probMask;
  const count = e >>> countShift;
  const shift = rateShift[count]!;
  let q = bit === 0 ? p + ((probOne - p) >>> shift) : p - (p >>> shift);
  if (q < 31) q = 31;
  else if (q > probOne - 31) q = probOne - 31;
  probs[i] = ((count < 15 ? count + 1 : 15) << countShift) | q;
}

/** What adaptive-model coders write to: the range encoder, or a cost meter. */
export interface BitSink {
  bit(probs: Uint16Array, i: number, bit: number): void;
  bits(value: number, width: number): void;
  uvar(value: number): void;
}

/** The probabilities of IntModels from..to (exclusive) inside a shared array. */
export function contexts(all: Uint16Array, from: number, to: number): Uint16Array {
  return all.subarray(from * IntModel.size, to * IntModel.size);
}

// Cost in bits of coding a symbol whose probability falls in each 16th of
// the range. A frozen constant table: preloaded into flash on the device
// (a lazily built typed array would cost RAM and a mutable module variable).
const costTable: readonly number[] = Object.freeze(Array.from({ length: probOne >>> 4 }, (_, i) => -Math.log2((i * 16 + 8) / probOne)));

/**
 * Measures what coding would cost, in bits, adapting the probabilities as
 * the encoder would: blocks try their candidate transforms on a snapshot of
 * the models and keep the cheapest ("chosen by measurement").
 */
export class CostMeter implements BitSink {
  costBits = 0;

  bit(probs: Uint16Array, i: number, bit: number): void {
    const p = probs[i]! & probMask;
    this.costBits += costTable[(bit === 0 ? p : probOne - p) >>> 4]!;
    adapt(probs, i, bit);
  }

  bits(_value: number, width: number): void {
    this.costBits += width;
  }

  uvar(value: number): void {
    this.costBits += uvarBits(value);
  }
}

export class RangeEncoder implements BitSink {
  private low = 0;
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  /** The first byte LZMA emits is always 0; it is not stored. */
  private skipFirst = true;
  /** Bytes written (or counted) so far, from `offset`. */
  length = 0;

  /** `bytes` null makes a counting encoder. */
  constructor(private readonly bytes: Uint8Array | null, private readonly offset = 0) {}

  private out(b: number): void {
    if (this.skipFirst) {
      this.skipFirst = false;
      return;
    }
    if (this.bytes !== null) this.bytes[this.offset + this.length] = b;
    this.length++;
  }

  private shiftLow(): void {
    const low = this.low;
    if (low < 0xff000000 || low >= two32) {
      const carry = low >= two32 ? 1 : 0;
      let temp = this.cache;
      do {
        this.out((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = (low >>> 24) & 0xff;
    }
    this.cacheSize++;
    this.low = (low & 0xffffff) * 256;
  }

  /** Codes `bit` with the adaptive probability probs[i], then adapts it. */
  bit(probs: Uint16Array, i: number, bit: number): void {
    const bound = (this.range >>> probBits) * (probs[i]! & probMask);
    adapt(probs, i, bit);
    if (bit === 0) {
      this.range = bound;
    } else {
      this.low += bound;
      this.range -= bound;
    }
    while (this.range < top) {
      this.range = (this.range * 256) >>> 0;
      this.shiftLow();
    }
  }

  /** Writes the low `width` bits of value at probability 1/2 (width <= 53). */
  bits(value: number, width: number): void {
    for (let i = width - 1; i >= 0; i--) {
      const b = Math.floor(value / 2 ** i) % 2;
      this.range = this.range >>> 1;
      if (b === 1) this.low += this.range;
      while (this.range < top) {
        this.range = (this.range * 256) >>> 0;
        this.shiftLow();
      }
    }
  }

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

  /** Ends the stream; afterwards `length` is final. */
  finish(): void {
    for (let i = 0; i < 5; i++) this.shiftLow();
  }
}

export class RangeDecoder {
  private range = 0xffffffff;
  private code = 0;
  private pos: number;

  constructor(private readonly bytes: Uint8Array, offset: number) {
    this.pos = offset;
    for (let i = 0; i < 4; i++) this.code = this.code * 256 + this.next();
  }

  private next(): number {
    if (this.pos >= this.bytes.length) throw new CodecError(CodecErrorReason.Truncated, `input ends at byte ${this.bytes.length}`);
    return this.bytes[this.pos++]!;
  }

  bit(probs: Uint16Array, i: number): number {
    const bound = (this.range >>> probBits) * (probs[i]! & probMask);
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      bit = 0;
    } else {
      this.code -= bound;
      this.range -= bound;
      bit = 1;
    }
    adapt(probs, i, bit);
    while (this.range < top) {
      this.range = (this.range * 256) >>> 0;
      this.code = (this.code * 256 + this.next()) >>> 0;
    }
    return bit;
  }

  /** Reads `width` direct bits (width <= 53). */
  bits(width: number): number {
    let v = 0;
    for (let i = 0; i < width; i++) {
      this.range = this.range >>> 1;
      let b = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        b = 1;
      }
      v = v * 2 + b;
      while (this.range < top) {
        this.range = (this.range * 256) >>> 0;
        this.code = (this.code * 256 + this.next()) >>> 0;
      }
    }
    return v;
  }

  uvar(): number {
    return readUvar(this);
  }

  svar(): number {
    return unzigzag(this.uvar());
  }

  /** Throws unless every input byte was consumed. */
  expectEnd(): void {
    if (this.pos !== this.bytes.length) {
      throw new CodecError(CodecErrorReason.TrailingBytes, `${this.bytes.length - this.pos} bytes after the declared content`);
    }
  }
}

/** Lengths up to this get every mantissa bit adaptive (a full binary tree). */
const fullLenMax = 8;
const unaryAt = 1;
/** The sign is coded after the bit length, in its context (asymmetric tails are common). */
const signAt = unaryAt + 53;
const fullAt = signAt + 54;
const topAt = fullAt + (1 << fullLenMax) - 1;
const topBits = 3;
const topLenMax = 16;

/** Index of node ctx = 0 of the mantissa tree for a length (nodes are ctx >= 1). */
function treeAt(len: number): number {
  if (len <= fullLenMax) return fullAt + (1 << (len - 1)) - 2;
  // Lengths above topLenMax share one set: such values are rare and wide.
  return topAt + ((len < topLenMax ? len : topLenMax) - fullLenMax - 1) * (1 << topBits) - 1;
}

/**
 * Adaptive code for signed integers (|v| < 2^53): zero flag, bit length in
 * adaptive unary, sign (per length), then the bits under the leading one: all of them
 * adaptive (a binary tree per length) up to length 8, so uneven steps such
 * as 40 vs 41 are learnt exactly; for longer values the top 3 adaptive and
 * the rest direct. 427 probabilities (854 bytes) per model.
 */
export class IntModel {
  /** Probabilities this model needs; a model is a view into a caller's block. */
  static readonly size = topAt + (topLenMax - fullLenMax) * (1 << topBits);

  constructor(readonly probs: Uint16Array = newProbs(IntModel.size)) {}

  encode(e: BitSink, v: number): void {
    const p = this.probs;
    if (v === 0) {
      e.bit(p, 0, 0);
      return;
    }
    e.bit(p, 0, 1);
    const a = v < 0 ? -v : v;
    let len = 1;
    while (2 ** len <= a) len++;
    for (let j = 1; j < len; j++) e.bit(p, unaryAt + j - 1, 1);
    if (len < 53) e.bit(p, unaryAt + len - 1, 0);
    e.bit(p, signAt + len, v < 0 ? 1 : 0);
    let rest = a - 2 ** (len - 1);
    let ctx = 1;
    let i = len - 2;
    const adaptive = len <= fullLenMax ? len - 1 : topBits;
    const tree = treeAt(len);
    for (let k = 0; k < adaptive; k++, i--) {
      const b = Math.floor(rest / 2 ** i);
      rest -= b * 2 ** i;
      e.bit(p, tree + ctx, b);
      ctx = ctx * 2 + b;
    }
    if (i >= 0) e.bits(rest, i + 1);
  }

  decode(d: RangeDecoder): number {
    const p = this.probs;
    if (d.bit(p, 0) === 0) return 0;
    let len = 1;
    while (len < 53 && d.bit(p, unaryAt + len - 1) === 1) len++;
    const negative = d.bit(p, signAt + len) === 1;
    let a = 1;
    let ctx = 1;
    let i = len - 2;
    const adaptive = len <= fullLenMax ? len - 1 : topBits;
    const tree = treeAt(len);
    for (let k = 0; k < adaptive; k++, i--) {
      const b = d.bit(p, tree + ctx);
      a = a * 2 + b;
      ctx = ctx * 2 + b;
    }
    if (i >= 0) a = a * 2 ** (i + 1) + d.bits(i + 1);
    return negative ? -a : a;
  }
}
