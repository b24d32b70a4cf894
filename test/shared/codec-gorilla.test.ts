// Reference Gorilla codec: lossless for any float64 and integer timestamps,
// and the paper's bit layout on known inputs.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CodecError, CodecErrorReason, decodeGorilla, encodeGorilla } from "../../shared/codec/index";

describe("Gorilla reference codec", () => {
  it("round-trips arbitrary doubles and irregular timestamps bit-exactly", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), fc.double()), { maxLength: 300 }),
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        (points, start) => {
          let t = start;
          const timestampsMs = points.map(([d]) => (t += Math.trunc(d / 4)));
          const values = points.map(([, v]) => v);
          const back = decodeGorilla(encodeGorilla({ t0Ms: start, timestampsMs, values }));
          expect(back.timestampsMs).toEqual(timestampsMs);
          expect(back.values.length).toBe(values.length);
          for (let i = 0; i < values.length; i++) expect(Object.is(back.values[i], values[i]) || (Number.isNaN(back.values[i]) && Number.isNaN(values[i]))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("codes a regular, constant series in ~2 bits per point (paper: '0' + '0')", () => {
    const timestampsMs = Array.from({ length: 1001 }, (_, i) => 1_700_000_000_000 + i * 60_000);
    const values = timestampsMs.map(() => 21.5);
    const bytes = encodeGorilla({ t0Ms: timestampsMs[0]!, timestampsMs, values });
    // Header: version, encoding, count (2 bytes), t0 (6), first offset (1),
    // first value (8) = 19 bytes; the first Δ 60000 takes '1111'+32 bits;
    // then every point is '0' (Δ-of-Δ) + '0' (same value).
    expect(bytes.length).toBe(19 + Math.ceil((36 + 1 + 999 * 2) / 8));
    expect(decodeGorilla(bytes).values).toEqual(values);
  });

  it("rejects a Δ-of-Δ beyond the 32-bit bucket", () => {
    expect(() => encodeGorilla({ t0Ms: 0, timestampsMs: [0, 2 ** 33], values: [1, 2] })).toThrow(CodecError);
    try {
      encodeGorilla({ t0Ms: 0, timestampsMs: [0, 2 ** 33], values: [1, 2] });
    } catch (e) {
      expect((e as CodecError).reason).toBe(CodecErrorReason.ValueOutOfRange);
    }
  });
});
