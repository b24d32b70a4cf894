// A straightforward decoder of the adaptive batch format (shared/codec),
// written as the format reads: one method call per bit, adapt() as a
// function, doubles for the coder state, readUvar and dequantize as they
// are. It is the decoder as it was before shared/codec's was specialised for
// speed (int32 coder state, adapt inlined, whole integers per call), kept
// here as the yardstick: codec-decoder-reference.test.ts holds the fast one
// equal to it, errors included, on valid, random, truncated and corrupted
// inputs. Deliberately independent of shared/codec's decoder classes; only
// errors, limits, the resolution helpers and the varint reader are shared.
import { readUvar, unzigzag } from "../../shared/codec/bits";
import { CodecError, CodecErrorReason } from "../../shared/codec/errors";
import { defaultCodecLimits, Encoding, formatVersion, formatVersionV1, type Channel, type CodecLimits, type TelemetryBatch } from "../../shared/codec/batch";
import { dequantize, quantizedAbsMax, resolutionExponentMax, resolutionExponentMin, resolutionValue, type Resolution } from "../../shared/codec/resolution";

// ---- the range decoder (LZMA) ----

const probBits = 11;
const probOne = 1 << probBits;
const top = 0x1000000;
const countShift = 12;
const probMask = (1 << countShift) - 1;
const rateShift = [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5];

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

class Decoder {
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

  expectEnd(): void {
    if (this.pos !== this.bytes.length) {
      throw new CodecError(CodecErrorReason.TrailingBytes, `${this.bytes.length - this.pos} bytes after the declared content`);
    }
  }
}

// ---- adaptive integers: zero flag, unary length, sign, mantissa tree, direct bits ----

const fullLenMax = 8;
const unaryAt = 1;
const signAt = unaryAt + 53;
const fullAt = signAt + 54;
const topAt = fullAt + (1 << fullLenMax) - 1;
const topBits = 3;
const topLenMax = 16;
const intModelSize = topAt + (topLenMax - fullLenMax) * (1 << topBits);

function treeAt(len: number): number {
  if (len <= fullLenMax) return fullAt + (1 << (len - 1)) - 2;
  return topAt + ((len < topLenMax ? len : topLenMax) - fullLenMax - 1) * (1 << topBits) - 1;
}

/** The probabilities of model k inside a stream's array. */
function model(all: Uint16Array, k: number): Uint16Array {
  return all.subarray(k * intModelSize, (k + 1) * intModelSize);
}

