// Byte-level helpers shared by the CRDT and clock encodings: unsigned LEB128
// varints up to 2^53-1, replica ids as length-prefixed ASCII, FNV-1a, and the
// typed error every decoder and CRDT operation throws on expected failures.
// Plain ES2022 so it runs unchanged on XS (ESP32) and Node.

/** Why an operation or decode failed. Stable strings: logged and counted. */
export const CrdtErrorCode = Object.freeze({
  /** Input ended inside a field. */
  Truncated: "truncated",
  /** A varint longer than 8 bytes or above Number.MAX_SAFE_INTEGER. */
  BadVarint: "bad-varint",
  /** Valid-looking but not the one canonical form (unsorted, duplicate,
   *  zero entry, non-minimal varint): rejected so bytes ↔ value is 1:1. */
  NonCanonical: "non-canonical",
  /** A replica id outside [A-Za-z0-9_-]{1,64}. */
  BadReplicaId: "bad-replica-id",
  /** More replicas than the named limit `replicasMax`. */
  ReplicasMax: "replicas-max",
  /** A count or total would leave the safe-integer range. */
  Overflow: "overflow",
  /** Bytes left over after a complete value. */
  TrailingBytes: "trailing-bytes",
  /** A caller passed a negative / non-integer amount or a bad limit. */
  InvalidArgument: "invalid-argument",
} as const);
export type CrdtErrorCode = (typeof CrdtErrorCode)[keyof typeof CrdtErrorCode];

export class CrdtError extends Error {
  override readonly name = "CrdtError";
  constructor(
    readonly code: CrdtErrorCode,
    message: string,
    /** Byte offset for decode errors, -1 otherwise. */
    readonly offset = -1,
  ) {
    super(offset >= 0 ? `${code} at byte ${offset}: ${message}` : `${code}: ${message}`);
  }
}

export const replicaIdBytesMax = 64;
/** 2^53 - 1 needs 8 varint bytes (8 × 7 = 56 bits). */
export const varintBytesMax = 8;

function isIdChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    c === 0x2d // -
  );
}

/** Replica ids double as MQTT topic segments and device ids: [A-Za-z0-9_-]{1,64}. */
export function isReplicaId(id: unknown): id is string {
  if (typeof id !== "string" || id.length < 1 || id.length > replicaIdBytesMax) return false;
  for (let i = 0; i < id.length; i++) if (!isIdChar(id.charCodeAt(i))) return false;
  return true;
}

export function checkReplicaId(id: string): void {
  if (!isReplicaId(id)) {
    throw new CrdtError(CrdtErrorCode.BadReplicaId, `replica id must match [A-Za-z0-9_-]{1,64}, got ${JSON.stringify(String(id).slice(0, 80))}`);
  }
}

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** Writes into a buffer sized up front (callers compute the exact size, so
 *  encoding allocates one Uint8Array and nothing else). */
export class Writer {
  readonly bytes: Uint8Array;
  offset = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
  varint(n: number): void {
    // Division, not bit ops: bit ops truncate to 32 bits.
    while (n >= 0x80) {
      this.bytes[this.offset++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.bytes[this.offset++] = n;
  }
  ascii(s: string): void {
    this.bytes[this.offset++] = s.length;
    for (let i = 0; i < s.length; i++) this.bytes[this.offset++] = s.charCodeAt(i);
  }
  finish(): Uint8Array {
    if (this.offset !== this.bytes.length) throw new Error(`encoder size mismatch: wrote ${this.offset} of ${this.bytes.length}`);
    return this.bytes;
  }
}

/** Bounds-checked reader: every failure is a CrdtError with an offset. */
export class Reader {
  offset = 0;
  constructor(readonly bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array)) throw new CrdtError(CrdtErrorCode.InvalidArgument, "decode expects a Uint8Array");
  }
  get remaining(): number {
    return this.bytes.length - this.offset;
  }
  varint(): number {
    const start = this.offset;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < varintBytesMax; i++) {
      if (this.offset >= this.bytes.length) throw new CrdtError(CrdtErrorCode.Truncated, "varint cut short", start);
      const b = this.bytes[this.offset++]!;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw new CrdtError(CrdtErrorCode.NonCanonical, "varint has a redundant zero byte", start);
        if (value > Number.MAX_SAFE_INTEGER) throw new CrdtError(CrdtErrorCode.BadVarint, "varint exceeds 2^53-1", start);
        return value;
      }
      scale *= 0x80;
    }
    throw new CrdtError(CrdtErrorCode.BadVarint, `varint longer than ${varintBytesMax} bytes`, start);
  }
  replicaId(): string {
    const start = this.offset;
    if (this.offset >= this.bytes.length) throw new CrdtError(CrdtErrorCode.Truncated, "replica id length missing", start);
    const len = this.bytes[this.offset++]!;
    if (len < 1 || len > replicaIdBytesMax) throw new CrdtError(CrdtErrorCode.BadReplicaId, `replica id length ${len} not in 1..${replicaIdBytesMax}`, start);
    if (this.remaining < len) throw new CrdtError(CrdtErrorCode.Truncated, `replica id needs ${len} bytes, ${this.remaining} left`, start);
    let s = "";
    for (let i = 0; i < len; i++) {
      const c = this.bytes[this.offset++]!;
      if (!isIdChar(c)) throw new CrdtError(CrdtErrorCode.BadReplicaId, `byte 0x${c.toString(16)} not allowed in a replica id`, this.offset - 1);
      s += String.fromCharCode(c);
    }
    return s;
  }
  end(): void {
    if (this.offset !== this.bytes.length) throw new CrdtError(CrdtErrorCode.TrailingBytes, `${this.remaining} bytes after the value`, this.offset);
  }
}

/** 32-bit FNV-1a: tiny, no tables, good enough to tell "probably equal" in a
 *  heartbeat (a mismatch triggers a full state exchange, a match is not proof). */
export function fnv1a32(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i]! < 16 ? "0" : "") + bytes[i]!.toString(16);
  return s;
}
