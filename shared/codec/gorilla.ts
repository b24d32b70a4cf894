// Reference Gorilla encoder/decoder (Pelkonen et al., "Gorilla: A Fast,
// Scalable, In-Memory Time Series Database", VLDB 2015, §4.1), for comparison
// with the adaptive codec. Faithful to the paper's bit layout:
//  - timestamps: delta-of-delta in buckets '0' | '10'+7 | '110'+9 | '1110'+12
//    | '1111'+32 bits;
//  - values: XOR with the previous float64: '0' if equal; '10' + meaningful
//    bits inside the previous leading/trailing-zero window; '11' + 5 bits of
//    leading zeros + 6 bits of length + the meaningful bits.
// Deviations, because our timestamps are epoch ms, not aligned seconds: the
// header carries t0Ms and the first timestamp as varints (the paper: a 2-hour
// aligned block start and a 14-bit first delta); the first Δt goes through
// the Δ-of-Δ buckets with a previous Δ of 0. Values are stored exactly as
// float64, so this codec is lossless for any double, not just at a resolution.
import { BitReader, BitWriter } from "./bits";
import { CodecError, CodecErrorReason } from "./errors";
import { defaultCodecLimits, Encoding, formatVersionV1, type CodecLimits } from "./batch";
import { timestampAbsMax } from "./time";

export interface GorillaSeries {
  t0Ms: number;
  timestampsMs: readonly number[];
  values: readonly number[];
}

const int32Range = 0x80000000;

/** Float64 ↔ two 32-bit words without per-value allocation. */
class Float64Words {
  private readonly view = new DataView(new ArrayBuffer(8));
  hi = 0;
  lo = 0;

  split(v: number): void {
    this.view.setFloat64(0, v);
    this.hi = this.view.getUint32(0);
    this.lo = this.view.getUint32(4);
  }

  join(hi: number, lo: number): number {
    this.view.setUint32(0, hi);
    this.view.setUint32(4, lo);
    return this.view.getFloat64(0);
  }
}

