// Binary wire format of CASPaxos messages, and the field encodings the
// acceptor store reuses (storage/slot-codec.ts).
//
//   frame   = magic u16 "XP" | version u8 | count u16 | count × (length u32 | message)
//   message = kind u8 | rid f64 | key str16 | body by kind:
//     Prepare  ballot                    Accept    ballot state hasNext u8 [ballot]
//     Promise  ballot(accepted) state    Accepted  —
//     Conflict ballot(seen)              Refused   str16 reason
//   ballot  = n f64 | p str16            state = version f64 | hasData u8 [data u32-length bytes]
//   str16   = u16 length | UTF-8
//
// Decoding is bounded: every count and length is checked against the named
// limits (PAXOS_LIMITS) and against the bytes left before anything is
// allocated; trailing bytes, unknown kinds or versions and numbers that are
// not safe integers are refused with CodecError. Callers count and drop a
// bad frame; they never let it throw into a socket callback.

import { MsgKind, PAXOS_LIMITS } from "./types";
import type { Ballot, PaxosMessage, RegisterState } from "./types";

export class CodecError extends Error {
  override readonly name = "CodecError";
}

const MAGIC = 0x5850;
const VERSION = 1;
const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export class ByteWriter {
  #buf: Uint8Array;
  #view: DataView;
  at = 0;

  constructor(initialBytes = 256) {
    this.#buf = new Uint8Array(initialBytes);
    this.#view = new DataView(this.#buf.buffer);
  }

  #room(n: number): void {
    if (this.at + n <= this.#buf.byteLength) return;
    let size = this.#buf.byteLength * 2;
    while (size < this.at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.at));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(n: number): void {
    this.#room(1);
    this.#view.setUint8(this.at++, n);
  }
  u16(n: number): void {
    this.#room(2);
    this.#view.setUint16(this.at, n);
    this.at += 2;
  }
  u32(n: number): void {
    this.#room(4);
    this.#view.setUint32(this.at, n);
    this.at += 4;
  }
  f64(n: number): void {
    this.#room(8);
    this.#view.setFloat64(this.at, n);
    this.at += 8;
  }
  bytes(b: Uint8Array): void {
    this.#room(b.byteLength);
    this.#buf.set(b, this.at);
    this.at += b.byteLength;
  }
  str16(s: string, max: number, what: string): void {
    const b = enc.encode(s);
    if (b.byteLength > max) throw new CodecError(`${what} of ${b.byteLength} bytes exceeds ${max}`);
    this.u16(b.byteLength);
    this.bytes(b);
  }
  ballot(b: Ballot): void {
    this.f64(b.n);
    this.str16(b.p, PAXOS_LIMITS.proposerIdBytesMax, "proposer id");
  }
  state(s: RegisterState): void {
    this.f64(s.version);
    if (s.data === null) {
      this.u8(0);
      return;
    }
    if (s.data.byteLength > PAXOS_LIMITS.valueBytesMax) throw new CodecError(`value of ${s.data.byteLength} bytes exceeds ${PAXOS_LIMITS.valueBytesMax}`);
    this.u8(1);
    this.u32(s.data.byteLength);
    this.bytes(s.data);
  }
  /** Patches a u32 written earlier at `at`. */
  patchU32(at: number, n: number): void {
    this.#view.setUint32(at, n);
  }
  done(): Uint8Array {
    return this.#buf.slice(0, this.at);
  }
}

export class ByteReader {
  readonly #view: DataView;
  at = 0;

  constructor(readonly buf: Uint8Array) {
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get left(): number {
    return this.buf.byteLength - this.at;
  }
  #need(n: number, what: string): void {
    if (this.at + n > this.buf.byteLength) throw new CodecError(`truncated ${what} at byte ${this.at}`);
  }
  u8(what = "u8"): number {
    this.#need(1, what);
    return this.#view.getUint8(this.at++);
  }
  u16(what = "u16"): number {
    this.#need(2, what);
    const v = this.#view.getUint16(this.at);
    this.at += 2;
    return v;
  }
  u32(what = "u32"): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.at);
    this.at += 4;
    return v;
  }
  /** A float64 that must hold a non-negative safe integer. */
  uint(what: string): number {
    this.#need(8, what);
    const v = this.#view.getFloat64(this.at);
    this.at += 8;
    if (!Number.isSafeInteger(v) || v < 0) throw new CodecError(`${what} ${v} is not a non-negative safe integer`);
    return v;
  }
  bytes(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const b = this.buf.slice(this.at, this.at + n);
    this.at += n;
    return b;
  }
  str16(max: number, what: string): string {
    const n = this.u16(what);
    if (n > max) throw new CodecError(`${what} of ${n} bytes exceeds ${max}`);
    this.#need(n, what);
    let s: string;
    try {
      s = dec.decode(this.buf.subarray(this.at, this.at + n));
    } catch {
      throw new CodecError(`${what} is not UTF-8`);
    }
    this.at += n;
    return s;
  }
  ballot(what: string): Ballot {
    const n = this.uint(`${what} counter`);
    const p = this.str16(PAXOS_LIMITS.proposerIdBytesMax, `${what} proposer id`);
    if ((n === 0) !== (p === "")) throw new CodecError(`${what} ${n}.${p}: only the zero ballot has an empty proposer id`);
    return { n, p };
  }
  state(): RegisterState {
    const version = this.uint("version");
    const has = this.u8("data flag");
    if (has === 0) return { version, data: null };
    if (has !== 1) throw new CodecError(`data flag ${has}`);
    const len = this.u32("data length");
    if (len > PAXOS_LIMITS.valueBytesMax) throw new CodecError(`value of ${len} bytes exceeds ${PAXOS_LIMITS.valueBytesMax}`);
    return { version, data: this.bytes(len, "data") };
  }
  end(what: string): void {
    if (this.at !== this.buf.byteLength) throw new CodecError(`${this.buf.byteLength - this.at} trailing bytes after ${what}`);
  }
}

