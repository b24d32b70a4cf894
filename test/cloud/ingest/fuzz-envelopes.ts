// Seeded generator of random and mutated device uplinks for the ingest fuzz
// run (fuzz.test.ts): valid encoded envelopes of every uplink kind, then one
// mutation — bit flips, truncation, a huge declared length, a wrong or
// malformed device id, a bad traceparent (CR/LF, wrong length, bad hex), an
// oversized payload, seq extremes, a body on another kind's topic, random
// bytes — or none. Each case says whether it is certainly bad (`sureBad`:
// ingest must dead-letter it, or the broker refuse it before the PUBACK)
// or may be valid (ingest may apply it or dead-letter it; never stall on
// it). Pure: same seed, same cases.
import { SeededRandom } from "../../../firmware/sim/sim-clock";
import { uplinkBytesMax } from "../../../shared/proto/limits";
import { encodeEnvelope } from "../../../shared/proto/xsfleet.gen";
import { Uplink } from "../../../shared/topics";
import { uplinkOf, type WireStamp } from "../../harness/uplinks";

export const Mutation = Object.freeze({
  None: "none",
  BitFlip: "bit-flip",
  Truncate: "truncate",
  HugeLength: "huge-length",
  /** A length-delimited field whose 10-byte length varint is negative as a 64-bit value. */
  NegativeLength: "negative-length",
  WrongDevice: "wrong-device",
  BadDeviceId: "bad-device-id",
  BadTraceparent: "bad-traceparent",
  Oversized: "oversized",
  SeqExtreme: "seq-extreme",
  WrongKind: "wrong-kind",
  Garbage: "garbage",
} as const);
export type Mutation = (typeof Mutation)[keyof typeof Mutation];

export interface FuzzCase {
  /** Device id in the topic. */
  deviceId: string;
  /** Topic kind. */
  kind: Uplink;
  payload: Uint8Array;
  mutation: Mutation;
  qos: 0 | 1;
  /** Certainly invalid: must be dead-lettered (or refused before the PUBACK). */
  sureBad: boolean;
}

const kinds: readonly Uplink[] = Object.values(Uplink);
/** Weights of the mutations (per 1000): oversized ones are few, each is kept whole in the dead-letter stream. */
const mix: ReadonlyArray<readonly [Mutation, number]> = [
  [Mutation.None, 80], [Mutation.BitFlip, 220], [Mutation.Truncate, 140], [Mutation.HugeLength, 78], [Mutation.NegativeLength, 2], [Mutation.WrongDevice, 88],
  [Mutation.BadDeviceId, 50], [Mutation.BadTraceparent, 100], [Mutation.Oversized, 2], [Mutation.SeqExtreme, 100], [Mutation.WrongKind, 60], [Mutation.Garbage, 80],
];
const mixTotal = mix.reduce((n, [, w]) => n + w, 0);

const badTraceparents: readonly string[] = [
  `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01\r\nX-Injected: 1`,
  `00-${"ab".repeat(16)}\r\n-${"cd".repeat(8)}-01`,
  "\n", "\r", "00-\u0000", `00-${"AB".repeat(16)}-${"cd".repeat(8)}-01`, `00-${"0".repeat(32)}-${"cd".repeat(8)}-01`,
  `00-${"ab".repeat(16)}-${"0".repeat(16)}-01`, `ff-${"ab".repeat(16)}-${"cd".repeat(8)}-01`, `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01-extra`,
  "x".repeat(4_000), "00-zz-yy-01", "ü-ß", "00-" + "ab".repeat(16) + "-" + "cd".repeat(8),
];
const badDeviceIds: readonly string[] = ["", "a.b", "x/y", "dev*", "dev>", "with space", "z".repeat(65), "dev\r\nX: 1", "ünïcode"];
const seqExtremes: readonly number[] = [0, 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 2 ** 63, 1.8e19];

export interface FuzzGeneratorOptions {
  seed: number;
  /** Mutations left out (to look past one that stops ingest); default none. */
  without?: readonly Mutation[];
  /** Topic device ids the fuzz speaks for. */
  deviceIds: readonly string[];
  /** Oversized cases are at most this large (the test keeps them below the broker's max_payload). */
  oversizedBytesMax: number;
}

export class FuzzGenerator {
  readonly #r: SeededRandom;
  readonly #o: FuzzGeneratorOptions;
  readonly #seqs = new Map<string, number>();

  constructor(o: FuzzGeneratorOptions) {
    if (o.deviceIds.length < 2) throw new Error("fuzz needs at least two device ids (wrong-device cases)");
    this.#r = new SeededRandom(o.seed);
    this.#o = o;
  }

  #int(n: number): number {
    return this.#r.u32() % n;
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[this.#int(xs.length)]!;
  }

  #mutation(): Mutation {
    for (;;) {
      let x = this.#int(mixTotal);
      let m: Mutation = Mutation.None;
      for (const [k, w] of mix) {
        if (x < w) { m = k; break; }
        x -= w;
      }
      if (!this.#o.without?.includes(m)) return m;
    }
  }

