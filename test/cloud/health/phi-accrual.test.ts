// Phi-accrual against Akka's AccrualFailureDetectorSpec (akka-remote): the
// same inputs and expectations, with Akka's fake clock replaced by explicit
// times. Plus hand-computed values and properties.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HeartbeatHistory, PhiAccrualDetector, phiOf } from "../../../cloud/health/phi-accrual";
import { DetectorKind, HeartbeatOutcome, type PhiAccrualConfig } from "../../../cloud/health/types";

const NODE = "node-a";

/** Akka's createFailureDetector defaults in the spec. */
function detector(overrides: Partial<PhiAccrualConfig> = {}): PhiAccrualDetector {
  return new PhiAccrualDetector({
    kind: DetectorKind.PhiAccrual,
    threshold: 8,
    maxSampleSize: 1000,
    minStdDeviationMs: 100,
    acceptableHeartbeatPauseMs: 0,
    firstHeartbeatEstimateMs: 1000,
    nodesMax: 16,
    ...overrides,
  });
}

/** Akka's fakeTimeGenerator: each call returns the next cumulative time. */
function fakeClock(intervals: number[]): () => number {
  const times: number[] = [];
  let t = 0;
  for (const [i, interval] of intervals.entries()) {
    t = i === 0 ? interval : t + interval;
    times.push(t);
  }
  return () => {
    const next = times.shift();
    if (next === undefined) throw new Error("fake clock exhausted");
    return next;
  };
}

const cdf = (phi: number): number => 1 - Math.pow(10, -phi);

