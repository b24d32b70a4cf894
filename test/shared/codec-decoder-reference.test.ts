// shared/codec's decoder is specialised for speed (int32 coder state, adapt
// inlined, one call per integer, dequantize hoisted); it must stay bit-exact
// with the straightforward decoder in codec-reference-decoder.ts on every
// input: the same batch (same doubles, -0 included) or the same CodecError
// (reason and message), on valid encodings, random bytes, and truncated,
// bit-flipped and spliced encodings — both decodeBatch (fresh) and one
// reused BatchDecoder (the cloud's).
import fc from "fast-check";
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { BatchDecoder, CodecError, decodeBatch, Encoding, encodeBatch, formatVersion, formatVersionV1, type TelemetryBatch } from "../../shared/codec/index";
import { loadRoomClimate, roomClimateResolution, type RoomClimateChannel } from "../../firmware/host/room-climate";
import { referenceDecodeBatch } from "./codec-reference-decoder";
import { mutate, mutationArb } from "./codec-mutations";

const limits = { pointsMax: 512, channelsMax: 6 };

type Outcome = { batch: TelemetryBatch } | { error: string; reason: string; message: string };

function outcome(decode: () => TelemetryBatch): Outcome {
  try {
    return { batch: decode() };
  } catch (e) {
    if (e instanceof CodecError) return { error: "CodecError", reason: e.reason, message: e.message };
    throw e;
  }
}

const reused = new BatchDecoder();

/** Decodes with the reference, decodeBatch and the shared reused decoder; all three must agree exactly. */
function agree(bytes: Uint8Array, lim: Partial<typeof limits> = limits): "ok" | "error" {
  const expected = outcome(() => referenceDecodeBatch(bytes, lim));
  const fresh = outcome(() => decodeBatch(bytes, lim));
  const again = outcome(() => reused.decode(bytes, lim));
  if (!isDeepStrictEqual(fresh, expected) || !isDeepStrictEqual(again, expected)) {
    // toEqual shows the difference (isDeepStrictEqual also tells -0 from 0).
    expect({ fresh, again }, `input ${Buffer.from(bytes).toString("hex")}`).toEqual({ fresh: expected, again: expected });
    expect.fail(`decoders differ (-0 against 0?) on ${Buffer.from(bytes).toString("hex")}`);
  }
  return "batch" in expected ? "ok" : "error";
}

/** Encodings of irregular multi-channel series: each block mode, wide and narrow values. */
const validArb = fc
  .record({
    deltas: fc.array(fc.oneof(fc.integer({ min: 990, max: 1010 }), fc.integer({ min: -5000, max: 200000 }), fc.constantFrom(0, 125, 250, 375)), { maxLength: 300 }),
    steps: fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -300000, max: 300000 }), fc.constantFrom(0, 40, 41, -40, -41)), { minLength: 300, maxLength: 300 }),
    flicker: fc.boolean(),
    channels: fc.integer({ min: 0, max: 4 }),
    t0: fc.integer({ min: -1_000_000, max: 1_000_000 }),
    resolution: fc.constantFrom(0.01, 0.001, 0.1, 1, 5, 20, 0.25, 3e-7),
  })
  .map(({ deltas, steps, flicker, channels, t0, resolution }) => {
    let t = 1_458_031_648_545;
    const ts = deltas.map((d) => (t += d));
    let v = 2000;
    const column = ts.map((_, i) => (flicker ? 2000 + (steps[i]! % 3) : (v += steps[i]!)));
    const batch: TelemetryBatch = {
      t0Ms: (ts[0] ?? 0) + t0,
      timestampsMs: ts,
      channels: Array.from({ length: channels }, (_, c) => ({ values: column.map((x) => (x * (c + 1) - 7) * resolution), resolution })),
    };
    return encodeBatch(batch, limits);
  });

/**
 * Encodings at the format's edges: timestamps near ±2^50 ms and values near
 * ±2^50 steps, so Δ and Δ-of-Δ reach bit lengths 50–52 (the direct-bit and
 * long-unary paths), at resolutions whose products round.
 */
const extremeArb = fc
  .record({
    ts: fc.array(fc.oneof(fc.integer({ min: -(2 ** 50) + 1, max: 2 ** 50 - 1 }), fc.constantFrom(2 ** 50 - 1, -(2 ** 50) + 1, 0)), { minLength: 2, maxLength: 140 }),
    steps: fc.array(fc.oneof(fc.constantFrom(2 ** 50, -(2 ** 50), 0, 1), fc.integer({ min: -(2 ** 50), max: 2 ** 50 })), { minLength: 140, maxLength: 140 }),
    resolution: fc.constantFrom(5e3, 2e7, 3, 0.7, 1e-15, 7e15, 123e3, 4.56e-5),
  })
  .map(({ ts, steps, resolution }) =>
    encodeBatch({ t0Ms: ts[0]!, timestampsMs: ts, channels: [{ values: ts.map((_, i) => steps[i]! * resolution), resolution }] }, limits),
  );


describe("the codec's decoder equals the straightforward reference", () => {
  it("on valid encodings of random series (every block mode) and at the format's edges", () => {
    fc.assert(
      fc.property(fc.oneof(validArb, extremeArb), (bytes) => {
        expect(agree(bytes)).toBe("ok");
      }),
      { numRuns: 400 },
    );
  });

  it("on room-climate batches of 32 rows and whole traces, 4 channels", () => {
    const channels: RoomClimateChannel[] = ["temp", "humidity", "light1", "light2"];
    for (const s of loadRoomClimate().slice(0, 12)) {
      for (const rows of [32, 1, 2, 129, Infinity]) {
        for (let i = 0; i < s.samples.length; i += Math.min(rows, s.samples.length) * 7) {
          const part = s.samples.slice(i, i + rows);
          const bytes = encodeBatch({
            t0Ms: part[0]!.tMs,
            timestampsMs: part.map((p) => p.tMs),
            channels: channels.map((ch) => ({ values: part.map((p) => p[ch]), resolution: roomClimateResolution[ch] })),
          });
          agree(bytes, { pointsMax: 1 << 20 });
        }
      }
    }
  });

  it("on random bytes, bare and behind each header", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (body) => {
        agree(body);
        agree(Uint8Array.of(formatVersion, ...body));
        agree(Uint8Array.of(formatVersionV1, Encoding.Adaptive, ...body));
      }),
      { numRuns: 1500 },
    );
  });

  it("on bit flips, truncations and splices of valid encodings", () => {
    const seen = { ok: 0, error: 0 };
    fc.assert(
      fc.property(fc.oneof(validArb, extremeArb), mutationArb, (bytes, mutations) => {
        seen[agree(mutate(bytes, mutations))]++;
      }),
      { numRuns: 1500 },
    );
    // Both outcomes occur: the mutations reach deep into the format.
    expect(seen.ok).toBeGreaterThan(20);
    expect(seen.error).toBeGreaterThan(20);
  });

  it("on every truncation and every single-bit flip of a few valid encodings", () => {
    const seen = { ok: 0, error: 0 };
    for (const bytes of fc.sample(validArb, { numRuns: 8, seed: 7 })) {
      for (let len = 0; len < bytes.length; len++) expect(agree(bytes.subarray(0, len))).toBe("error");
      for (let at = 0; at < bytes.length; at++) {
        for (let bit = 0; bit < 8; bit++) {
          const flipped = Uint8Array.from(bytes);
          flipped[at]! ^= 1 << bit;
          seen[agree(flipped)]++;
        }
      }
    }
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.error).toBeGreaterThan(0);
  });
});
