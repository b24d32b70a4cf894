// Binary range coder (the LZMA design: 11-bit adaptive probabilities, 32-bit
// range, carry propagation through a cached byte) for the adaptive codec's
// body. Adaptive bits learn each stream's distribution as it goes, so a
// symbol costs close to its entropy instead of a whole prefix-code bit;
// "direct" bits (probability 1/2) carry headers. Integer state only; the
// encoder counts bytes when it has no buffer (exact-size pass) and writes
// otherwise. The decoder never reads past its input: a short input is a
// CodecError, and any bytes decode to *something* bounded by the caller.
import { CodecError, CodecErrorReason } from "./errors";
import { uvarBits, zigzag, unzigzag } from "./bits";

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

// rateShift again, as 4-bit fields of two integers (counts 0–7, 8–15), for
// the decoder's bit step: V8 reads a frozen array's elements on a slower
// path, which made that read a third of the decoder's time per bit.
const rateShiftLow = packNibbles(rateShift, 0);
const rateShiftHigh = packNibbles(rateShift, 8);

function packNibbles(table: readonly number[], from: number): number {
  let packed = 0;
  for (let k = 0; k < 8; k++) packed |= table[from + k]! << (4 * k);
  return packed;
}

/** rateShift[count], from the packed fields. */
function shiftOf(count: number): number {
  return ((count < 8 ? rateShiftLow : rateShiftHigh) >>> ((count & 7) << 2)) & 15;
}

// The decoder's bounds of an adapted probability (adapt()'s clamp).
const probMin = 31;
const probMax = probOne - probMin;
/** XORed into two uint32 held as int32 to compare them as unsigned. */
const signBit = 0x80000000 | 0;

/**
 * The decoder reads adaptive bits in two shapes, each a method with the coder
 * state in local variables and adapt() inlined: a run of ones (ones(): the
 * recent-value index, single flags) and a whole IntModel integer (int()).
 * This is the cloud's inner loop: with a method call and field writes per
 * bit, decoding spent most of its time there.
 *
 * The arithmetic is RangeEncoder.bit's mirror, step for step, but in int32:
 * range and code are uint32 values kept in int32 variables (every operation
 * is exact modulo 2^32 and both stay below 2^32, so the bits are those the
 * double arithmetic of the encoder gives), compared as unsigned by flipping
 * the sign bit. Engines keep int32 locals in registers; doubles above 2^31
 * need conversions around every shift. A decoded bit selects with masks
 * rather than branches (mask = -bit: 0 or all ones), because the bits of a
 * well-compressed stream are what a branch predictor cannot predict.
 */
export class RangeDecoder {
  /** uint32 in an int32 (0xffffffff is -1). */
  private range = -1;
  private code = 0;
  private pos: number;
  private readonly end: number;

  constructor(private readonly bytes: Uint8Array, offset: number) {
    this.pos = offset;
    this.end = bytes.length;
    for (let i = 0; i < 4; i++) this.code = (this.code << 8) | this.next();
  }

  private next(): number {
    if (this.pos >= this.end) truncated(this.end);
    return this.bytes[this.pos++]!;
  }

  /** Decodes one bit with the adaptive probability probs[i], then adapts it. */
  bit(probs: Uint16Array, i: number): number {
    return this.ones(probs, i, 1);
  }

  /**
   * Reads adaptive bits at probs[from], probs[from + 1], … until a 0 or `max`
   * ones; returns the number of ones (a unary count; with max 1, one bit).
   */
  ones(probs: Uint16Array, from: number, max: number): number {
    const bytes = this.bytes;
    const end = this.end;
    let range = this.range;
    let code = this.code;
    let pos = this.pos;
    let n = 0;
    while (n < max) {
      const i = from + n;
      // adapt() inlined: e packs the update count (high 4 bits) and P(0).
      const e = probs[i]!;
      const p = e & probMask;
      const count = e >>> countShift;
      const shift = shiftOf(count);
      const bound = Math.imul(range >>> probBits, p);
      const bit = (code ^ signBit) >= (bound ^ signBit) ? 1 : 0;
      const mask = -bit;
      // 0: range = bound, P(0) moves up; 1: code and range lose bound, P(0)
      // moves down by p >>> shift (written as an arithmetic shift rounding
      // the same way).
      code = (code - (bound & mask)) | 0;
      range = (bound & ~mask) | ((range - bound) & mask);
      const q = p + (((probOne & ~mask) - p + (((1 << shift) - 1) & mask)) >> shift);
      probs[i] = ((count < 15 ? count + 1 : 15) << countShift) | (q < probMin ? probMin : q > probMax ? probMax : q);
      while (range >>> 24 === 0) {
        if (pos >= end) truncated(end);
        range = range << 8;
        code = (code << 8) | bytes[pos++]!;
      }
      if (bit === 0) break;
      n++;
    }
    this.range = range;
    this.code = code;
    this.pos = pos;
    return n;
  }