describe("phi-accrual: Akka AccrualFailureDetectorSpec", () => {
  it("uses a good enough cumulative distribution function", () => {
    expect(cdf(phiOf(0, 0, 10))).toBeCloseTo(0.5, 3);
    expect(Math.abs(cdf(phiOf(6, 0, 10)) - 0.7257)).toBeLessThan(0.001);
    expect(Math.abs(cdf(phiOf(15, 0, 10)) - 0.9332)).toBeLessThan(0.001);
    expect(Math.abs(cdf(phiOf(20, 0, 10)) - 0.97725)).toBeLessThan(0.001);
    expect(Math.abs(cdf(phiOf(25, 0, 10)) - 0.99379)).toBeLessThan(0.001);
    expect(Math.abs(cdf(phiOf(35, 0, 10)) - 0.99977)).toBeLessThan(0.001);
    expect(Math.abs(cdf(phiOf(40, 0, 10)) - 0.99997)).toBeLessThan(0.0001);
    for (let x = 0; x < 40; x++) expect(phiOf(x, 0, 10)).toBeLessThan(phiOf(x + 1, 0, 10));
    expect(Math.abs(cdf(phiOf(22, 20, 3)) - 0.7475)).toBeLessThan(0.001);
  });

  it("handles outliers without losing precision or hitting exceptions", () => {
    expect(Math.abs(phiOf(10, 0, 1) - 38)).toBeLessThanOrEqual(1);
    expect(phiOf(-25, 0, 1)).toBe(0);
  });

  it("returns realistic phi values", () => {
    const expected: Array<[number, number]> = [[0, 0.0], [500, 0.1], [1000, 0.3], [1200, 1.6], [1400, 4.7], [1600, 10.8], [1700, 15.3]];
    for (const [timeDiff, phi] of expected) expect(Math.abs(phiOf(timeDiff, 1000, 100) - phi)).toBeLessThanOrEqual(0.1);
    // A larger standard deviation gives a lower phi.
    expect(phiOf(1100, 1000, 500)).toBeLessThan(phiOf(1100, 1000, 100));
  });

  it("returns phi 0.0 on startup for each address, when no heartbeats", () => {
    const fd = detector();
    expect(fd.phi(NODE, 0)).toBe(0);
    expect(fd.phi(NODE, 5000)).toBe(0);
    expect(fd.isMonitoring(NODE)).toBe(false);
  });

  it("returns phi based on the first-heartbeat guess when only one heartbeat", () => {
    const clock = fakeClock([0, 1000, 1000, 1000, 1000]);
    const fd = detector({ firstHeartbeatEstimateMs: 1000 });
    fd.heartbeat(NODE, clock());
    expect(Math.abs(fd.phi(NODE, clock()) - 0.3)).toBeLessThanOrEqual(0.2);
    expect(Math.abs(fd.phi(NODE, clock()) - 4.5)).toBeLessThanOrEqual(0.3);
    expect(fd.phi(NODE, clock())).toBeGreaterThan(15);
  });

  it("returns phi using the first interval after the second heartbeat", () => {
    const clock = fakeClock([0, 100, 100, 100]);
    const fd = detector();
    fd.heartbeat(NODE, clock());
    expect(fd.phi(NODE, clock())).toBeGreaterThan(0);
    fd.heartbeat(NODE, clock());
    expect(fd.phi(NODE, clock())).toBeGreaterThan(0);
  });

  it("marks a node as monitored after a series of successful heartbeats", () => {
    const clock = fakeClock([0, 1000, 100, 100]);
    const fd = detector();
    expect(fd.isMonitoring(NODE)).toBe(false);
    fd.heartbeat(NODE, clock());
    fd.heartbeat(NODE, clock());
    fd.heartbeat(NODE, clock());
    expect(fd.isMonitoring(NODE)).toBe(true);
    expect(fd.isAvailable(NODE, clock())).toBe(true);
  });

  it("marks a node as dead if heartbeats are missed", () => {
    const clock = fakeClock([0, 1000, 100, 100, 7000]);
    const fd = detector({ threshold: 3 });
    fd.heartbeat(NODE, clock()); // 0
    fd.heartbeat(NODE, clock()); // 1000
    fd.heartbeat(NODE, clock()); // 1100
    expect(fd.isAvailable(NODE, clock())).toBe(true); // 1200
    expect(fd.isAvailable(NODE, clock())).toBe(false); // 8200
  });

  it("marks a node available again when it resumes heartbeats after being marked dead", () => {
    // 1000 regular intervals, a 5-minute pause, then a 7 s pause that must trigger unavailability again.
    const intervals = [0, ...Array.from({ length: 999 }, () => 1000), 5 * 60 * 1000, 100, 900, 100, 7000, 100, 900, 100, 900];
    const clock = fakeClock(intervals);
    const fd = detector({ threshold: 8, acceptableHeartbeatPauseMs: 3000 });
    for (let i = 0; i < 1000; i++) fd.heartbeat(NODE, clock());
    expect(fd.isAvailable(NODE, clock())).toBe(false); // after the long pause
    expect(fd.heartbeat(NODE, clock())).toBe(HeartbeatOutcome.AcceptedNotSampled);
    expect(fd.isAvailable(NODE, clock())).toBe(true);
    fd.heartbeat(NODE, clock());
    expect(fd.isAvailable(NODE, clock())).toBe(false); // after the 7 s pause
    fd.heartbeat(NODE, clock());
    expect(fd.isAvailable(NODE, clock())).toBe(true);
    fd.heartbeat(NODE, clock());
    expect(fd.isAvailable(NODE, clock())).toBe(true);
  });

  it("accepts some configured missing heartbeats", () => {
    const clock = fakeClock([0, 1000, 1000, 1000, 4000, 1000, 1000]);
    const fd = detector({ acceptableHeartbeatPauseMs: 3000 });
    for (let i = 0; i < 4; i++) fd.heartbeat(NODE, clock());
    expect(fd.isAvailable(NODE, clock())).toBe(true);
    fd.heartbeat(NODE, clock());
    expect(fd.isAvailable(NODE, clock())).toBe(true);
  });

  it("fails after the configured acceptable missing heartbeats", () => {
    const clock = fakeClock([0, 1000, 1000, 1000, 1000, 1000, 500, 500, 5000]);
    const fd = detector({ acceptableHeartbeatPauseMs: 3000 });
    for (let i = 0; i < 6; i++) fd.heartbeat(NODE, clock());
    expect(fd.isAvailable(NODE, clock())).toBe(true);
    fd.heartbeat(NODE, clock());
    expect(fd.isAvailable(NODE, clock())).toBe(false);
  });

  it("uses maxSampleSize heartbeats", () => {
    const clock = fakeClock([0, 100, 100, 100, 100, 600, 500, 500, 500, 500, 500]);
    const fd = detector({ maxSampleSize: 3 });
    for (let i = 0; i < 4; i++) fd.heartbeat(NODE, clock()); // 100 ms intervals
    const phi1 = fd.phi(NODE, clock());
    // 500 ms intervals: once the 100 ms ones are dropped, phi is the same.
    for (let i = 0; i < 4; i++) fd.heartbeat(NODE, clock());
    const phi2 = fd.phi(NODE, clock());
    expect(Math.abs(phi2 - phi1)).toBeLessThan(0.001);
  });
});

