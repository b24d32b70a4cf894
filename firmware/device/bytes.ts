// Small byte helpers shared by the device modules.

/** The exact ArrayBuffer behind `bytes` (no copy when it already is one). */
export function exactArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const b = bytes.buffer as ArrayBuffer;
  if (bytes.byteOffset === 0 && bytes.byteLength === b.byteLength) return b;
  return b.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

const hexDigits = "0123456789abcdef";

/** Lower-case hex of `n` random bytes drawn 4 at a time. */
export function randomHex(u32: () => number, bytes: number): string {
  let s = "";
  for (let i = 0; i < bytes; i += 4) {
    let v = u32() >>> 0;
    const take = bytes - i < 4 ? bytes - i : 4;
    for (let j = 0; j < take; j++) {
      s += hexDigits[(v >>> 4) & 15]! + hexDigits[v & 15]!;
      v >>>= 8;
    }
  }
  return s;
}

/** Base-36 key suffix, zero-padded so lexical order is numeric order. */
export function keyNumber(n: number, width: number): string {
  const s = n.toString(36);
  if (s.length > width) throw new Error(`key number ${n} does not fit ${width} base-36 digits`);
  return "0".repeat(width - s.length) + s;
}
