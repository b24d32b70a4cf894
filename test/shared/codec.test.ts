// Telemetry codec: exact round trips at the declared resolution (property
// tests over irregular timestamps, negative values, jumps, 0 and 1 points),
// header fields, limits and input validation.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  atResolution,
  CodecError,
  CodecErrorReason,
  decodeBatch,
  decodeSeries,
  Encoding,
  encodeBatch,
  encodeSeries,
  formatVersion,
  formatVersionV1,
  parseResolution,
} from "../../shared/codec/index";
import { RangeEncoder } from "../../shared/codec/range";
import v1Json from "./fixtures/codec-v1.json";

const v1Fixtures = v1Json as Array<{ hex: string; batch: Parameters<typeof encodeBatch>[0] }>;

const tsAbsMax = 2 ** 50 - 1;

/** Integer timestamps: a start plus deltas mixing jitter, regular steps, jumps and going back. */
const timestampsArb = (n: number) =>
  fc
    .tuple(
      fc.integer({ min: -(2 ** 45), max: 2 ** 45 }),
      fc.array(
        fc.oneof(
          fc.constant(1000),
          fc.integer({ min: 3000, max: 5000 }),
          fc.integer({ min: -10, max: 10 }),
          fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        ),
        { minLength: Math.max(0, n - 1), maxLength: Math.max(0, n - 1) },
      ),
    )
    .map(([start, deltas]) => {
      if (n === 0) return [];
      const out = [start];
      for (const d of deltas) out.push(Math.max(-tsAbsMax, Math.min(tsAbsMax, out[out.length - 1]! + d)));
      return out;
    });

/** Decimal values on a resolution grid (as a sensor reports them) with runs, noise and jumps. */
const gridValuesArb = (n: number, exponent: number) =>
  fc
    .array(
      fc.oneof(
        fc.constant(0),
        fc.integer({ min: -2, max: 2 }),
        fc.integer({ min: -200, max: 200 }),
        fc.integer({ min: -(2 ** 30), max: 2 ** 30 }),
      ),
      { minLength: n, maxLength: n },
    )
    .map((steps) => {
      let x = 0;
      const scale = 10 ** Math.abs(exponent);
      return steps.map((s) => {
        x = Math.max(-(2 ** 49), Math.min(2 ** 49, x + s));
        return exponent < 0 ? x / scale : x * scale;
      });
    });

const seriesArb = fc
  .tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: -6, max: 2 }))
  .chain(([n, exponent]) =>
    fc.record({
      timestampsMs: timestampsArb(n),
      values: gridValuesArb(n, exponent),
      resolution: fc.constant(exponent < 0 ? 1 / 10 ** -exponent : 10 ** exponent),
      t0Offset: fc.integer({ min: -100000, max: 100000 }),
    }),
  );