  /** A valid stamp for `deviceId`: increasing seqs per device, a fixed epoch, nothing settled. */
  #stamp(deviceId: string): WireStamp {
    const seq = (this.#seqs.get(deviceId) ?? 0) + 1;
    this.#seqs.set(deviceId, seq);
    return { deviceId, seq, epoch: 7, settledBelow: 1 };
  }

  next(): FuzzCase {
    const deviceId = this.#pick(this.#o.deviceIds);
    const kind = this.#pick(kinds);
    const mutation = this.#mutation();
    const qos: 0 | 1 = this.#int(4) === 0 ? 1 : 0;
    const w = this.#stamp(deviceId);
    const valid = (): Uint8Array => encodeEnvelope(uplinkOf(kind, w));
    let payload: Uint8Array;
    let sureBad = false;
    switch (mutation) {
      case Mutation.None:
        payload = valid();
        break;
      case Mutation.BitFlip: {
        payload = valid();
        for (let k = 1 + this.#int(8); k > 0; k--) payload[this.#int(payload.length)]! ^= 1 << this.#int(8);
        break;
      }
      case Mutation.Truncate: {
        const v = valid();
        payload = v.slice(0, this.#int(v.length));
        break;
      }
      case Mutation.HugeLength: {
        // A length-delimited field (device_id, 2) declaring 2^32-1 bytes, then the real envelope: never decodes.
        const v = valid();
        const at = this.#int(2) === 0 ? 0 : v.length;
        const huge = new Uint8Array([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        payload = at === 0 ? concat(huge, v) : concat(v, huge);
        sureBad = true;
        break;
      }
      case Mutation.NegativeLength: {
        // Field 20 (unknown: skipped by readers) with length -k, k = the bytes from the field's tag through its
        // length: a reader that accepts the negative length steps back to the tag, again and again.
        const v = this.#int(2) === 0 ? new Uint8Array(0) : valid();
        const negative = [0xa2, 0x01, ...varint((1n << 64n) - 12n)];
        payload = concat(v, new Uint8Array(negative));
        sureBad = true;
        break;
      }
      case Mutation.WrongDevice: {
        const other = this.#o.deviceIds.filter((d) => d !== deviceId);
        payload = encodeEnvelope(uplinkOf(kind, { ...w, deviceId: this.#pick(other) }));
        sureBad = true;
        break;
      }
      case Mutation.BadDeviceId: {
        const id = this.#pick(badDeviceIds);
        payload = encodeEnvelope(uplinkOf(kind, { ...w, deviceId: id }));
        // An empty id may mean "the topic's" (legacy); every other one differs from the topic.
        sureBad = id !== "";
        break;
      }
      case Mutation.BadTraceparent:
        payload = encodeEnvelope(uplinkOf(kind, { ...w, traceparent: this.#pick(badTraceparents) }));
        break;
      case Mutation.Oversized: {
        const env = uplinkOf(kind, w);
        const size = uplinkBytesMax + 1 + this.#int(this.#o.oversizedBytesMax - uplinkBytesMax);
        // Padding in a field every body tolerates: the baggage string.
        env.baggage = "k=" + "v".repeat(size);
        payload = encodeEnvelope(env);
        sureBad = true;
        break;
      }
      case Mutation.SeqExtreme: {
        const seq = this.#pick(seqExtremes);
        const env = uplinkOf(kind, { ...w, seq: 1 });
        const floorToo = this.#int(2) === 0;
        if (Number.isSafeInteger(seq)) {
          env.seq = seq;
          if (floorToo) env.settledBelow = seq;
          payload = encodeEnvelope(env);
        } else {
          // Beyond 2^53 the encoder refuses: append the fields raw (protobuf: the last occurrence wins).
          env.seq = 0;
          const tail = [0x18, ...varint(BigInt(seq)), ...(floorToo ? [0x90, 0x01, ...varint(BigInt(seq))] : [])];
          payload = concat(encodeEnvelope(env), new Uint8Array(tail));
        }
        break;
      }
      case Mutation.WrongKind: {
        const other = kinds.filter((k) => k !== kind);
        payload = encodeEnvelope(uplinkOf(this.#pick(other), w));
        sureBad = true;
        break;
      }
      case Mutation.Garbage: {
        payload = new Uint8Array(1 + this.#int(300));
        for (let i = 0; i < payload.length; i++) payload[i] = this.#int(256);
        break;
      }
    }
    return { deviceId, kind, payload, mutation, qos, sureBad };
  }
}

/** Protobuf varint of v (< 2^64). */
function varint(v: bigint): number[] {
  const out: number[] = [];
  let x = v & ((1n << 64n) - 1n);
  while (x >= 128n) { out.push(Number(x & 127n) | 128); x >>= 7n; }
  out.push(Number(x));
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
