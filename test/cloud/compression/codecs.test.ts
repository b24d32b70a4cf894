// Every codec round-trips real-looking payloads and refuses a bomb: a small
// input that would expand past the cap, including inputs whose declared
// size lies. The cap is never exceeded by what decompress returns.
import { describe, expect, it } from "vitest";
import { gzipSync } from "node:zlib";
import { compress as zstdCompress } from "zstd-napi";
import {
  CodecName, codecNames, codecs, CompressionError, CompressionHeader, decodePayload, encodePayload,
} from "../../../cloud/compression";
import { encodeHistoryRecord } from "../../../cloud/records";

const enc = new TextEncoder();
const record = encodeHistoryRecord({ s: 42, t: Array.from({ length: 200 }, (_, i) => 1_700_000_000_000 + i * 1000), v: Array.from({ length: 200 }, (_, i) => 20 + Math.sin(i / 10)) });
const bombRaw = new Uint8Array(16 * 1024 * 1024); // 16 MiB of zeros: compresses to a few KiB
const cap = 1024 * 1024;

function hdrs(map: Record<string, string>): { get(k: string): string } {
  return { get: (k) => map[k] ?? "" };
}

describe("codecs", () => {
  for (const name of codecNames) {
    const c = codecs[name];
    it(`${name}: round trip of a history record, an empty payload and random bytes`, () => {
      const random = new Uint8Array(5000).map((_, i) => (i * 2654435761) >>> 24);
      for (const raw of [record, new Uint8Array(0), random, enc.encode("x")]) {
        const packed = c.compress(raw);
        expect(Buffer.from(c.decompress(packed, raw.byteLength))).toEqual(Buffer.from(raw));
      }
      expect(c.compress(record).byteLength).toBeLessThan(record.byteLength);
    });

    it(`${name}: refuses a bomb (16 MiB of zeros) at a 1 MiB cap`, () => {
      const bomb = c.compress(bombRaw);
      expect(bomb.byteLength).toBeLessThan(1024 * 1024);
      let err: unknown;
      try { c.decompress(bomb, cap); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(CompressionError);
      expect((err as CompressionError).reason).toBe("too-large");
      // The exact cap still passes; one byte less does not.
      const small = new Uint8Array(1000).fill(3);
      expect(c.decompress(c.compress(small), 1000).byteLength).toBe(1000);
      expect(() => c.decompress(c.compress(small), 999)).toThrow(CompressionError);
    });

    it(`${name}: garbage is a CompressionError, not a crash`, () => {
      for (const junk of [new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), new Uint8Array(0), new Uint8Array(100).fill(0xff)]) {
        expect(() => c.decompress(junk, cap)).toThrow(CompressionError);
      }
    });
  }

  it("lz4 and snappy: a declared size that lies small does not let a bomb through", () => {
    const lz = Buffer.from(codecs.lz4.compress(bombRaw));
    lz.writeUInt32LE(100, 0); // claims 100 bytes
    expect(() => codecs.lz4.decompress(lz, cap)).toThrow(CompressionError);
    const sn = Buffer.from(codecs.snappy.compress(new Uint8Array(200_000)));
    // Replace the varint length (3 bytes for 200,000) by 100 (1 byte).
    const lying = Buffer.concat([Buffer.from([100]), sn.subarray(3)]);
    expect(() => codecs.snappy.decompress(lying, cap)).toThrow(CompressionError);
  });

  it("zstd: concatenated frames and a frame without a declared size are capped too", () => {
    const frame = zstdCompress(new Uint8Array(600 * 1024));
    const two = Buffer.concat([frame, frame]); // 1.2 MiB in all, each frame under the cap
    expect(() => codecs.zstd.decompress(two, cap)).toThrow(/exceeds the cap/);
    expect(codecs.zstd.decompress(two, 2 * cap).byteLength).toBe(1200 * 1024);
    // gzip: a concatenated member stream is capped the same way.
    const g = gzipSync(new Uint8Array(600 * 1024));
    expect(() => codecs.gzip.decompress(Buffer.concat([g, g]), cap)).toThrow(CompressionError);
  });
});

describe("policy and header", () => {
  it("below the threshold or codec none: raw, no header; above: compressed and decoded by the header", () => {
    expect(encodePayload({ codec: "zstd", thresholdBytes: record.byteLength + 1 }, record).encoding).toBeNull();
    expect(encodePayload({ codec: "none", thresholdBytes: 0 }, record).encoding).toBeNull();
    for (const name of codecNames) {
      const e = encodePayload({ codec: name, thresholdBytes: 64 }, record);
      expect(e.encoding).toBe(name);
      const back = decodePayload(e.data, hdrs({ [CompressionHeader.Encoding]: name }));
      expect(Buffer.from(back)).toEqual(Buffer.from(record));
    }
    expect(decodePayload(record, undefined)).toBe(record);
    expect(() => decodePayload(record, hdrs({ [CompressionHeader.Encoding]: "brotli" }))).toThrow(/unknown encoding/);
  });

  it("incompressible bytes stay raw", () => {
    const random = new Uint8Array(4096).map(() => Math.floor(Math.random() * 256));
    expect(encodePayload({ codec: CodecName.Snappy, thresholdBytes: 0 }, random).encoding).toBeNull();
  });

  it("a bomb through the header helper is refused at the reader's cap", () => {
    const bomb = codecs.zstd.compress(bombRaw);
    expect(() => decodePayload(bomb, hdrs({ [CompressionHeader.Encoding]: "zstd" }), cap)).toThrow(/exceeds the cap/);
  });
});
