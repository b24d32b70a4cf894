// CRC32-framed records and the file steps of durable storage, shared by the
// Raft WAL (wal.ts) and the CASPaxos acceptor store (cloud/paxos/storage):
//
//   record: [payload length u32][crc32 of type+payload u32][type u8][payload]
//
// A record that fails its checks and reaches the end of the buffer is
// "torn" (a crash mid-write: the caller truncates it); one followed by more
// bytes is "corrupt" (the caller refuses to start). Files that must appear
// whole are written atomically: write a temporary file, fsync it, rename it
// over the target, fsync the directory.

import * as fs from "node:fs";
import * as path from "node:path";
import { crc32 as zlibCrc32 } from "node:zlib";

export function crc32(data: Uint8Array): number {
  return zlibCrc32(data) >>> 0;
}

export const RECORD_HEADER_BYTES = 9;
/** A record larger than this is treated as corrupt (a torn length field reads as garbage). */
export const RECORD_BYTES_MAX = 256 << 20;

export class RecordTooLargeError extends Error {
  override readonly name = "RecordTooLargeError";
}

export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError(`record type ${type} is not a byte`);
  if (payload.byteLength > RECORD_BYTES_MAX) throw new RecordTooLargeError(`record of ${payload.byteLength} bytes exceeds ${RECORD_BYTES_MAX}`);
  const out = new Uint8Array(RECORD_HEADER_BYTES + payload.byteLength);
  const v = new DataView(out.buffer);
  v.setUint32(0, payload.byteLength);
  out[8] = type;
  out.set(payload, RECORD_HEADER_BYTES);
  v.setUint32(4, crc32(out.subarray(8)));
  return out;
}

export type DecodedFrame =
  | { kind: "ok"; type: number; payload: Uint8Array; end: number }
  | { kind: "torn"; reason: string }
  | { kind: "corrupt"; reason: string };

/** Decodes the record at `at`; a type for which `knownType` is false is corrupt. */
export function decodeFrame(buf: Uint8Array, at: number, knownType: (type: number) => boolean): DecodedFrame {
  if (buf.byteLength - at < RECORD_HEADER_BYTES) return { kind: "torn", reason: "partial record header" };
  const v = new DataView(buf.buffer, buf.byteOffset + at, buf.byteLength - at);
  const len = v.getUint32(0);
  const end = at + RECORD_HEADER_BYTES + len;
  if (len > RECORD_BYTES_MAX || end > buf.byteLength) return { kind: "torn", reason: `record length ${len} runs past end of file` };
  const crc = v.getUint32(4);
  const actual = crc32(buf.subarray(at + 8, end));
  if (crc !== actual) {
    const reason = `crc mismatch at offset ${at} (stored ${crc.toString(16)}, computed ${actual.toString(16)})`;
    return end === buf.byteLength ? { kind: "torn", reason } : { kind: "corrupt", reason };
  }
  const type = buf[at + 8]!;
  if (!knownType(type)) return { kind: "corrupt", reason: `unknown record type ${type} at ${at}` };
  return { kind: "ok", type, payload: buf.subarray(at + RECORD_HEADER_BYTES, end), end };
}

// ---------------------------------------------------------------- files

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replaces dir/name with `bytes` so that a crash leaves the old file or the new one, never a mix. */
export function writeFileAtomic(dir: string, name: string, bytes: Uint8Array | readonly Uint8Array[]): void {
  const tmp = path.join(dir, `${name}.tmp`);
  const fd = fs.openSync(tmp, "w");
  try {
    for (const b of bytes instanceof Uint8Array ? [bytes] : bytes) fs.writeSync(fd, b);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, name));
  fsyncDir(dir);
}

/** Removes leftovers of writeFileAtomic calls a crash interrupted. */
export function removeTempFiles(dir: string): void {
  for (const f of fs.readdirSync(dir)) if (f.endsWith(".tmp")) fs.rmSync(path.join(dir, f));
}

export function writevAll(fd: number, bufs: readonly Uint8Array[]): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, bufs as Uint8Array[], (err, written) => {
      if (err) return reject(err);
      let total = 0;
      for (const b of bufs) total += b.byteLength;
      if (written !== total) return reject(new Error(`short write: ${written} of ${total} bytes`));
      resolve();
    });
  });
}

/** writev on the calling thread; a short write (disk full) is an error. */
export function writevAllSync(fd: number, bufs: readonly Uint8Array[]): void {
  let total = 0;
  for (const b of bufs) total += b.byteLength;
  let written = 0;
  while (written < total) {
    const n = fs.writevSync(fd, remainder(bufs, written) as Uint8Array[]);
    if (n <= 0) throw new Error(`short write: ${written} of ${total} bytes`);
    written += n;
  }
}

/** The bytes of `bufs` after the first `skip`. */
function remainder(bufs: readonly Uint8Array[], skip: number): Uint8Array[] {
  if (skip === 0) return bufs as Uint8Array[];
  const out: Uint8Array[] = [];
  for (const b of bufs) {
    if (skip >= b.byteLength) { skip -= b.byteLength; continue; }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}
