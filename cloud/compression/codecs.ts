// The four codecs behind one interface: gzip (node:zlib), LZ4 (lz4-napi,
// block with a 4-byte little-endian size prefix), Snappy (snappy, raw
// format with its varint length) and Zstd (zstd-napi, frames).
//
// Contract: `decompress(bytes, maxBytes)` never produces nor allocates more
// than maxBytes. gzip stops zlib at maxOutputLength; LZ4 and Snappy read the
// declared size before allocating and refuse above the cap (the libraries
// then check the output matches it); Zstd decompresses frame by frame in a
// streaming loop that stops at the cap, so neither a lying frame header nor
// concatenated frames pass. Bad input throws CompressionError, never
// crashes the process.
import { gunzipSync, gzipSync } from "node:zlib";
import { compressSync as lz4Compress, uncompressSync as lz4Uncompress } from "lz4-napi";
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from "snappy";
import { compress as zstdCompress } from "zstd-napi";
import zstdBinding from "zstd-napi/binding";

// CommonJS without export names Node's ESM loader can see: take DCtx off the default export.
const { DCtx } = zstdBinding;

export const CodecName = {
  Gzip: "gzip",
  Lz4: "lz4",
  Snappy: "snappy",
  Zstd: "zstd",
} as const;
export type CodecName = (typeof CodecName)[keyof typeof CodecName];
export const codecNames: readonly CodecName[] = Object.freeze(Object.values(CodecName));

export function isCodecName(s: string): s is CodecName {
  return (codecNames as readonly string[]).includes(s);
}

export interface Codec {
  readonly name: CodecName;
  compress(bytes: Uint8Array): Uint8Array;
  /** Throws CompressionError when the output would exceed maxBytes or the input is malformed. */
  decompress(bytes: Uint8Array, maxBytes: number): Uint8Array;
}

export class CompressionError extends Error {
  constructor(readonly codec: string, readonly reason: "too-large" | "malformed", detail: string) {
    super(`${codec}: ${detail}`);
    this.name = "CompressionError";
  }
}

function tooLarge(codec: CodecName, declared: number | string, maxBytes: number): CompressionError {
  return new CompressionError(codec, "too-large", `decompressed size ${declared} exceeds the cap of ${maxBytes} bytes`);
}

/** Every codec's output of even an empty payload is non-empty: empty input is malformed. */
function checkInput(codec: CodecName, bytes: Uint8Array, maxBytes: number): void {
  if (!Number.isInteger(maxBytes) || maxBytes < 0) throw new Error(`decompress: maxBytes must be a non-negative integer, got ${maxBytes}`);
  if (bytes.byteLength === 0) throw new CompressionError(codec, "malformed", "empty input");
}

function malformed(codec: CodecName, err: unknown): CompressionError {
  if (err instanceof CompressionError) return err;
  return new CompressionError(codec, "malformed", err instanceof Error ? err.message : String(err));
}

const gzip: Codec = {
  name: CodecName.Gzip,
  compress: (b) => gzipSync(b, { level: 6 }),
  decompress(b, maxBytes) {
    checkInput(CodecName.Gzip, b, maxBytes);
    try {
      // zlib stops inflating once maxOutputLength is reached (ERR_BUFFER_TOO_LARGE).
      return gunzipSync(b, { maxOutputLength: Math.max(1, maxBytes) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge(CodecName.Gzip, `> ${maxBytes}`, maxBytes);
      throw malformed(CodecName.Gzip, err);
    }
  },
};

const lz4: Codec = {
  name: CodecName.Lz4,
  compress: (b) => lz4Compress(Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
  decompress(b, maxBytes) {
    checkInput(CodecName.Lz4, b, maxBytes);
    if (b.byteLength < 4) throw new CompressionError(CodecName.Lz4, "malformed", "shorter than its size prefix");
    const declared = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
    if (declared > maxBytes) throw tooLarge(CodecName.Lz4, declared, maxBytes);
    try {
      return lz4Uncompress(b);
    } catch (err) {
      throw malformed(CodecName.Lz4, err);
    }
  },
};

/** The varint length at the start of a raw Snappy block. */
function snappyDeclaredLength(b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < 5 && i < b.length; i++) {
    n += (b[i]! & 0x7f) * 2 ** (7 * i);
    if ((b[i]! & 0x80) === 0) return n;
  }
  throw new CompressionError(CodecName.Snappy, "malformed", "bad length varint");
}

const snappy: Codec = {
  name: CodecName.Snappy,
  compress: (b) => snappyCompress(b),
  decompress(b, maxBytes) {
    checkInput(CodecName.Snappy, b, maxBytes);
    const declared = snappyDeclaredLength(b);
    if (declared > maxBytes) throw tooLarge(CodecName.Snappy, declared, maxBytes);
    try {
      return snappyUncompress(b, { asBuffer: true }) as Buffer;
    } catch (err) {
      throw malformed(CodecName.Snappy, err);
    }
  },
};

/** Largest output chunk of the Zstd loop. */
const zstdChunkBytesMax = 64 * 1024;
/** One decompression context, reused (creating one per message costs more than small messages' decompression). */
let zstdCtx: InstanceType<typeof DCtx> | null = null;

const zstd: Codec = {
  name: CodecName.Zstd,
  compress: (b) => zstdCompress(b),
  decompress(b, maxBytes) {
    checkInput(CodecName.Zstd, b, maxBytes);
    // A context left mid-frame by an error is replaced, never reused.
    const dctx = zstdCtx ?? new DCtx();
    zstdCtx = null;
    const chunks: Buffer[] = [];
    let total = 0;
    let input = b;
    let hint = 1;
    // The frame header's size is a hint for the first chunk only (it may lie); the cap decides.
    let declared: number | null = null;
    try { declared = zstdBinding.getFrameContentSize(b); } catch { /* not a frame: the loop reports it */ }
    const first = declared !== null && declared >= 0 ? declared + 1 : Math.max(b.byteLength * 4, 1024);
    try {
      for (let chunkBytes = first; input.length > 0 || hint !== 0;) {
        // Never ask for more than the cap allows plus one byte (to notice an overflow).
        const out = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, zstdChunkBytesMax, maxBytes - total + 1)));
        const [h, produced, consumed] = dctx.decompressStream(out, input);
        hint = h;
        total += produced;
        if (total > maxBytes) throw tooLarge(CodecName.Zstd, `> ${maxBytes}`, maxBytes);
        if (produced > 0) chunks.push(out.subarray(0, produced));
        if (consumed === 0 && produced === 0) throw new CompressionError(CodecName.Zstd, "malformed", input.length === 0 ? "truncated frame" : "no progress");
        input = input.subarray(consumed);
        chunkBytes = zstdChunkBytesMax;
      }
    } catch (err) {
      throw malformed(CodecName.Zstd, err);
    }
    zstdCtx = dctx;
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  },
};

export const codecs: Readonly<Record<CodecName, Codec>> = Object.freeze({ gzip, lz4, snappy, zstd });

export function codecOf(name: string): Codec {
  if (!isCodecName(name)) throw new CompressionError(name, "malformed", `unknown encoding (known: ${codecNames.join(", ")})`);
  return codecs[name];
}
