// Binary encoding of Raft messages for the wire, with a batch frame so a
// transport can put several messages for one peer into one packet.
//
//   message: [version u8][type u8][to u32][from u32][term f64][logTerm f64]
//            [index f64][commit f64][rejectHint f64][flags u8]
//            [entry count u32]{[index f64][term f64][type u8][len u32][data]}*
//            [context len u32][context]                 (flags & HAS_CONTEXT)
//            [snapshot chunk]                           (flags & HAS_SNAPSHOT)
//   batch:   [magic u16][count u16]{[len u32][message]}*
//
// Every decoder checks sizes and enum ranges and throws CodecError: bytes
// from the network are untrusted input, not an invariant.

import { MessageType } from "./types";
import type { Entry, EntryType, Message, SnapshotChunk } from "./types";

export const CODEC_VERSION = 1;
const BATCH_MAGIC = 0x5246; // "RF"
const FLAG_REJECT = 1;
const FLAG_CONTEXT = 2;
const FLAG_SNAPSHOT = 4;
const HEADER_BYTES = 1 + 1 + 4 + 4 + 8 * 5 + 1 + 4;
/** Messages per batch frame. */
export const BATCH_MESSAGES_MAX = 0xffff;
/** Members in one snapshot's conf state. */
export const CONF_MEMBERS_MAX = 1024;

export class CodecError extends Error {
  constructor(message: string) {
    super(`raft codec: ${message}`);
    this.name = "CodecError";
  }
}

export function encodedSize(m: Message): number {
  let n = HEADER_BYTES;
  for (const e of m.entries) n += 8 + 8 + 1 + 4 + e.data.byteLength;
  if (m.context) n += 4 + m.context.byteLength;
  if (m.snapshot) {
    const cs = m.snapshot.metadata.confState;
    n += 8 + 8 + 4 + 4 * cs.voters.length + 4 + 4 * cs.learners.length + 8 + 8 + 4 + m.snapshot.data.byteLength;
  }
  return n;
}

class Cursor {
  readonly view: DataView;
  at = 0;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number): void {
    if (this.at + n > this.buf.byteLength) throw new CodecError(`truncated: need ${n} bytes at ${this.at} of ${this.buf.byteLength}`);
  }
}

export function encodeMessage(m: Message, out?: Uint8Array, offset = 0): Uint8Array {
  const size = encodedSize(m);
  const buf = out ? out.subarray(offset, offset + size) : new Uint8Array(size);
  const v = new DataView(buf.buffer, buf.byteOffset, size);
  let at = 0;
  const u8 = (x: number): void => void v.setUint8(at++, x);
  const u32 = (x: number): void => {
    v.setUint32(at, x);
    at += 4;
  };
  const f64 = (x: number): void => {
    v.setFloat64(at, x);
    at += 8;
  };
  const bytes = (b: Uint8Array): void => {
    u32(b.byteLength);
    buf.set(b, at);
    at += b.byteLength;
  };
  u8(CODEC_VERSION);
  u8(m.type);
  u32(m.to);
  u32(m.from);
  f64(m.term);
  f64(m.logTerm);
  f64(m.index);
  f64(m.commit);
  f64(m.rejectHint);
  u8((m.reject ? FLAG_REJECT : 0) | (m.context ? FLAG_CONTEXT : 0) | (m.snapshot ? FLAG_SNAPSHOT : 0));
  u32(m.entries.length);
  for (const e of m.entries) {
    f64(e.index);
    f64(e.term);
    u8(e.type);
    bytes(e.data);
  }
  if (m.context) bytes(m.context);
  if (m.snapshot) {
    const s = m.snapshot;
    f64(s.metadata.index);
    f64(s.metadata.term);
    u32(s.metadata.confState.voters.length);
    for (const id of s.metadata.confState.voters) u32(id);
    u32(s.metadata.confState.learners.length);
    for (const id of s.metadata.confState.learners) u32(id);
    f64(s.offset);
    f64(s.totalBytes);
    bytes(s.data);
  }
  if (at !== size) throw new Error(`raft codec invariant: wrote ${at} of ${size} bytes`);
  return buf;
}