describe("phi-accrual: Akka HeartbeatHistory statistics", () => {
  it("calculates the correct mean and variance", () => {
    const history = new HeartbeatHistory(20);
    for (const s of [100, 200, 125, 340, 130]) history.add(s);
    expect(history.mean).toBeCloseTo(179.0, 5);
    expect(history.variance).toBeCloseTo(7584.0, 5);
  });

  it("has 0.0 variance for one sample", () => {
    const history = new HeartbeatHistory(600);
    history.add(1000);
    expect(history.variance).toBeCloseTo(0, 5);
  });

  it("is capped by the specified maxSampleSize", () => {
    const history = new HeartbeatHistory(3);
    for (const s of [100, 110, 90]) history.add(s);
    expect(history.mean).toBeCloseTo(100, 5);
    expect(history.variance).toBeCloseTo(66.6666667, 5);
    history.add(140);
    expect(history.mean).toBeCloseTo(113.333333, 5);
    expect(history.variance).toBeCloseTo(422.222222, 5);
    history.add(80);
    expect(history.mean).toBeCloseTo(103.333333, 5);
    expect(history.variance).toBeCloseTo(688.88888889, 5);
    expect(history.count).toBe(3);
  });

  it("rejects non-integer or negative samples", () => {
    const history = new HeartbeatHistory(3);
    expect(() => history.add(-1)).toThrow(/non-negative integer/);
    expect(() => history.add(1.5)).toThrow(/non-negative integer/);
  });
});

describe("phi-accrual: hand-computed values", () => {
  it("is -log10(1/2) right at the mean and ~0 right after a heartbeat", () => {
    // y = 0: e = 1, phi = -log10(1 - 1/2) = log10(2).
    expect(phiOf(1000, 1000, 100)).toBeCloseTo(Math.log10(2), 12);
    const fd = detector();
    for (let t = 0; t <= 20_000; t += 1000) fd.heartbeat(NODE, t);
    expect(fd.phi(NODE, 20_000)).toBeLessThan(1e-6);
  });

  it("computes y = 2 by hand", () => {
    // y = 2: e = exp(-2 (1.5976 + 0.070566 * 4)) = exp(-3.759728); phi = -log10(e / (1 + e)).
    const e = Math.exp(-3.759728);
    expect(phiOf(1200, 1000, 100)).toBeCloseTo(-Math.log10(e / (1 + e)), 10);
  });

  it("bootstraps with estimate -+ estimate/4 (Akka's integer division)", () => {
    const fd = detector({ firstHeartbeatEstimateMs: 1001 });
    fd.heartbeat(NODE, 0);
    // floor(1001 / 4) = 250: samples 751 and 1251, mean 1001, stddev 250.
    expect(fd.statistics(NODE)).toEqual({ meanMs: 1001, stdDeviationMs: 250, samples: 2 });
  });

  it("adds the acceptable pause to the mean and floors the std deviation", () => {
    const fd = detector({ acceptableHeartbeatPauseMs: 3000, minStdDeviationMs: 200 });
    for (let t = 0; t <= 100_000; t += 1000) fd.heartbeat(NODE, t);
    // Window = 2 bootstrap samples (750, 1250) + 100 samples of 1000.
    const stats = fd.statistics(NODE);
    expect(stats?.meanMs).toBe(1000);
    expect(stats?.stdDeviationMs).toBe(200); // real stddev ~35 < 200
    expect(fd.phi(NODE, 100_000 + 4000)).toBeCloseTo(phiOf(4000, 4000, 200), 12);
    expect(fd.isAvailable(NODE, 100_000 + 4500)).toBe(true);
  });
});

