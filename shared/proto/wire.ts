// Protobuf wire format for generated code (xsfleet.gen.ts). Small enough for
// the device: one exact-size buffer per message, written through a cursor;
// the reader is bounded (lengths, counts) and never trusts the input.
// 64-bit integers are JS numbers and must stay within 2^53.
import { utf8Decode, utf8Length, utf8Write } from "./utf8";

export const WireType = Object.freeze({ Varint: 0, Fixed64: 1, Bytes: 2, Fixed32: 5 } as const);
export type WireType = (typeof WireType)[keyof typeof WireType];

export class ProtoError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
    this.name = "ProtoError";
  }
}

/** Limits applied while decoding untrusted bytes. */
export interface DecodeLimits {
  /** Longest accepted string or bytes field. */
  fieldBytesMax: number;
  /** Most elements accepted in one repeated field. */
  repeatedMax: number;
  /** Deepest nesting of messages. */
  depthMax: number;
}

export const defaultDecodeLimits: DecodeLimits = Object.freeze({ fieldBytesMax: 65536, repeatedMax: 4096, depthMax: 8 });

// ---- sizes ----

export function varintSize(v: number): number {
  if (v < 0) return 10; // negative int32/int64 are sign-extended to 10 bytes
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

export function stringSize(s: string): number {
  const n = utf8Length(s);
  return varintSize(n) + n;
}

export function bytesSize(b: Uint8Array): number {
  return varintSize(b.length) + b.length;
}

export function zigzag32(v: number): number {
  return ((v << 1) ^ (v >> 31)) >>> 0;
}

export function unzigzag32(v: number): number {
  return (v >>> 1) ^ -(v & 1);
}

// ---- writer ----

export class Writer {
  readonly buf: Uint8Array;
  pos = 0;
  #view: DataView | undefined;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  tag(field: number, wire: WireType): void {
    this.varint(field * 8 + wire);
  }

  varint(v: number): void {
    if (v < 0) {
      this.negativeVarint(v);
      return;
    }
    if (v > Number.MAX_SAFE_INTEGER || v !== Math.floor(v)) throw new ProtoError("range", `varint ${v} is not a safe non-negative integer`);
    const buf = this.buf;
    while (v >= 128) {
      buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[this.pos++] = v;
  }

  // Two's complement over 64 bits, as protobuf encodes negative int32/int64.
  negativeVarint(v: number): void {
    let lo = v | 0;
    let hi = Math.floor(v / 4294967296) | 0;
    for (let i = 0; i < 9; i++) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = (lo >>> 7) | (hi << 25);
      hi >>= 7;
    }
    this.buf[this.pos++] = 1;
  }

  string(s: string): void {
    this.varint(utf8Length(s));
    this.pos = utf8Write(s, this.buf, this.pos);
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  double(v: number): void {
    this.view().setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  float(v: number): void {
    this.view().setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  fixed32(v: number): void {
    this.view().setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  private view(): DataView {
    if (!this.#view) this.#view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    return this.#view;
  }

  finish(): Uint8Array {
    if (this.pos !== this.buf.length) throw new Error(`protobuf size mismatch: wrote ${this.pos} of ${this.buf.length}`);
    return this.buf;
  }
}

// ---- reader ----

export class Reader {
  pos: number;
  #view: DataView | undefined;

  constructor(readonly buf: Uint8Array, readonly limits: DecodeLimits, pos = 0, readonly end = buf.length, readonly depth = 0) {
    this.pos = pos;
    if (depth > limits.depthMax) throw new ProtoError("depth", `message nesting deeper than ${limits.depthMax}`);
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads a varint as a safe integer; negative when the 64-bit value is (two's complement). */
  varint(): number {
    let lo = 0;
    let b = 0;
    for (let i = 0; i < 4; i++) {
      b = this.byte();
      lo |= (b & 0x7f) << (i * 7);
      if (b < 0x80) return lo >>> 0;
    }
    b = this.byte();
    lo |= (b & 0x7f) << 28;
    let hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      for (let i = 0; ; i++) {
        if (i === 5) throw new ProtoError("corrupt", "varint longer than 10 bytes");
        b = this.byte();
        hi |= (b & 0x7f) << (i * 7 + 3);
        if (b < 0x80) break;
      }
    }
    if (hi < 0) return hi * 4294967296 + (lo >>> 0); // two's complement negative
    if (hi >= 0x200000) throw new ProtoError("range", "varint exceeds 2^53");
    return hi * 4294967296 + (lo >>> 0);
  }

  uint64(): number {
    const v = this.varint();
    if (v < 0) throw new ProtoError("range", "negative value in an unsigned field");
    return v;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new ProtoError("truncated", "truncated varint");
    return this.buf[this.pos++]!;
  }

  int32(): number {
    return this.varint() | 0;
  }

  uint32(): number {
    return this.varint() >>> 0;
  }

  sint32(): number {
    return unzigzag32(this.varint() >>> 0);
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  length(): number {
    const n = this.varint();
    // A 64-bit varint can read back negative: a negative length would move pos backwards (a decode that never ends).
    if (n < 0) throw new ProtoError("corrupt", `negative field length ${n}`);
    if (n > this.limits.fieldBytesMax) throw new ProtoError("too-large", `field of ${n} bytes exceeds ${this.limits.fieldBytesMax}`);
    if (this.pos + n > this.end) throw new ProtoError("truncated", `field of ${n} bytes runs past the end`);
    return n;
  }

  string(): string {
    const n = this.length();
    const s = utf8Decode(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  bytes(): Uint8Array {
    const n = this.length();
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** A reader over a length-delimited sub-message. */
  sub(): Reader {
    const n = this.length();
    const r = new Reader(this.buf, this.limits, this.pos, this.pos + n, this.depth + 1);
    this.pos += n;
    return r;
  }

  double(): number {
    this.need(8);
    const v = this.view().getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  float(): number {
    this.need(4);
    const v = this.view().getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  fixed32(): number {
    this.need(4);
    const v = this.view().getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** Skips a field of an unknown number: readers accept newer writers. */
  skip(wire: number): void {
    if (wire === WireType.Varint) this.varint();
    else if (wire === WireType.Fixed64) this.advance(8);
    else if (wire === WireType.Bytes) this.advance(this.length());
    else if (wire === WireType.Fixed32) this.advance(4);
    else throw new ProtoError("corrupt", `unsupported wire type ${wire}`);
  }

  checkRepeated(count: number): void {
    if (count >= this.limits.repeatedMax) throw new ProtoError("too-many", `more than ${this.limits.repeatedMax} repeated elements`);
  }

  private advance(n: number): void {
    this.need(n);
    this.pos += n;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new ProtoError("truncated", `need ${n} bytes at ${this.pos}, message ends at ${this.end}`);
  }

  private view(): DataView {
    if (!this.#view) this.#view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    return this.#view;
  }
}
