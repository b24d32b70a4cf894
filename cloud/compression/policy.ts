// Compression per path: which codec, and the size below which a message goes
// uncompressed (small payloads gain little and cost a header and CPU). The
// encoding travels in one NATS header, `Xsf-Encoding`, so any subscriber
// decodes with `decodePayload` whatever the publisher's settings were; a
// message without the header is raw. Pure: bytes in, bytes out.
import { codecNames, codecOf, codecs, CompressionError, isCodecName, type CodecName } from "./codecs";

/** The NATS headers of compressed messages (the one place they are spelled). */
export const CompressionHeader = {
  /** The codec of the payload (gzip | lz4 | snappy | zstd); absent: raw bytes. */
  Encoding: "Xsf-Encoding",
} as const;

/** "none" turns a path's compression off. */
export type CodecChoice = CodecName | "none";
export const codecChoices: readonly CodecChoice[] = Object.freeze(["none", ...codecNames]);

export interface CompressionPolicy {
  codec: CodecChoice;
  /** Payloads smaller than this go uncompressed. */
  thresholdBytes: number;
}

/** The paths of the system that compress (docs/data-plane.md "Compression"). */
export const CompressionPath = {
  History: "history",
  Out: "out",
  Backup: "backup",
} as const;
export type CompressionPath = (typeof CompressionPath)[keyof typeof CompressionPath];

/** Defaults and why (measured by `npm run bench:compression`):
 *  history: zstd above 256 B — the largest stream, read rarely, and its
 *  records are replicated (mirror traffic carries the stored bytes);
 *  out: off — integrators opt in (they must decode);
 *  backup: zstd always — files are large and read once. */
export const defaultCompression: Readonly<Record<CompressionPath, CompressionPolicy>> = Object.freeze({
  history: { codec: "zstd", thresholdBytes: 256 },
  out: { codec: "none", thresholdBytes: 256 },
  backup: { codec: "zstd", thresholdBytes: 0 },
});

/** Largest decompressed payload a reader accepts by default (history and out records are ≤ 1 MiB). */
export const decompressedBytesMaxDefault = 8 * 1024 * 1024;
export const thresholdBytesMax = 64 * 1024 * 1024;

export interface Encoded {
  data: Uint8Array;
  /** Null: sent raw (below the threshold, codec none, or no gain). */
  encoding: CodecName | null;
}

/** Compresses `bytes` under `policy`; keeps the raw bytes when compression does not make them smaller. */
export function encodePayload(policy: CompressionPolicy, bytes: Uint8Array): Encoded {
  if (policy.codec === "none" || bytes.byteLength < policy.thresholdBytes) return { data: bytes, encoding: null };
  const c = codecs[policy.codec].compress(bytes);
  return c.byteLength < bytes.byteLength ? { data: c, encoding: policy.codec } : { data: bytes, encoding: null };
}

/** The headers a message needs: what `get` of @nats-io MsgHdrs offers ("" when absent). */
export interface HeaderReader {
  get(name: string): string;
}

/** Decodes a message by its `Xsf-Encoding` header (raw when absent); refuses more than maxBytes. */
export function decodePayload(data: Uint8Array, headers: HeaderReader | undefined, maxBytes = decompressedBytesMaxDefault): Uint8Array {
  const enc = headers?.get(CompressionHeader.Encoding) ?? "";
  if (enc === "") {
    if (data.byteLength > maxBytes) throw new CompressionError("identity", "too-large", `payload of ${data.byteLength} bytes exceeds the cap of ${maxBytes} bytes`);
    return data;
  }
  return codecOf(enc).decompress(data, maxBytes);
}

/** Checks a policy from settings; returns the problems (empty when fine). */
export function policyProblems(key: string, p: { codec?: unknown; thresholdBytes?: unknown }): string[] {
  const out: string[] = [];
  if (p.codec !== undefined && (typeof p.codec !== "string" || (p.codec !== "none" && !isCodecName(p.codec)))) {
    out.push(`${key}: codec must be one of ${codecChoices.join(", ")}, got ${JSON.stringify(p.codec)}`);
  }
  if (p.thresholdBytes !== undefined && (typeof p.thresholdBytes !== "number" || !Number.isInteger(p.thresholdBytes) || p.thresholdBytes < 0 || p.thresholdBytes > thresholdBytesMax)) {
    out.push(`${key}: thresholdBytes must be an integer in 0..${thresholdBytesMax}, got ${JSON.stringify(p.thresholdBytes)}`);
  }
  return out;
}
