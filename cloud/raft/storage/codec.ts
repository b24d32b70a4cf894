// Byte encodings of log records and snapshots for the WAL, with CRC32.
// Each encoder has a matching decoder that checks sizes (paired asserts).

import type { ConfState, Entry, EntryType, HardState, Snapshot } from "../types";
import { RecordTooLargeError, crc32, decodeFrame, encodeFrame } from "./records";
import { StorageError } from "./types";

export { crc32, RECORD_BYTES_MAX, RECORD_HEADER_BYTES } from "./records";

export const RecordType = {
  Entries: 1,
  HardState: 2,
  /** The log was replaced by the snapshot at (index, term). */
  SnapshotMarker: 3,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

const isRecordType = (t: number): boolean => t >= RecordType.Entries && t <= RecordType.SnapshotMarker;

/** A WAL record in the shared framing of records.ts. */
export function encodeRecord(type: RecordType, payload: Uint8Array): Uint8Array {
  try {
    return encodeFrame(type, payload);
  } catch (err) {
    if (err instanceof RecordTooLargeError) throw new StorageError("invalid", err.message);
    throw err;
  }
}

export type DecodedRecord =
  | { kind: "ok"; type: RecordType; payload: Uint8Array; end: number }
  | { kind: "torn"; reason: string }
  | { kind: "corrupt"; reason: string };

/** Decodes the record at `at`. A bad record that reaches EOF is "torn"; one followed by more bytes is "corrupt". */
export function decodeRecord(buf: Uint8Array, at: number): DecodedRecord {
  const r = decodeFrame(buf, at, isRecordType);
  return r.kind === "ok" ? { ...r, type: r.type as RecordType } : r;
}

class Writer {
  readonly buf: Uint8Array;
  readonly view: DataView;
  at = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  f64(n: number): void {
    this.view.setFloat64(this.at, n);
    this.at += 8;
  }
  u32(n: number): void {
    this.view.setUint32(this.at, n);
    this.at += 4;
  }
  u8(n: number): void {
    this.view.setUint8(this.at, n);
    this.at += 1;
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.at);
    this.at += b.byteLength;
  }
  done(): Uint8Array {
    if (this.at !== this.buf.byteLength) throw new Error(`codec: wrote ${this.at} of ${this.buf.byteLength} bytes`);
    return this.buf;
  }
}

class Reader {
  readonly view: DataView;
  at = 0;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  #need(n: number): void {
    if (this.at + n > this.buf.byteLength) throw new StorageError("corrupt", `truncated payload at ${this.at}`);
  }
  f64(): number {
    this.#need(8);
    const v = this.view.getFloat64(this.at);
    this.at += 8;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.view.getUint32(this.at);
    this.at += 4;
    return v;
  }
  u8(): number {
    this.#need(1);
    return this.view.getUint8(this.at++);
  }
  bytes(n: number): Uint8Array {
    this.#need(n);
    const b = this.buf.slice(this.at, this.at + n);
    this.at += n;
    return b;
  }
  end(): void {
    if (this.at !== this.buf.byteLength) throw new StorageError("corrupt", `${this.buf.byteLength - this.at} trailing bytes`);
  }
}

export function encodeEntries(ents: readonly Entry[]): Uint8Array {
  let size = 4;
  for (const e of ents) size += 8 + 8 + 1 + 4 + e.data.byteLength;
  const w = new Writer(size);
  w.u32(ents.length);
  for (const e of ents) {
    w.f64(e.index);
    w.f64(e.term);
    w.u8(e.type);
    w.u32(e.data.byteLength);
    w.bytes(e.data);
  }
  return w.done();
}

export function decodeEntries(b: Uint8Array): Entry[] {
  const r = new Reader(b);
  const n = r.u32();
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const index = r.f64();
    const term = r.f64();
    const type = r.u8() as EntryType;
    const data = r.bytes(r.u32());
    out.push({ index, term, type, data });
  }
  r.end();
  return out;
}

export function encodeHardState(hs: HardState): Uint8Array {
  const w = new Writer(20);
  w.f64(hs.term);
  w.u32(hs.vote);
  w.f64(hs.commit);
  return w.done();
}

export function decodeHardState(b: Uint8Array): HardState {
  const r = new Reader(b);
  const hs = { term: r.f64(), vote: r.u32(), commit: r.f64() };
  r.end();
  return hs;
}

export function encodeMarker(index: number, term: number): Uint8Array {
  const w = new Writer(16);
  w.f64(index);
  w.f64(term);
  return w.done();
}

export function decodeMarker(b: Uint8Array): { index: number; term: number } {
  const r = new Reader(b);
  const m = { index: r.f64(), term: r.f64() };
  r.end();
  return m;
}

const SNAP_MAGIC = 0x58534e50; // "XSNP"

/** [magic u32][crc32 of payload u32][payload length u32][payload] */
export function encodeSnapshotFile(s: Snapshot): Uint8Array {
  const cs = s.metadata.confState;
  const payloadSize = 16 + 4 + 4 * cs.voters.length + 4 + 4 * cs.learners.length + s.data.byteLength;
  const w = new Writer(12 + payloadSize);
  w.u32(SNAP_MAGIC);
  w.u32(0);
  w.u32(payloadSize);
  w.f64(s.metadata.index);
  w.f64(s.metadata.term);
  w.u32(cs.voters.length);
  for (const id of cs.voters) w.u32(id);
  w.u32(cs.learners.length);
  for (const id of cs.learners) w.u32(id);
  w.bytes(s.data);
  const out = w.done();
  w.view.setUint32(4, crc32(out.subarray(12)));
  return out;
}

export function decodeSnapshotFile(b: Uint8Array, name: string): Snapshot {
  if (b.byteLength < 12) throw new StorageError("corrupt", `snapshot ${name}: ${b.byteLength} bytes is too short`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0) !== SNAP_MAGIC) throw new StorageError("corrupt", `snapshot ${name}: bad magic`);
  const len = v.getUint32(8);
  if (12 + len !== b.byteLength) throw new StorageError("corrupt", `snapshot ${name}: length ${len} != file size ${b.byteLength - 12}`);
  const payload = b.subarray(12);
  if (crc32(payload) !== v.getUint32(4)) throw new StorageError("corrupt", `snapshot ${name}: crc mismatch`);
  const r = new Reader(payload);
  const index = r.f64();
  const term = r.f64();
  const voters: number[] = [];
  for (let n = r.u32(); n > 0; n--) voters.push(r.u32());
  const learners: number[] = [];
  for (let n = r.u32(); n > 0; n--) learners.push(r.u32());
  const confState: ConfState = { voters, learners };
  const data = r.bytes(payload.byteLength - r.at);
  r.end();
  return { metadata: { index, term, confState }, data };
}
