// Declared sensor resolution as an exact decimal: mantissa × 10^exponent
// (0.01 → 1e-2, 0.001 → 1e-3, 0.5 → 5e-1). Values travel as integer
// multiples of it. Dequantising divides by an exact power of ten, so a value
// parsed from "20.48" comes back as exactly the same double.
import { CodecError, CodecErrorReason } from "./errors";

export interface Resolution {
  mantissa: number;
  exponent: number;
}

export const resolutionExponentMin = -15;
export const resolutionExponentMax = 15;
const mantissaMax = 0xffffffff;
/** Largest |value / resolution| carried; keeps zigzag(delta) below 2^53. */
export const quantizedAbsMax = 2 ** 50;

/** Finds the decimal form of a resolution such as 0.01 (fewest mantissa digits). */
export function parseResolution(resolution: number): Resolution {
  if (!(resolution > 0) || !Number.isFinite(resolution)) {
    throw new CodecError(CodecErrorReason.InvalidInput, `resolution must be a positive finite number, got ${resolution}`);
  }
  for (let exponent = resolutionExponentMax; exponent >= resolutionExponentMin; exponent--) {
    const scaled = exponent >= 0 ? resolution / 10 ** exponent : resolution * 10 ** -exponent;
    const mantissa = Math.round(scaled);
    // Accept only a decimal form that gives back exactly the same double.
    if (mantissa >= 1 && mantissa <= mantissaMax && resolutionValue({ mantissa, exponent }) === resolution) {
      return { mantissa, exponent };
    }
  }
  throw new CodecError(CodecErrorReason.InvalidInput, `resolution ${resolution} is not a decimal m×10^e with m < 2^32`);
}

export function resolutionValue(r: Resolution): number {
  return r.exponent >= 0 ? r.mantissa * 10 ** r.exponent : r.mantissa / 10 ** -r.exponent;
}

/** value → integer count of resolution steps (round half away from zero). */
export function quantize(value: number, r: Resolution): number {
  if (!Number.isFinite(value)) throw new CodecError(CodecErrorReason.InvalidInput, `value ${value} is not finite`);
  const scaled = r.exponent >= 0 ? value / (r.mantissa * 10 ** r.exponent) : (value * 10 ** -r.exponent) / r.mantissa;
  const n = scaled < 0 ? -Math.round(-scaled) : Math.round(scaled);
  if (!(Math.abs(n) <= quantizedAbsMax)) {
    throw new CodecError(CodecErrorReason.ValueOutOfRange, `value ${value} is more than 2^50 resolution steps from 0`);
  }
  return n === 0 ? 0 : n; // no -0 on the wire
}

/** Integer count of steps → value, the same double as parsing the decimal text. */
export function dequantize(n: number, r: Resolution): number {
  return r.exponent >= 0 ? n * r.mantissa * 10 ** r.exponent : (n * r.mantissa) / 10 ** -r.exponent;
}

/** What a value becomes after a round trip at resolution `resolution`. */
export function atResolution(value: number, resolution: number): number {
  const r = parseResolution(resolution);
  return dequantize(quantize(value, r), r);
}