function leadingZeros(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

function trailingZeros(hi: number, lo: number): number {
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  return 32 + (31 - Math.clz32(hi & -hi));
}

/** Low `width` bits of x (width <= 32), unsigned. */
function low(x: number, width: number): number {
  return width >= 32 ? x >>> 0 : (x & (2 ** width - 1)) >>> 0;
}

/** Writes bits [lead, lead + len) of the 64-bit word hi:lo, MSB first. */
function writeWindow(w: BitWriter, hi: number, lo: number, lead: number, len: number): void {
  const end = lead + len;
  if (lead < 32) {
    const hiEnd = end < 32 ? end : 32;
    w.bits(low(hi >>> (32 - hiEnd), hiEnd - lead), hiEnd - lead);
  }
  if (end > 32) {
    const loStart = lead > 32 ? lead - 32 : 0;
    const loEnd = end - 32;
    w.bits(low(loEnd === 32 ? lo : lo >>> (32 - loEnd), loEnd - loStart), loEnd - loStart);
  }
}

export function encodeGorilla(series: GorillaSeries, limits: Partial<CodecLimits> = {}): Uint8Array {
  const lim = { ...defaultCodecLimits, ...limits };
  const n = series.timestampsMs.length;
  if (n > lim.pointsMax) throw new CodecError(CodecErrorReason.LimitExceeded, `${n} points > pointsMax ${lim.pointsMax}`);
  if (series.values.length !== n) throw new CodecError(CodecErrorReason.InvalidInput, `${series.values.length} values for ${n} timestamps`);
  for (const t of [series.t0Ms, ...series.timestampsMs]) {
    if (!Number.isInteger(t) || !(Math.abs(t) < timestampAbsMax)) {
      throw new CodecError(CodecErrorReason.InvalidInput, `timestamp ${t} is not an integer within ±2^50 ms`);
    }
  }
  const counter = new BitWriter(null);
  writeGorilla(counter, series);
  const w = new BitWriter(new Uint8Array(counter.byteLength()));
  writeGorilla(w, series);
  return w.bytes!;
}

function writeGorilla(w: BitWriter, s: GorillaSeries): void {
  const n = s.timestampsMs.length;
  w.bits(formatVersionV1, 8);
  w.bits(Encoding.Gorilla, 8);
  w.uvar(n);
  w.svar(s.t0Ms);
  if (n === 0) return;
  const words = new Float64Words();
  w.svar(s.timestampsMs[0]! - s.t0Ms);
  words.split(s.values[0]!);
  w.bits(words.hi, 32);
  w.bits(words.lo, 32);
  let prevT = s.timestampsMs[0]!;
  let prevDelta = 0;
  let prevHi = words.hi;
  let prevLo = words.lo;
  let prevLead = -1;
  let prevTrail = 0;
  for (let i = 1; i < n; i++) {
    const t = s.timestampsMs[i]!;
    const delta = t - prevT;
    const dod = delta - prevDelta;
    prevT = t;
    prevDelta = delta;
    if (dod === 0) w.bits(0, 1);
    else if (dod >= -63 && dod <= 64) {
      w.bits(0b10, 2);
      w.bits(dod + 63, 7);
    } else if (dod >= -255 && dod <= 256) {
      w.bits(0b110, 3);
      w.bits(dod + 255, 9);
    } else if (dod >= -2047 && dod <= 2048) {
      w.bits(0b1110, 4);
      w.bits(dod + 2047, 12);
    } else {
      if (!(dod >= -int32Range && dod < int32Range)) {
        throw new CodecError(CodecErrorReason.ValueOutOfRange, `Gorilla Δ-of-Δ ${dod} does not fit 32 bits`);
      }
      w.bits(0b1111, 4);
      w.bits(dod >>> 0, 32);
    }

    words.split(s.values[i]!);
    const xHi = (words.hi ^ prevHi) >>> 0;
    const xLo = (words.lo ^ prevLo) >>> 0;
    prevHi = words.hi;
    prevLo = words.lo;
    if (xHi === 0 && xLo === 0) {
      w.bits(0, 1);
      continue;
    }
    let lead = leadingZeros(xHi, xLo);
    const trail = trailingZeros(xHi, xLo);
    if (lead > 31) lead = 31; // 5-bit field
    if (prevLead >= 0 && lead >= prevLead && trail >= prevTrail) {
      w.bits(0b10, 2);
      writeWindow(w, xHi, xLo, prevLead, 64 - prevLead - prevTrail);
    } else {
      const len = 64 - lead - trail;
      w.bits(0b11, 2);
      w.bits(lead, 5);
      w.bits(len === 64 ? 0 : len, 6);
      writeWindow(w, xHi, xLo, lead, len);
      prevLead = lead;
      prevTrail = trail;
    }
  }
}

export function decodeGorilla(bytes: Uint8Array, limits: Partial<CodecLimits> = {}): { t0Ms: number; timestampsMs: number[]; values: number[] } {
  const lim = { ...defaultCodecLimits, ...limits };
  const r = new BitReader(bytes);
  const version = r.bits(8);
  if (version !== formatVersionV1) throw new CodecError(CodecErrorReason.BadVersion, `format version ${version}`);
  const encoding = r.bits(8);
  if (encoding !== Encoding.Gorilla) throw new CodecError(CodecErrorReason.BadEncoding, `encoding ${encoding}`);
  const n = r.uvar();
  if (n > lim.pointsMax) throw new CodecError(CodecErrorReason.LimitExceeded, `${n} points > pointsMax ${lim.pointsMax}`);
  const t0Ms = r.svar();
  const timestampsMs: number[] = new Array<number>(n);
  const values: number[] = new Array<number>(n);
  if (n === 0) {
    r.expectEnd();
    return { t0Ms, timestampsMs, values };
  }
  const words = new Float64Words();
  let prevT = checkT(t0Ms + r.svar());
  let prevHi = r.bits(32);
  let prevLo = r.bits(32);
  timestampsMs[0] = prevT;
  values[0] = words.join(prevHi, prevLo);
  let prevDelta = 0;
  let prevLead = -1;
  let prevLen = 0;
  for (let i = 1; i < n; i++) {
    let dod: number;
    if (r.bits(1) === 0) dod = 0;
    else if (r.bits(1) === 0) dod = r.bits(7) - 63;
    else if (r.bits(1) === 0) dod = r.bits(9) - 255;
    else if (r.bits(1) === 0) dod = r.bits(12) - 2047;
    else dod = r.bits(32) | 0;
    prevDelta += dod;
    prevT = checkT(prevT + prevDelta);
    timestampsMs[i] = prevT;

    if (r.bits(1) === 1) {
      let lead: number;
      let len: number;
      if (r.bits(1) === 0) {
        if (prevLead < 0) throw new CodecError(CodecErrorReason.Corrupt, "Gorilla value reuses a window never declared");
        lead = prevLead;
        len = prevLen;
      } else {
        lead = r.bits(5);
        len = r.bits(6);
        if (len === 0) len = 64;
        if (lead + len > 64) throw new CodecError(CodecErrorReason.Corrupt, `Gorilla window ${lead}+${len} > 64 bits`);
        prevLead = lead;
        prevLen = len;
      }
      // Read the window back into the two words.
      const end = lead + len;
      let xHi = 0;
      let xLo = 0;
      if (lead < 32) {
        const hiEnd = end < 32 ? end : 32;
        const v = r.bits(hiEnd - lead);
        xHi = (v * 2 ** (32 - hiEnd)) >>> 0;
      }
      if (end > 32) {
        const loStart = lead > 32 ? lead - 32 : 0;
        const loEnd = end - 32;
        const v = r.bits(loEnd - loStart);
        xLo = (v * 2 ** (32 - loEnd)) >>> 0;
      }
      prevHi = (prevHi ^ xHi) >>> 0;
      prevLo = (prevLo ^ xLo) >>> 0;
    }
    values[i] = words.join(prevHi, prevLo);
  }
  r.expectEnd();
  return { t0Ms, timestampsMs, values };
}

function checkT(t: number): number {
  if (!(Math.abs(t) < timestampAbsMax)) throw new CodecError(CodecErrorReason.Corrupt, "decoded timestamp beyond 2^50 ms");
  return t;
}