describe("phi-accrual: properties", () => {
  it("phi is non-decreasing in elapsed time for any heartbeat history", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 50 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        (intervals, a, b) => {
          const fd = detector({ acceptableHeartbeatPauseMs: 500 });
          let t = 0;
          fd.heartbeat(NODE, t);
          for (const i of intervals) fd.heartbeat(NODE, (t += i));
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          expect(fd.phi(NODE, t + lo)).toBeLessThanOrEqual(fd.phi(NODE, t + hi));
        },
      ),
    );
  });

  it("a larger acceptable pause never raises phi", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 5000 }), (elapsed, pause) => {
        expect(phiOf(elapsed, 1000 + pause, 100)).toBeLessThanOrEqual(phiOf(elapsed, 1000, 100));
      }),
    );
  });

  it("the window never holds more than maxSampleSize samples", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 100 }), (max, samples) => {
        const history = new HeartbeatHistory(max);
        for (const s of samples) history.add(s);
        expect(history.count).toBe(Math.min(max, samples.length));
        if (samples.length > 0) {
          const window = samples.slice(-max);
          const mean = window.reduce((a, b) => a + b, 0) / window.length;
          expect(history.mean).toBeCloseTo(mean, 6);
        }
      }),
    );
  });
});

describe("phi-accrual: limits and bad input", () => {
  it("rejects invalid configuration with a clear message", () => {
    expect(() => detector({ threshold: 0 })).toThrow(/threshold must be > 0/);
    expect(() => detector({ maxSampleSize: 0 })).toThrow(/maxSampleSize/);
    expect(() => detector({ minStdDeviationMs: 0 })).toThrow(/minStdDeviationMs/);
    expect(() => detector({ acceptableHeartbeatPauseMs: -1 })).toThrow(/acceptableHeartbeatPauseMs/);
    expect(() => detector({ firstHeartbeatEstimateMs: 0 })).toThrow(/firstHeartbeatEstimateMs/);
    expect(() => detector({ nodesMax: 0 })).toThrow(/nodesMax/);
  });

  it("bounds the number of nodes and rejects stale heartbeats", () => {
    const fd = detector({ nodesMax: 2 });
    expect(fd.heartbeat("a", 10)).toBe(HeartbeatOutcome.Accepted);
    expect(fd.heartbeat("b", 10)).toBe(HeartbeatOutcome.Accepted);
    expect(fd.heartbeat("c", 10)).toBe(HeartbeatOutcome.RejectedNodesMax);
    expect(fd.size).toBe(2);
    expect(fd.heartbeat("a", 5)).toBe(HeartbeatOutcome.RejectedStale);
    expect(fd.lastHeartbeatMs("a")).toBe(10);
    expect(fd.remove("a")).toBe(true);
    expect(fd.heartbeat("c", 11)).toBe(HeartbeatOutcome.Accepted);
  });

  it("rejects non-integer times", () => {
    const fd = detector();
    expect(() => fd.heartbeat(NODE, 1.5)).toThrow(/integer/);
    expect(() => fd.phi(NODE, -1)).toThrow(/integer/);
  });
});
