// Frames on a local stream link (gateway <-> child, docs/edge.md): a 4-byte
// big-endian length, then one type byte and the body. The body of a publish
// or a downlink is the same Envelope bytes the uplink carries.
//
// Bounds: a frame (type + body) is 1..`linkFrameBytesMax` bytes; the reader
// holds at most one partial frame, allocated at its announced size, so a
// peer cannot make it grow. A length of 0 or above the bound, an unknown
// type or a body that does not parse is a bad frame: the reader stops for
// good (`failed`), and the owner closes that link and counts it. Nothing
// else happens on a bad frame.
//
// Pure and XS-safe: Uint8Array/DataView only, no platform API.
import { uplinkBytesMax } from "../../shared/proto/limits";
import { utf8Decode, utf8Encode } from "../../shared/proto/utf8";
import { isDeviceId } from "../../shared/topics";

/** Largest frame (type byte + body): an uplink envelope at its bound plus the publish header. */
export const linkFrameBytesMax = uplinkBytesMax + 16;
export const frameHeaderBytes = 4;
/** Longest reason a Refuse frame carries (bytes); longer ones are cut. */
export const refuseReasonBytesMax = 128;

export const FrameType = Object.freeze({
  /** child -> gateway: device id, keepalive (s), then the will (an encoded Status OFFLINE envelope). */
  Join: 1,
  /** gateway -> child: admitted; publishes may follow. */
  Accept: 2,
  /** gateway -> child: not admitted (reason), the gateway closes the link. */
  Refuse: 3,
  /** child -> gateway: uplink kind index, flags (bit 0 retain), packet id, envelope. */
  Publish: 4,
  /** gateway -> child: the publish with this packet id reached the broker (PUBACK upstream). */
  PubAck: 5,
  /** gateway -> child: downlink kind index, envelope (cmd, cfg, rcpt). */
  Down: 6,
  /** child -> gateway: keepalive, empty. */
  Ping: 7,
  /** child -> gateway: clean disconnect (no will), then close. */
  Bye: 8,
} as const);
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export type Frame =
  | { type: typeof FrameType.Join; deviceId: string; keepaliveS: number; will: Uint8Array }
  | { type: typeof FrameType.Accept }
  | { type: typeof FrameType.Refuse; reason: string }
  | { type: typeof FrameType.Publish; kind: number; retain: boolean; packetId: number; envelope: Uint8Array }
  | { type: typeof FrameType.PubAck; packetId: number }
  | { type: typeof FrameType.Down; kind: number; envelope: Uint8Array }
  | { type: typeof FrameType.Ping }
  | { type: typeof FrameType.Bye };

/** Encodes one frame with its length prefix into an exact-size buffer. Throws on out-of-bound input (a caller bug). */
export function encodeFrame(f: Frame): Uint8Array {
  let body: Uint8Array;
  switch (f.type) {
    case FrameType.Join: {
      const id = utf8Encode(f.deviceId);
      if (!isDeviceId(f.deviceId)) throw new Error(`join: invalid device id ${JSON.stringify(f.deviceId)}`);
      body = new Uint8Array(1 + id.length + 2 + f.will.length);
      body[0] = id.length;
      body.set(id, 1);
      new DataView(body.buffer).setUint16(1 + id.length, checkU16(f.keepaliveS, "keepaliveS"));
      body.set(f.will, 3 + id.length);
      break;
    }
    case FrameType.Refuse: {
      const r = utf8Encode(f.reason);
      body = r.length > refuseReasonBytesMax ? r.subarray(0, refuseReasonBytesMax) : r;
      break;
    }
    case FrameType.Publish:
      body = new Uint8Array(4 + f.envelope.length);
      body[0] = checkU8(f.kind, "kind");
      body[1] = f.retain ? 1 : 0;
      new DataView(body.buffer).setUint16(2, checkU16(f.packetId, "packetId"));
      body.set(f.envelope, 4);
      break;
    case FrameType.PubAck:
      body = new Uint8Array(2);
      new DataView(body.buffer).setUint16(0, checkU16(f.packetId, "packetId"));
      break;
    case FrameType.Down:
      body = new Uint8Array(1 + f.envelope.length);
      body[0] = checkU8(f.kind, "kind");
      body.set(f.envelope, 1);
      break;
    default:
      body = new Uint8Array(0);
  }
  const size = 1 + body.length;
  if (size > linkFrameBytesMax) throw new Error(`frame of ${size} bytes above linkFrameBytesMax ${linkFrameBytesMax}`);
  const out = new Uint8Array(frameHeaderBytes + size);
  new DataView(out.buffer).setUint32(0, size);
  out[4] = f.type;
  out.set(body, 5);
  return out;
}

