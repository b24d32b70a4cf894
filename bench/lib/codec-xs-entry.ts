// Runs on XS (bundled by test/harness/xs.ts): encodes and decodes series with
// the adaptive codec and the Gorilla reference, timed with the runner's
// xsNowMs(). Returns sizes and times; the bytes' checksum lets the caller
// compare against Node.
import { decodeGorilla, decodeSeries, encodeGorilla, encodeSeries } from "../../shared/codec/index";

interface Input {
  series: Array<{ timestampsMs: number[]; values: number[]; resolution: number }>;
  reps: number;
}

declare const xsNowMs: () => number;

function checksum(bytes: Uint8Array, acc: number): number {
  for (let i = 0; i < bytes.length; i++) acc = (Math.imul(acc, 31) + bytes[i]!) >>> 0;
  return acc;
}

export default function run(input: Input) {
  const out = { points: 0, bytes: 0, gorillaBytes: 0, encodeMs: 0, decodeMs: 0, gorillaEncodeMs: 0, gorillaDecodeMs: 0, checksum: 0 };
  for (const s of input.series) out.points += s.values.length;
  for (let rep = 0; rep < input.reps; rep++) {
    for (const s of input.series) {
      let t = xsNowMs();
      const bytes = encodeSeries(s);
      out.encodeMs += xsNowMs() - t;
      t = xsNowMs();
      decodeSeries(bytes);
      out.decodeMs += xsNowMs() - t;
      t = xsNowMs();
      const g = encodeGorilla({ t0Ms: s.timestampsMs[0] ?? 0, timestampsMs: s.timestampsMs, values: s.values });
      out.gorillaEncodeMs += xsNowMs() - t;
      t = xsNowMs();
      decodeGorilla(g);
      out.gorillaDecodeMs += xsNowMs() - t;
      if (rep === 0) {
        out.bytes += bytes.length;
        out.gorillaBytes += g.length;
        out.checksum = checksum(bytes, out.checksum);
      }
    }
  }
  return out;
}