describe("series round trip", () => {
  it("is exact for arbitrary series of decimal values at their resolution", () => {
    fc.assert(
      fc.property(seriesArb, ({ timestampsMs, values, resolution, t0Offset }) => {
        const t0Ms = (timestampsMs[0] ?? 0) + t0Offset;
        const bytes = encodeSeries({ t0Ms, timestampsMs, values, resolution });
        const back = decodeSeries(bytes);
        expect(back.t0Ms).toBe(t0Ms);
        expect(back.timestampsMs).toEqual(timestampsMs);
        expect(back.values).toEqual(values);
        expect(back.resolution).toBe(resolution);
      }),
      { numRuns: 60 },
    );
  });

  it("rounds arbitrary doubles to the declared resolution and no further", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.constantFrom(0.001, 0.01, 0.1, 0.5, 1, 0.25, 10),
        (values, resolution) => {
          const timestampsMs = values.map((_, i) => 1_700_000_000_000 + i * 997);
          const back = decodeSeries(encodeSeries({ timestampsMs, values, resolution }));
          const expected = values.map((v) => atResolution(v, resolution));
          expect(back.values).toEqual(expected);
          for (let i = 0; i < values.length; i++) expect(Math.abs(back.values[i]! - values[i]!)).toBeLessThanOrEqual(resolution / 2 + 1e-9 * Math.abs(values[i]!));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("handles empty and single-point series", () => {
    const empty = encodeSeries({ t0Ms: 5, timestampsMs: [], values: [], resolution: 0.01 });
    expect(decodeSeries(empty)).toEqual({ t0Ms: 5, timestampsMs: [], values: [], resolution: 0.01 });
    const one = encodeSeries({ timestampsMs: [1458031648545], values: [-20.48], resolution: 0.01 });
    expect(decodeSeries(one)).toEqual({ t0Ms: 1458031648545, timestampsMs: [1458031648545], values: [-20.48], resolution: 0.01 });
  });

  it("codes a constant, regular series in a few bytes", () => {
    const timestampsMs = Array.from({ length: 4096 }, (_, i) => 1_700_000_000_000 + i * 60_000);
    const values = timestampsMs.map(() => 21.5);
    const bytes = encodeSeries({ timestampsMs, values, resolution: 0.01 });
    expect(bytes.length).toBeLessThan(4096 / 128 * 4 + 32);
    expect(decodeSeries(bytes).values).toEqual(values);
  });
});

describe("batch", () => {
  it("round-trips several channels sharing one timestamp column", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }).chain((n) => fc.tuple(timestampsArb(n), gridValuesArb(n, -2), gridValuesArb(n, -3))), ([ts, a, b]) => {
        const batch = { t0Ms: 0, timestampsMs: ts, channels: [{ values: a, resolution: 0.01 }, { values: b, resolution: 0.001 }] };
        expect(decodeBatch(encodeBatch(batch))).toEqual(batch);
      }),
      { numRuns: 60 },
    );
  });

  it("starts with the format version; the range-coded point count follows", () => {
    const bytes = encodeBatch({ t0Ms: 0, timestampsMs: [1, 2, 3], channels: [] });
    expect(bytes[0]).toBe(formatVersion);
    expect(decodeBatch(bytes).timestampsMs).toEqual([1, 2, 3]);
  });

  it("still decodes version 1 batches, as devices with older firmware send them", () => {
    // Bytes written by the version-1 encoder (git 71d242d), with the batches they encode.
    for (const { hex, batch } of v1Fixtures) {
      const bytes = Uint8Array.from(Buffer.from(hex, "hex"));
      expect(bytes[0]).toBe(formatVersionV1);
      expect(bytes[1]).toBe(Encoding.Adaptive);
      expect(decodeBatch(bytes)).toEqual(batch);
      // The same batch in version 2 is never larger.
      expect(encodeBatch(batch).length).toBeLessThanOrEqual(bytes.length);
    }
  });

  it("packs uncommon resolutions, offsets of the first timestamp and many channels", () => {
    const channels = Array.from({ length: 40 }, (_, c) => ({ values: [(c * 7) / 1000, (c * 14) / 1000], resolution: 0.007 }));
    const batch = { t0Ms: -1_000, timestampsMs: [-2_000, 3_000], channels };
    expect(decodeBatch(encodeBatch(batch, { channelsMax: 40 }), { channelsMax: 40 })).toEqual(batch);
  });
});

function reasonOf(f: () => unknown): CodecErrorReason | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof CodecError) return e.reason;
    throw e;
  }
  return undefined;
}