  /**
   * Decodes one integer coded by IntModel.encode with the probabilities
   * `probs` (IntModel's layout). Most integers in telemetry take 1–6 bits,
   * so the whole integer is one call, in two runs of ones()'s bit step: the
   * zero flag and the unary length, whose probabilities are consecutive
   * (0, then unaryAt = 1 …), are one run of ones; then the sign and the walk
   * down the mantissa tree; then any direct bits.
   */
  int(probs: Uint16Array): number {
    const bytes = this.bytes;
    const end = this.end;
    let range = this.range;
    let code = this.code;
    let pos = this.pos;
    // len = ones before the first 0, at most 53: 0 is the value 0; else the
    // bit length (length 53 has no terminating zero, as IntModel writes it).
    let len = 0;
    do {
      const e = probs[len]!;
      const p = e & probMask;
      const count = e >>> countShift;
      const shift = shiftOf(count);
      const bound = Math.imul(range >>> probBits, p);
      const bit = (code ^ signBit) >= (bound ^ signBit) ? 1 : 0;
      const mask = -bit;
      code = (code - (bound & mask)) | 0;
      range = (bound & ~mask) | ((range - bound) & mask);
      const q = p + (((probOne & ~mask) - p + (((1 << shift) - 1) & mask)) >> shift);
      probs[len] = ((count < 15 ? count + 1 : 15) << countShift) | (q < probMin ? probMin : q > probMax ? probMax : q);
      while (range >>> 24 === 0) {
        if (pos >= end) truncated(end);
        range = range << 8;
        code = (code << 8) | bytes[pos++]!;
      }
      if (bit === 0) break;
    } while (++len < 53);
    if (len === 0) {
      this.range = range;
      this.code = code;
      this.pos = pos;
      return 0;
    }
    // The sign (k = -1), then `depth` bits down the tree; node ends as the
    // leading 1 and the bits under it.
    const depth = len <= fullLenMax ? len - 1 : topBits;
    const tree = treeAt(len);
    let negative = 0;
    let node = 1;
    for (let k = -1; k < depth; k++) {
      const at = k < 0 ? signAt + len : tree + node;
      const e = probs[at]!;
      const p = e & probMask;
      const count = e >>> countShift;
      const shift = shiftOf(count);
      const bound = Math.imul(range >>> probBits, p);
      const bit = (code ^ signBit) >= (bound ^ signBit) ? 1 : 0;
      const mask = -bit;
      code = (code - (bound & mask)) | 0;
      range = (bound & ~mask) | ((range - bound) & mask);
      const q = p + (((probOne & ~mask) - p + (((1 << shift) - 1) & mask)) >> shift);
      probs[at] = ((count < 15 ? count + 1 : 15) << countShift) | (q < probMin ? probMin : q > probMax ? probMax : q);
      while (range >>> 24 === 0) {
        if (pos >= end) truncated(end);
        range = range << 8;
        code = (code << 8) | bytes[pos++]!;
      }
      if (k < 0) negative = bit;
      else node = node * 2 + bit;
    }
    this.range = range;
    this.code = code;
    this.pos = pos;
    const direct = len - 1 - depth;
    if (direct > 0) node = node * 2 ** direct + this.bits(direct);
    return negative === 1 ? -node : node;
  }

  /** Reads `width` direct bits (width <= 53). */
  bits(width: number): number {
    const bytes = this.bytes;
    const end = this.end;
    let range = this.range;
    let code = this.code;
    let pos = this.pos;
    let v = 0;
    for (let i = 0; i < width; i++) {
      range = range >>> 1;
      const bit = (code ^ signBit) >= (range ^ signBit) ? 1 : 0;
      code = (code - (range & -bit)) | 0;
      v = v * 2 + bit;
      while (range >>> 24 === 0) {
        if (pos >= end) truncated(end);
        range = range << 8;
        code = (code << 8) | bytes[pos++]!;
      }
    }
    this.range = range;
    this.code = code;
    this.pos = pos;
    return v;
  }

  /**
   * readUvar over this decoder (the same groups, checks and errors), with a
   * group's "more" flag and 7 value bits read as one 8-bit call.
   */
  uvar(): number {
    let v = 0;
    let scale = 1;
    for (let group = 0; ; group++) {
      if (group === 8) throw new CodecError(CodecErrorReason.Corrupt, "varint longer than 8 groups");
      const g = this.bits(8);
      v += (g & 127) * scale;
      scale *= 128;
      if (g < 128) break;
    }
    if (v > Number.MAX_SAFE_INTEGER) throw new CodecError(CodecErrorReason.Corrupt, "varint above 2^53");
    return v;
  }

  svar(): number {
    return unzigzag(this.uvar());
  }

  /** Throws unless every input byte was consumed. */
  expectEnd(): void {
    if (this.pos !== this.end) {
      throw new CodecError(CodecErrorReason.TrailingBytes, `${this.end - this.pos} bytes after the declared content`);
    }
  }
}

/** The input ended inside the range-coded stream (kept out of the bit loops). */
function truncated(length: number): never {
  throw new CodecError(CodecErrorReason.Truncated, `input ends at byte ${length}`);
}

/** Lengths up to this get every mantissa bit adaptive (a full binary tree). */
const fullLenMax = 8;
/** Right after the zero flag (RangeDecoder.int reads the two as one run). */
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
    return d.int(this.probs);
  }
}
