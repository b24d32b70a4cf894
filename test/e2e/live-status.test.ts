import { describe, expect, it } from "vitest";
import { RateMeter, fmtRate } from "../../cloud/cli/live-status";

describe("live status rates", () => {
  it("averages a counter's growth over the sliding window", () => {
    const m = new RateMeter(5_000);
    expect(m.rate("x", 0, 0)).toBe(0);
    expect(m.rate("x", 100, 1_000)).toBe(100);
    expect(m.rate("x", 100, 2_000)).toBe(50);
    for (let t = 3_000; t <= 10_000; t += 1_000) m.rate("x", 100, t);
    expect(m.rate("x", 600, 11_000)).toBeCloseTo(100, 5);
  });
  it("formats large rates compactly", () => {
    expect(fmtRate(1_234_567)).toBe("1.23M");
    expect(fmtRate(12_345)).toBe("12.3k");
    expect(fmtRate(42.25)).toBe("42.3");
  });
});