export function decodeMessage(buf: Uint8Array): Message {
  const c = new Cursor(buf);
  const u8 = (): number => {
    c.need(1);
    return c.view.getUint8(c.at++);
  };
  const u32 = (): number => {
    c.need(4);
    const x = c.view.getUint32(c.at);
    c.at += 4;
    return x;
  };
  const f64 = (what: string): number => {
    c.need(8);
    const x = c.view.getFloat64(c.at);
    c.at += 8;
    if (!Number.isSafeInteger(x) || x < 0) throw new CodecError(`${what} must be a non-negative integer, got ${x}`);
    return x;
  };
  const bytes = (): Uint8Array => {
    const n = u32();
    c.need(n);
    const b = buf.slice(c.at, c.at + n);
    c.at += n;
    return b;
  };
  const version = u8();
  if (version !== CODEC_VERSION) throw new CodecError(`unsupported version ${version}`);
  const type = u8();
  if (type > MessageType.ReadIndexResp) throw new CodecError(`unknown message type ${type}`);
  const to = u32();
  const from = u32();
  const term = f64("term");
  const logTerm = f64("logTerm");
  const index = f64("index");
  const commit = f64("commit");
  const rejectHint = f64("rejectHint");
  const flags = u8();
  if (flags & ~(FLAG_REJECT | FLAG_CONTEXT | FLAG_SNAPSHOT)) throw new CodecError(`unknown flags ${flags}`);
  const n = u32();
  // Each entry takes at least 21 bytes: refuse absurd counts before allocating.
  if (n * 21 > buf.byteLength - c.at) throw new CodecError(`entry count ${n} exceeds the ${buf.byteLength} byte message`);
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const eIndex = f64("entry index");
    const eTerm = f64("entry term");
    const eType = u8();
    if (eType > 1) throw new CodecError(`unknown entry type ${eType}`);
    entries.push({ index: eIndex, term: eTerm, type: eType as EntryType, data: bytes() });
  }
  const context = flags & FLAG_CONTEXT ? bytes() : undefined;
  let snapshot: SnapshotChunk | undefined;
  if (flags & FLAG_SNAPSHOT) {
    const sIndex = f64("snapshot index");
    const sTerm = f64("snapshot term");
    const members = (): number[] => {
      const k = u32();
      if (k > CONF_MEMBERS_MAX) throw new CodecError(`conf state of ${k} members exceeds ${CONF_MEMBERS_MAX}`);
      const ids: number[] = [];
      for (let i = 0; i < k; i++) {
        const id = u32();
        // Node 0 is NONE: a membership naming it would make Raft count a vote that never comes.
        if (id === 0) throw new CodecError("conf state contains node 0");
        ids.push(id);
      }
      return ids;
    };
    const voters = members();
    const learners = members();
    const offset = f64("snapshot offset");
    const totalBytes = f64("snapshot size");
    const data = bytes();
    if (offset + data.byteLength > totalBytes) throw new CodecError(`snapshot chunk ${offset}+${data.byteLength} beyond size ${totalBytes}`);
    snapshot = { metadata: { index: sIndex, term: sTerm, confState: { voters, learners } }, offset, totalBytes, data };
  }
  if (c.at !== buf.byteLength) throw new CodecError(`${buf.byteLength - c.at} trailing bytes`);
  return {
    type: type as MessageType,
    to,
    from,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject: (flags & FLAG_REJECT) !== 0,
    rejectHint,
    ...(context ? { context } : {}),
    ...(snapshot ? { snapshot } : {}),
  };
}

/** Packs messages into frames of at most `frameBytesMax`; a message that alone exceeds it is returned in `oversized`. */
export function encodeBatches(msgs: readonly Message[], frameBytesMax: number): { frames: Uint8Array[]; oversized: Message[] } {
  const frames: Uint8Array[] = [];
  const oversized: Message[] = [];
  let group: { m: Message; size: number }[] = [];
  let groupBytes = 4;
  const flush = (): void => {
    if (group.length === 0) return;
    const buf = new Uint8Array(groupBytes);
    const v = new DataView(buf.buffer);
    v.setUint16(0, BATCH_MAGIC);
    v.setUint16(2, group.length);
    let at = 4;
    for (const { m, size } of group) {
      v.setUint32(at, size);
      encodeMessage(m, buf, at + 4);
      at += 4 + size;
    }
    frames.push(buf);
    group = [];
    groupBytes = 4;
  };
  for (const m of msgs) {
    const size = encodedSize(m);
    if (4 + 4 + size > frameBytesMax) {
      oversized.push(m);
      continue;
    }
    if (groupBytes + 4 + size > frameBytesMax || group.length === BATCH_MESSAGES_MAX) flush();
    group.push({ m, size });
    groupBytes += 4 + size;
  }
  flush();
  return { frames, oversized };
}

/** Messages in a frame made by `encodeBatches`, from its header (for counters; does not validate the rest). */
export function batchMessageCount(frame: Uint8Array): number {
  if (frame.byteLength < 4) throw new CodecError(`batch of ${frame.byteLength} bytes`);
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (v.getUint16(0) !== BATCH_MAGIC) throw new CodecError("bad batch magic");
  return v.getUint16(2);
}

export function decodeBatch(buf: Uint8Array): Message[] {
  if (buf.byteLength < 4) throw new CodecError(`batch of ${buf.byteLength} bytes`);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (v.getUint16(0) !== BATCH_MAGIC) throw new CodecError("bad batch magic");
  const count = v.getUint16(2);
  const out: Message[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.byteLength) throw new CodecError(`batch truncated at message ${i}`);
    const len = v.getUint32(at);
    if (at + 4 + len > buf.byteLength) throw new CodecError(`batch message ${i} of ${len} bytes runs past the frame`);
    out.push(decodeMessage(buf.subarray(at + 4, at + 4 + len)));
    at += 4 + len;
  }
  if (at !== buf.byteLength) throw new CodecError(`${buf.byteLength - at} trailing bytes after batch`);
  return out;
}
