// Batcher: N points or T ms, refusal (counted by the caller) of readings that
// go back in time or are not finite; exact round trip through the codec.
import { describe, expect, it } from "vitest";
import { Batcher, batchPointsLimit } from "../../firmware/device/batcher";
import { roomClimateChannels } from "../../firmware/sim/replay-source";
import { decodeBatch } from "../../shared/codec/batch";

const v = (...xs: number[]) => Float64Array.from(xs);

describe("Batcher", () => {
  it("fills to pointsMax and flushes an exact, decodable batch", () => {
    const b = new Batcher(roomClimateChannels, 3);
    expect(b.add(1_000, v(20.48, 42.332, 185.71, 492.2), 0)).toBe(true);
    expect(b.add(1_100, v(20.5, 42.33, 185.72, 492.3), 10)).toBe(true);
    expect(b.full()).toBe(false);
    expect(b.add(1_100, v(20.51, 42.331, 185.7, 492.1), 20)).toBe(true);
    expect(b.full()).toBe(true);
    const out = b.flush()!;
    expect(out).toMatchObject({ pointCount: 3, firstTimeMs: 1_000, lastTimeMs: 1_100 });
    const d = decodeBatch(out.payload);
    expect(d.timestampsMs).toEqual([1_000, 1_100, 1_100]);
    expect(d.channels[0]!.values.map((x) => Math.round(x * 100))).toEqual([2048, 2050, 2051]);
    expect(d.channels[1]!.values.map((x) => Math.round(x * 1000))).toEqual([42332, 42330, 42331]);
    expect(b.count).toBe(0);
    expect(b.flush()).toBeUndefined();
  });

  it("refuses readings older than the last one and non-finite values", () => {
    const b = new Batcher(roomClimateChannels, 10);
    b.add(2_000, v(1, 1, 1, 1), 0);
    expect(b.add(1_999, v(1, 1, 1, 1), 0)).toBe(false);
    expect(b.add(2_001, v(1, NaN, 1, 1), 0)).toBe(false);
    expect(b.add(2_001, v(1, 1, Infinity, 1), 0)).toBe(false);
    expect(b.count).toBe(1);
  });

  it("is old when its first point is maxAge old (by uptime)", () => {
    const b = new Batcher(roomClimateChannels, 10);
    expect(b.old(1_000_000, 10)).toBe(false);
    b.add(5, v(1, 1, 1, 1), 100);
    expect(b.old(109, 10)).toBe(false);
    expect(b.old(110, 10)).toBe(true);
  });

  it("validates its limits", () => {
    expect(() => new Batcher([], 10)).toThrow(/channels/);
    expect(() => new Batcher(roomClimateChannels, 0)).toThrow(/batch points/);
    expect(() => new Batcher(roomClimateChannels, batchPointsLimit + 1)).toThrow(/batch points/);
  });
});