function decodeInt(d: Decoder, p: Uint16Array): number {
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

function newProbs(n: number): Uint16Array {
  return new Uint16Array(n).fill(probOne >>> 1);
}

// ---- timestamps ----

const blockPointsMax = 128;
const timestampAbsMax = 2 ** 50;
const quantumMax = 0xffffffff;

class TimeStream {
  private readonly all = newProbs(9 * intModelSize);
  private readonly dod = model(this.all, 0);
  private readonly m = [6, 1, 7].map((k) => model(this.all, k));
  private readonly r = [2, 3, 4, 5, 8].map((k) => model(this.all, k));
  private prevM = 0;
  private prevR = 0;
  private q = 0;
  private o = 0;
  private mBase = 0;
  private rBase = 0;
  private prevDelta = 0;

  constructor(private prevT: number) {}

  block(d: Decoder, out: number[], start: number, n: number): void {
    const mode = d.bits(2);
    if (mode === 0) {
      for (let i = 0; i < n; i++) {
        this.prevDelta += decodeInt(d, this.dod);
        this.prevT = checkTimestamp(this.prevT + this.prevDelta);
        out[start + i] = this.prevT;
      }
      return;
    }
    if (mode === 1) {
      this.q = d.uvar();
      this.o = d.uvar();
      this.mBase = d.svar();
      this.rBase = d.svar();
      if (this.q < 1 || this.q > quantumMax || this.o >= this.q) throw new CodecError(CodecErrorReason.Corrupt, `time quantum ${this.q} phase ${this.o}`);
    } else if (mode === 2) {
      if (this.q === 0) throw new CodecError(CodecErrorReason.Corrupt, "time block reuses a quantum never declared");
    } else {
      throw new CodecError(CodecErrorReason.BadEncoding, `time block mode ${mode}`);
    }
    for (let i = 0; i < n; i++) {
      const mc = this.prevM < 0 ? 0 : this.prevM === 0 ? 1 : 2;
      this.prevM = decodeInt(d, this.m[mc]!);
      const pr = this.prevR;
      const rc = pr === 0 ? 0 : pr === -1 ? 1 : pr === 1 ? 2 : pr < 0 ? 3 : 4;
      this.prevR = decodeInt(d, this.r[rc]!);
      this.prevDelta = this.q * (this.mBase + this.prevM) + this.o + this.rBase + this.prevR;
      this.prevT = checkTimestamp(this.prevT + this.prevDelta);
      out[start + i] = this.prevT;
    }
  }
}

function checkTimestamp(t: number): number {
  if (!(Math.abs(t) < timestampAbsMax)) throw new CodecError(CodecErrorReason.Corrupt, "decoded timestamp beyond 2^50 ms");
  return t;
}

// ---- values ----

const recentSize = 7;

class ValueStream {
  private readonly all = newProbs(6 * intModelSize + recentSize);
  private readonly delta = [0, 1, 2].map((k) => model(this.all, k));
  private readonly m = model(this.all, 3);
  private readonly r = model(this.all, 4);
  private readonly miss = model(this.all, 5);
  private readonly index = this.all.subarray(6 * intModelSize);
  /** Most recently used distinct values, most recent first. */
  private readonly recent: number[];
  private lastDelta = 0;

  constructor(private prev: number) {
    this.recent = [prev];
  }

  private touch(x: number): void {
    const at = this.recent.indexOf(x);
    if (at >= 0) this.recent.splice(at, 1);
    else if (this.recent.length === recentSize) this.recent.pop();
    this.recent.unshift(x);
  }

  private next(x: number): number {
    this.lastDelta = x - this.prev;
    this.prev = x;
    this.touch(x);
    return x;
  }

  block(d: Decoder, out: number[], start: number, n: number): void {
    const mode = d.bits(2);
    if (mode === 0) {
      for (let i = 0; i < n; i++) {
        const ctx = this.lastDelta === 0 ? 0 : this.lastDelta > 0 ? 1 : 2;
        const delta = decodeInt(d, this.delta[ctx]!);
        out[start + i] = this.next(checkValue(this.prev + delta));
        this.lastDelta = delta;
      }
    } else if (mode === 1) {
      const q = d.uvar();
      if (q < 1 || q > quantumMax) throw new CodecError(CodecErrorReason.Corrupt, `value quantum ${q}`);
      for (let i = 0; i < n; i++) {
        const m = decodeInt(d, this.m);
        out[start + i] = this.next(checkValue(this.prev + q * m + decodeInt(d, this.r)));
      }
    } else if (mode === 2) {
      for (let i = 0; i < n; i++) {
        let j = 0;
        while (j < recentSize && d.bit(this.index, j) === 1) j++;
        if (j < recentSize) {
          if (j >= this.recent.length) throw new CodecError(CodecErrorReason.Corrupt, `recent-value index ${j} of ${this.recent.length}`);
          out[start + i] = this.next(this.recent[j]!);
        } else {
          out[start + i] = this.next(checkValue(this.prev + decodeInt(d, this.miss)));
        }
      }
    } else {
      throw new CodecError(CodecErrorReason.BadEncoding, `value block mode ${mode}`);
    }
  }
}

function checkValue(n: number): number {
  if (!(Math.abs(n) <= quantizedAbsMax)) throw new CodecError(CodecErrorReason.Corrupt, "decoded value beyond 2^50 steps");
  return n;
}

// ---- the batch ----

const commonMantissas = [1, 2, 5];

/** Decodes a batch as decodeBatch does (same result, same CodecError). */
export function referenceDecodeBatch(bytes: Uint8Array, limits: Partial<CodecLimits> = {}): TelemetryBatch {
  const lim = { ...defaultCodecLimits, ...limits };
  if (bytes.length < 2) throw new CodecError(CodecErrorReason.Truncated, `${bytes.length} bytes, no header`);
  const v1 = bytes[0] === formatVersionV1;
  if (!v1 && bytes[0] !== formatVersion) throw new CodecError(CodecErrorReason.BadVersion, `format version ${bytes[0]}`);
  if (v1 && bytes[1] !== Encoding.Adaptive) throw new CodecError(CodecErrorReason.BadEncoding, `encoding ${bytes[1]}`);
  const d = new Decoder(bytes, v1 ? 2 : 1);
  const count = d.uvar();
  if (count > lim.pointsMax) throw new CodecError(CodecErrorReason.LimitExceeded, `${count} points > pointsMax ${lim.pointsMax}`);
  let channelCount: number;
  if (v1) channelCount = d.uvar();
  else {
    channelCount = d.bits(5);
    if (channelCount === 31) channelCount += d.uvar();
  }
  if (channelCount > lim.channelsMax) throw new CodecError(CodecErrorReason.LimitExceeded, `${channelCount} channels > channelsMax ${lim.channelsMax}`);
  const t0Ms = d.svar();
  if (!(Math.abs(t0Ms) < timestampAbsMax)) throw new CodecError(CodecErrorReason.Corrupt, "t0Ms beyond 2^50");
  const firstT = count === 0 ? t0Ms : v1 || d.bits(1) === 1 ? t0Ms + d.svar() : t0Ms;
  if (!(Math.abs(firstT) < timestampAbsMax)) throw new CodecError(CodecErrorReason.Corrupt, "first timestamp beyond 2^50");

  const resolutions: Resolution[] = [];
  const columns: number[][] = [];
  for (let c = 0; c < channelCount; c++) {
    let res: Resolution;
    if (v1) res = { exponent: d.svar(), mantissa: d.uvar() };
    else {
      const cls = d.bits(2);
      const mantissa = cls < 3 ? commonMantissas[cls]! : d.uvar();
      res = { mantissa, exponent: d.bits(5) + resolutionExponentMin };
    }
    if (res.exponent < resolutionExponentMin || res.exponent > resolutionExponentMax || res.mantissa < 1 || res.mantissa > 0xffffffff) {
      throw new CodecError(CodecErrorReason.Corrupt, `resolution ${res.mantissa}e${res.exponent}`);
    }
    resolutions.push(res);
    const column = new Array<number>(count);
    if (count > 0) column[0] = d.svar();
    columns.push(column);
  }
  const timestampsMs = new Array<number>(count);
  if (count > 0) timestampsMs[0] = firstT;
  const time = new TimeStream(firstT);
  const values = columns.map((col) => new ValueStream(col[0] ?? 0));
  for (let start = 1; start < count; start += blockPointsMax) {
    const n = Math.min(blockPointsMax, count - start);
    time.block(d, timestampsMs, start, n);
    for (let c = 0; c < channelCount; c++) values[c]!.block(d, columns[c]!, start, n);
  }
  d.expectEnd();
  const channels: Channel[] = columns.map((col, c) => ({ values: col.map((n) => dequantize(n, resolutions[c]!)), resolution: resolutionValue(resolutions[c]!) }));
  return { t0Ms, timestampsMs, channels };
}
