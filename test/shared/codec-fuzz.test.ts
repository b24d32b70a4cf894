// The decoders take untrusted bytes (device uplinks): on random bytes, and on
// bit flips, truncations and splices of valid encodings, they either return a
// bounded result or throw CodecError — never another error, never a hang.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BatchDecoder, CodecError, decodeBatch, decodeGorilla, Encoding, encodeBatch, encodeGorilla, formatVersion, formatVersionV1 } from "../../shared/codec/index";
import { mutate, mutationArb } from "./codec-mutations";

const limits = { pointsMax: 512, channelsMax: 4 };

function outcome(f: () => { timestampsMs: number[] | readonly number[] } & Record<string, unknown>): "ok" | "codec-error" {
  try {
    const r = f();
    expect(r.timestampsMs.length).toBeLessThanOrEqual(limits.pointsMax);
    return "ok";
  } catch (e) {
    if (e instanceof CodecError) return "codec-error";
    throw e;
  }
}

function decodeAdaptive(bytes: Uint8Array): "ok" | "codec-error" {
  return outcome(() => {
    const b = decodeBatch(bytes, limits);
    expect(b.channels.length).toBeLessThanOrEqual(limits.channelsMax);
    for (const ch of b.channels) expect(ch.values.length).toBe(b.timestampsMs.length);
    return b as unknown as { timestampsMs: number[] };
  });
}

function decodeGor(bytes: Uint8Array): "ok" | "codec-error" {
  return outcome(() => decodeGorilla(bytes, limits));
}

/** Valid encodings of small irregular series, to mutate. */
const validArb = fc
  .tuple(
    fc.array(fc.integer({ min: -5000, max: 20000 }), { minLength: 0, maxLength: 300 }),
    fc.array(fc.integer({ min: -300, max: 300 }), { minLength: 300, maxLength: 300 }),
    fc.integer({ min: 0, max: 2 }),
  )
  .map(([deltas, steps, channels]) => {
    let t = 1_458_031_648_545;
    const ts = deltas.map((d) => (t += d));
    let v = 2000;
    const values = ts.map((_, i) => (v += steps[i]!) / 100);
    const adaptive = encodeBatch({ t0Ms: ts[0] ?? 0, timestampsMs: ts, channels: Array.from({ length: channels }, () => ({ values, resolution: 0.01 })) });
    const gorilla = encodeGorilla({ t0Ms: ts[0] ?? 0, timestampsMs: ts, values });
    return { adaptive, gorilla };
  });


describe("decoder fuzzing", () => {
  it("random bytes: result or CodecError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        decodeAdaptive(bytes);
        decodeGor(bytes);
      }),
      { numRuns: 1000 },
    );
  });

  it("random bytes behind a valid header: result or CodecError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (body) => {
        decodeAdaptive(Uint8Array.of(formatVersion, ...body));
        decodeAdaptive(Uint8Array.of(formatVersionV1, Encoding.Adaptive, ...body));
        decodeGor(Uint8Array.of(formatVersionV1, Encoding.Gorilla, ...body));
      }),
      { numRuns: 1000 },
    );
  });

  it("bit flips, truncations and splices of valid encodings: result or CodecError", () => {
    const seen = { ok: 0, "codec-error": 0 };
    fc.assert(
      fc.property(validArb, mutationArb, ({ adaptive, gorilla }, mutations) => {
        seen[decodeAdaptive(mutate(adaptive, mutations))]++;
        seen[decodeGor(mutate(gorilla, mutations))]++;
      }),
      { numRuns: 200 },
    );
    // Both outcomes occur: the fuzzer reaches deep into the format.
    expect(seen["codec-error"]).toBeGreaterThan(0);
    expect(seen.ok).toBeGreaterThan(0);
  });

  it("every truncation of a valid encoding is rejected as CodecError", () => {
    let t = 1_700_000_000_000;
    const ts = Array.from({ length: 140 }, (_, i) => (t += 4000 + ((i * 7919) % 900)));
    const values = ts.map((_, i) => Math.round(Math.sin(i / 9) * 500) / 100);
    for (const bytes of [
      encodeBatch({ t0Ms: ts[0]!, timestampsMs: ts, channels: [{ values, resolution: 0.01 }] }),
      encodeGorilla({ t0Ms: ts[0]!, timestampsMs: ts, values }),
    ]) {
      for (let len = 0; len < bytes.length; len++) {
        const cut = bytes.subarray(0, len);
        expect(() => (bytes[1] === Encoding.Gorilla ? decodeGorilla(cut) : decodeBatch(cut))).toThrow(CodecError);
      }
    }
  });

  it("a reused BatchDecoder decodes exactly as a fresh decoder, also after inputs that failed mid-way", () => {
    // One decoder for the whole run, as the cloud keeps one: its models are
    // reset in place, so no state of a previous (or failed) batch may leak.
    const reused = new BatchDecoder();
    const run = (d: (b: Uint8Array) => unknown, bytes: Uint8Array): unknown => {
      try {
        return d(bytes);
      } catch (e) {
        if (e instanceof CodecError) return { error: e.reason, message: e.message };
        throw e;
      }
    };
    let decoded = 0;
    fc.assert(
      fc.property(fc.array(fc.tuple(validArb, fc.option(mutationArb)), { minLength: 1, maxLength: 6 }), (inputs) => {
        for (const [{ adaptive }, mutations] of inputs) {
          const bytes = mutations ? mutate(adaptive, mutations) : adaptive;
          const fresh = run((b) => decodeBatch(b, limits), bytes);
          expect(run((b) => reused.decode(b, limits), bytes)).toEqual(fresh);
          if (!("error" in (fresh as object))) decoded++;
        }
      }),
      { numRuns: 150 },
    );
    expect(decoded).toBeGreaterThan(0);
  });
});