function writeMessage(w: ByteWriter, m: PaxosMessage): void {
  w.u8(m.kind);
  w.f64(m.rid);
  w.str16(m.key, PAXOS_LIMITS.keyBytesMax, "key");
  switch (m.kind) {
    case MsgKind.Prepare:
      w.ballot(m.ballot);
      return;
    case MsgKind.Accept:
      w.ballot(m.ballot);
      w.state(m.state);
      w.u8(m.next ? 1 : 0);
      if (m.next) w.ballot(m.next);
      return;
    case MsgKind.Promise:
      w.ballot(m.accepted);
      w.state(m.state);
      return;
    case MsgKind.Accepted:
      return;
    case MsgKind.Conflict:
      w.ballot(m.seen);
      return;
    case MsgKind.Refused:
      w.str16(m.reason.slice(0, PAXOS_LIMITS.reasonBytesMax / 4), PAXOS_LIMITS.reasonBytesMax, "reason");
      return;
  }
}

function readMessage(r: ByteReader): PaxosMessage {
  const kind = r.u8("kind");
  const rid = r.uint("rid");
  const key = r.str16(PAXOS_LIMITS.keyBytesMax, "key");
  switch (kind) {
    case MsgKind.Prepare:
      return { kind, rid, key, ballot: r.ballot("ballot") };
    case MsgKind.Accept: {
      const ballot = r.ballot("ballot");
      const state = r.state();
      const hasNext = r.u8("next flag");
      if (hasNext > 1) throw new CodecError(`next flag ${hasNext}`);
      return { kind, rid, key, ballot, state, next: hasNext ? r.ballot("next") : null };
    }
    case MsgKind.Promise:
      return { kind, rid, key, accepted: r.ballot("accepted"), state: r.state() };
    case MsgKind.Accepted:
      return { kind, rid, key };
    case MsgKind.Conflict:
      return { kind, rid, key, seen: r.ballot("seen") };
    case MsgKind.Refused:
      return { kind, rid, key, reason: r.str16(PAXOS_LIMITS.reasonBytesMax, "reason") };
    default:
      throw new CodecError(`unknown message kind ${kind}`);
  }
}

/** Encodes messages into as few frames as the frame limits allow. */
export function encodeFrames(msgs: readonly PaxosMessage[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let w: ByteWriter | null = null;
  let count = 0;
  const close = (): void => {
    if (!w) return;
    const out = w.done();
    new DataView(out.buffer).setUint16(3, count);
    frames.push(out);
    w = null;
    count = 0;
  };
  for (const m of msgs) {
    const one = new ByteWriter(64);
    writeMessage(one, m);
    const body = one.done();
    if (w !== null && ((w as ByteWriter).at + 4 + body.byteLength > PAXOS_LIMITS.frameBytesMax || count === PAXOS_LIMITS.frameMessagesMax)) close();
    if (w === null) {
      w = new ByteWriter(Math.max(64, 5 + 4 + body.byteLength));
      w.u16(MAGIC);
      w.u8(VERSION);
      w.u16(0);
    }
    (w as ByteWriter).u32(body.byteLength);
    (w as ByteWriter).bytes(body);
    count++;
  }
  close();
  return frames;
}

/** Decodes one frame; throws CodecError on anything malformed. */
export function decodeFrame(buf: Uint8Array): PaxosMessage[] {
  if (buf.byteLength > PAXOS_LIMITS.frameBytesMax + (64 << 10)) throw new CodecError(`frame of ${buf.byteLength} bytes exceeds the limit`);
  const r = new ByteReader(buf);
  if (r.u16("magic") !== MAGIC) throw new CodecError("bad magic");
  const version = r.u8("version");
  if (version !== VERSION) throw new CodecError(`unsupported version ${version}`);
  const count = r.u16("count");
  if (count > PAXOS_LIMITS.frameMessagesMax) throw new CodecError(`${count} messages exceed ${PAXOS_LIMITS.frameMessagesMax}`);
  const out: PaxosMessage[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.u32("message length");
    if (len > r.left) throw new CodecError(`message ${i} length ${len} runs past the frame`);
    const mr = new ByteReader(r.bytes(len, "message"));
    out.push(readMessage(mr));
    mr.end(`message ${i}`);
  }
  r.end("frame");
  return out;
}