/** Parses one frame's type + body (without the length prefix); a string says why it is bad. */
export function decodeFrame(b: Uint8Array): Frame | string {
  if (b.length < 1) return "empty frame";
  const type = b[0]!;
  const body = b.subarray(1);
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  switch (type) {
    case FrameType.Join: {
      const n = body.length > 0 ? body[0]! : 0;
      if (n < 1 || body.length < 3 + n) return "join too short";
      const deviceId = utf8Decode(body, 1, 1 + n);
      if (!isDeviceId(deviceId)) return "join: invalid device id";
      return { type, deviceId, keepaliveS: dv.getUint16(1 + n), will: body.slice(3 + n) };
    }
    case FrameType.Accept: return body.length === 0 ? { type } : "accept with a body";
    case FrameType.Refuse:
      if (body.length > refuseReasonBytesMax) return "refuse reason too long";
      return { type, reason: utf8Decode(body) };
    case FrameType.Publish:
      if (body.length < 5) return "publish too short";
      return { type, kind: body[0]!, retain: (body[1]! & 1) === 1, packetId: dv.getUint16(2), envelope: body.slice(4) };
    case FrameType.PubAck: return body.length === 2 ? { type, packetId: dv.getUint16(0) } : "puback size";
    case FrameType.Down:
      if (body.length < 2) return "down too short";
      return { type, kind: body[0]!, envelope: body.slice(1) };
    case FrameType.Ping: return body.length === 0 ? { type } : "ping with a body";
    case FrameType.Bye: return body.length === 0 ? { type } : "bye with a body";
    default: return `unknown frame type ${type}`;
  }
}

/**
 * Reassembles frames from stream chunks. `push` returns the complete frames
 * in the chunk, or a string (the reason) on the first bad frame, after which
 * the reader is `failed` and ignores everything. Memory: a 4-byte header,
 * plus one exact-size body buffer while a frame is partial (an ESP32 gateway
 * with many idle children holds no big buffers).
 */
export class FrameReader {
  readonly #header = new Uint8Array(frameHeaderBytes);
  /** Largest frame this reader takes now (<= linkFrameBytesMax); a gateway keeps it small until a Join is admitted. */
  #frameBytesMax: number;
  #headerHave = 0;
  #body: Uint8Array | undefined;
  #bodyHave = 0;
  #failed = false;

  constructor(frameBytesMax = linkFrameBytesMax) {
    this.#frameBytesMax = checkFrameBytesMax(frameBytesMax);
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** Changes the bound for frames whose header has not arrived yet. */
  setFrameBytesMax(n: number): void {
    this.#frameBytesMax = checkFrameBytesMax(n);
  }

  push(chunk: Uint8Array): Frame[] | string {
    if (this.#failed) return "reader failed";
    const out: Frame[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#body === undefined) {
        const take = Math.min(frameHeaderBytes - this.#headerHave, chunk.length - pos);
        this.#header.set(chunk.subarray(pos, pos + take), this.#headerHave);
        this.#headerHave += take;
        pos += take;
        if (this.#headerHave < frameHeaderBytes) break;
        const size = new DataView(this.#header.buffer).getUint32(0);
        if (size < 1 || size > this.#frameBytesMax) return this.#fail(`frame length ${size} outside 1..${this.#frameBytesMax}`);
        this.#body = new Uint8Array(size);
        this.#bodyHave = 0;
        this.#headerHave = 0;
        continue;
      }
      const body = this.#body;
      const take = Math.min(body.length - this.#bodyHave, chunk.length - pos);
      body.set(chunk.subarray(pos, pos + take), this.#bodyHave);
      this.#bodyHave += take;
      pos += take;
      if (this.#bodyHave < body.length) break;
      this.#body = undefined;
      const f = decodeFrame(body);
      if (typeof f === "string") return this.#fail(f);
      out.push(f);
    }
    return out;
  }

  #fail(why: string): string {
    this.#failed = true;
    this.#body = undefined;
    return why;
  }
}

function checkFrameBytesMax(n: number): number {
  if (!(Number.isInteger(n) && n >= 16 && n <= linkFrameBytesMax)) throw new Error(`frameBytesMax must be an integer in 16..${linkFrameBytesMax}, got ${n}`);
  return n;
}

function checkU8(v: number, name: string): number {
  if (!(Number.isInteger(v) && v >= 0 && v <= 0xff)) throw new Error(`${name} must fit a byte, got ${v}`);
  return v;
}

function checkU16(v: number, name: string): number {
  if (!(Number.isInteger(v) && v >= 0 && v <= 0xffff)) throw new Error(`${name} must fit 16 bits, got ${v}`);
  return v;
}
