// NATS nkeys on node:crypto: an nkey seed is a raw 32-byte ed25519 seed
// with a type prefix and a CRC-16 (XMODEM) checksum, base32 without padding;
// the public key is the ed25519 public key encoded the same way with the
// type's prefix byte (O operator, A account, U user). Signing with
// node:crypto takes ~0.06 ms where the npm nkeys/tweetnacl path took
// 10-60 ms (docs/research/nats29, A3) — issuing credentials for a fleet is a
// hot path, so this module owns the encoding and uses the native signer.
// Wire format: github.com/nats-io/nkeys (strkey.go), which nats-server uses.
import { createPrivateKey, createPublicKey, randomBytes, sign as edSign, verify as edVerify, type KeyObject } from "node:crypto";

/** Type prefix bytes of nkeys (strkey.go). */
export const KeyType = Object.freeze({
  Operator: 14 << 3,
  Account: 0,
  User: 20 << 3,
} as const);
export type KeyType = (typeof KeyType)[keyof typeof KeyType];

const seedPrefix = 18 << 3;
const keyTypeLetters: Record<number, string> = { [KeyType.Operator]: "O", [KeyType.Account]: "A", [KeyType.User]: "U" };

// ---- base32 (RFC 4648 alphabet, no padding) ----

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 without padding (nkeys and JWT ids). */
export function base32Encode(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

function base32Decode(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let j = 0;
  for (const ch of text) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not an nkey: illegal base32 character ${JSON.stringify(ch)}`);
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[j++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out.subarray(0, j);
}

/** CRC-16/XMODEM (poly 0x1021, init 0), as nkeys' crc16.go. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function withChecksum(raw: Uint8Array): string {
  const out = new Uint8Array(raw.length + 2);
  out.set(raw);
  const c = crc16(raw);
  out[raw.length] = c & 0xff;
  out[raw.length + 1] = c >>> 8;
  return base32Encode(out);
}

function checked(text: string): Uint8Array {
  const raw = base32Decode(text);
  if (raw.length < 4) throw new Error("not an nkey: too short");
  const body = raw.subarray(0, raw.length - 2);
  const sum = raw[raw.length - 2]! | (raw[raw.length - 1]! << 8);
  if (crc16(body) !== sum) throw new Error("not an nkey: checksum mismatch");
  return body;
}

export function encodePublicKey(type: KeyType, key: Uint8Array): string {
  if (key.length !== 32) throw new Error(`ed25519 public key must be 32 bytes, got ${key.length}`);
  const raw = new Uint8Array(33);
  raw[0] = type;
  raw.set(key, 1);
  return withChecksum(raw);
}

export function encodeSeed(type: KeyType, seed: Uint8Array): string {
  if (seed.length !== 32) throw new Error(`ed25519 seed must be 32 bytes, got ${seed.length}`);
  const raw = new Uint8Array(34);
  raw[0] = seedPrefix | (type >> 5);
  raw[1] = (type & 31) << 3;
  raw.set(seed, 2);
  return withChecksum(raw);
}

export function decodeSeed(text: string): { type: KeyType; seed: Uint8Array } {
  const raw = checked(text.trim());
  if (raw.length !== 34) throw new Error("not an nkey seed: wrong length");
  const kind = raw[0]! & 0xf8;
  const type = ((raw[0]! & 7) << 5) | ((raw[1]! & 0xf8) >> 3);
  if (kind !== seedPrefix || keyTypeLetters[type] === undefined) throw new Error("not an operator, account or user nkey seed");
  return { type: type as KeyType, seed: raw.slice(2) };
}

/** Decodes a public nkey of the given type to its 32 raw bytes. */
export function decodePublicKey(text: string, type: KeyType): Uint8Array {
  const raw = checked(text);
  if (raw.length !== 33 || raw[0] !== type) throw new Error(`not a public ${keyTypeLetters[type]} nkey: ${text.slice(0, 8)}…`);
  return raw.slice(1);
}

export function isPublicKey(text: string, type: KeyType): boolean {
  try {
    decodePublicKey(text, type);
    return true;
  } catch {
    return false;
  }
}

// PKCS#8 DER prefix of an ed25519 private key; the 32-byte seed follows.
const pkcs8Ed25519Prefix = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/** An nkey pair: its public key, its seed (a secret) and a fast signer. */
export class KeyPair {
  readonly type: KeyType;
  readonly publicKey: string;
  readonly #seed: Uint8Array;
  readonly #private: KeyObject;

  private constructor(type: KeyType, seed: Uint8Array) {
    this.type = type;
    this.#seed = seed;
    const der = new Uint8Array(pkcs8Ed25519Prefix.length + 32);
    der.set(pkcs8Ed25519Prefix);
    der.set(seed, pkcs8Ed25519Prefix.length);
    this.#private = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
    const jwk = createPublicKey(this.#private).export({ format: "jwk" });
    this.publicKey = encodePublicKey(type, Buffer.from(jwk.x!, "base64url"));
  }

  static create(type: KeyType): KeyPair {
    return new KeyPair(type, new Uint8Array(randomBytes(32)));
  }

  static fromSeed(text: string, expected?: KeyType): KeyPair {
    const { type, seed } = decodeSeed(text);
    if (expected !== undefined && type !== expected) throw new Error(`expected a ${keyTypeLetters[expected]} seed, got a ${keyTypeLetters[type]} seed`);
    return new KeyPair(type, seed);
  }

  /** The encoded seed ("SO…", "SA…", "SU…"): the secret half. */
  seed(): string {
    return encodeSeed(this.type, this.#seed);
  }

  sign(data: Uint8Array): Uint8Array {
    return new Uint8Array(edSign(null, data, this.#private));
  }
}

/** Verifies an ed25519 signature by a public nkey of any supported type. */
export function verifySignature(publicKey: string, data: Uint8Array, signature: Uint8Array): boolean {
  const type = [KeyType.Operator, KeyType.Account, KeyType.User].find((t) => isPublicKey(publicKey, t));
  if (type === undefined) return false;
  const raw = decodePublicKey(publicKey, type);
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") }, format: "jwk" });
  return edVerify(null, data, key, signature);
}