describe("limits and input validation", () => {
  const ts = Array.from({ length: 100 }, (_, i) => i * 1000);
  const values = ts.map((_, i) => i / 100);

  it("rejects a declared point count above pointsMax before decoding", () => {
    const bytes = encodeSeries({ timestampsMs: ts, values, resolution: 0.01 });
    expect(reasonOf(() => decodeSeries(bytes, { pointsMax: 99 }))).toBe(CodecErrorReason.LimitExceeded);
    expect(decodeSeries(bytes, { pointsMax: 100 }).values).toEqual(values);
    // A few bytes declaring 2^50 points are rejected before anything is allocated.
    const count = new RangeEncoder(null);
    count.uvar(2 ** 50);
    count.finish();
    const huge = new Uint8Array(1 + count.length);
    huge[0] = formatVersion;
    const w = new RangeEncoder(huge, 1);
    w.uvar(2 ** 50);
    w.finish();
    expect(huge.length).toBeLessThan(16);
    expect(reasonOf(() => decodeBatch(huge))).toBe(CodecErrorReason.LimitExceeded);
  });

  it("rejects encoding more than pointsMax points or channelsMax channels", () => {
    expect(reasonOf(() => encodeSeries({ timestampsMs: ts, values, resolution: 0.01 }, { pointsMax: 10 }))).toBe(CodecErrorReason.LimitExceeded);
    const channels = Array.from({ length: 3 }, () => ({ values, resolution: 1 }));
    expect(reasonOf(() => encodeBatch({ t0Ms: 0, timestampsMs: ts, channels }, { channelsMax: 2 }))).toBe(CodecErrorReason.LimitExceeded);
    const bytes = encodeBatch({ t0Ms: 0, timestampsMs: ts, channels });
    expect(reasonOf(() => decodeBatch(bytes, { channelsMax: 2 }))).toBe(CodecErrorReason.LimitExceeded);
  });

  it("rejects values and timestamps it cannot carry", () => {
    const enc = (timestampsMs: number[], vs: number[], resolution = 0.01) => () => encodeSeries({ timestampsMs, values: vs, resolution });
    expect(reasonOf(enc([0, 1], [1, NaN]))).toBe(CodecErrorReason.InvalidInput);
    expect(reasonOf(enc([0, 1], [1, Infinity]))).toBe(CodecErrorReason.InvalidInput);
    expect(reasonOf(enc([0, 1.5], [1, 2]))).toBe(CodecErrorReason.InvalidInput);
    expect(reasonOf(enc([0, 2 ** 50], [1, 2]))).toBe(CodecErrorReason.InvalidInput);
    expect(reasonOf(enc([0, 1], [1, 2], 0))).toBe(CodecErrorReason.InvalidInput);
    expect(reasonOf(enc([0, 1], [1, 2], Math.PI))).toBe(CodecErrorReason.InvalidInput);
    expect(reasonOf(enc([0, 1], [1, 1e20]))).toBe(CodecErrorReason.ValueOutOfRange);
    expect(reasonOf(enc([0, 1], [1]))).toBe(CodecErrorReason.InvalidInput);
  });

  it("names bad version, encoding, truncation and trailing bytes", () => {
    const bytes = encodeSeries({ timestampsMs: ts, values, resolution: 0.01 });
    expect(reasonOf(() => decodeSeries(Uint8Array.of(9, ...bytes.subarray(1))))).toBe(CodecErrorReason.BadVersion);
    expect(reasonOf(() => decodeSeries(Uint8Array.of(formatVersionV1, 77, ...bytes.subarray(1))))).toBe(CodecErrorReason.BadEncoding);
    expect(reasonOf(() => decodeSeries(bytes.subarray(0, bytes.length - 1)))).toBe(CodecErrorReason.Truncated);
    expect(reasonOf(() => decodeSeries(Uint8Array.of(...bytes, 0)))).toBe(CodecErrorReason.TrailingBytes);
    expect(reasonOf(() => decodeSeries(new Uint8Array(0)))).toBe(CodecErrorReason.Truncated);
  });

  it("parses decimal resolutions exactly", () => {
    expect(parseResolution(0.01)).toEqual({ mantissa: 1, exponent: -2 });
    expect(parseResolution(0.001)).toEqual({ mantissa: 1, exponent: -3 });
    expect(parseResolution(0.25)).toEqual({ mantissa: 25, exponent: -2 });
    expect(parseResolution(10)).toEqual({ mantissa: 1, exponent: 1 });
  });
});
