// One conformance suite for the FailureDetector seam (Hono's
// common.case.test.ts pattern): every detector implementation runs it.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HeartbeatOutcome, type FailureDetector } from "../../../cloud/health/types";

export interface DetectorCase {
  name: string;
  /** A detector for ~1 s heartbeats that monitors at most `nodesMax` nodes. */
  create(nodesMax: number): FailureDetector;
  /** Elapsed time after steady 1 s heartbeats by which it must suspect. */
  mustSuspectAfterMs: number;
}

export function runDetectorConformance(c: DetectorCase): void {
  describe(`FailureDetector conformance: ${c.name}`, () => {
    it("treats a node with no heartbeat as available and unmonitored", () => {
      const fd = c.create(4);
      expect(fd.isMonitoring("x")).toBe(false);
      expect(fd.isAvailable("x", 1_000_000)).toBe(true);
      expect(fd.suspicion("x", 1_000_000)).toBe(0);
      expect(fd.lastHeartbeatMs("x")).toBeUndefined();
    });

    it("keeps steady heartbeats available and suspects after they stop", () => {
      const fd = c.create(4);
      let t = 0;
      for (; t <= 60_000; t += 1000) {
        fd.heartbeat("x", t);
        expect(fd.isAvailable("x", t + 999)).toBe(true);
      }
      const last = t - 1000;
      expect(fd.isMonitoring("x")).toBe(true);
      expect(fd.lastHeartbeatMs("x")).toBe(last);
      expect(fd.isAvailable("x", last + c.mustSuspectAfterMs)).toBe(false);
      expect(fd.suspicion("x", last + c.mustSuspectAfterMs)).toBeGreaterThanOrEqual(fd.threshold);
      // A heartbeat restores availability.
      fd.heartbeat("x", last + c.mustSuspectAfterMs + 1);
      expect(fd.isAvailable("x", last + c.mustSuspectAfterMs + 2)).toBe(true);
    });

    it("monitors nodes independently", () => {
      const fd = c.create(4);
      for (let t = 0; t <= 30_000; t += 1000) {
        fd.heartbeat("a", t);
        if (t <= 10_000) fd.heartbeat("b", t);
      }
      expect(fd.isAvailable("a", 30_500)).toBe(true);
      expect(fd.isAvailable("b", 30_500)).toBe(false);
    });

    it("suspicion is non-decreasing between heartbeats", () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 30_000 }), { minLength: 2, maxLength: 10 }), (intervals, probes) => {
          const fd = c.create(1);
          let t = 0;
          fd.heartbeat("x", t);
          for (const i of intervals) fd.heartbeat("x", (t += i));
          const sorted = [...probes].sort((a, b) => a - b);
          for (let i = 1; i < sorted.length; i++) {
            expect(fd.suspicion("x", t + (sorted[i] as number))).toBeGreaterThanOrEqual(fd.suspicion("x", t + (sorted[i - 1] as number)));
          }
        }),
      );
    });

    it("bounds monitored nodes by nodesMax and counts rejections as typed outcomes", () => {
      const fd = c.create(3);
      for (const id of ["a", "b", "c"]) expect(fd.heartbeat(id, 0)).toBe(HeartbeatOutcome.Accepted);
      expect(fd.heartbeat("d", 0)).toBe(HeartbeatOutcome.RejectedNodesMax);
      expect(fd.size).toBe(3);
      expect(fd.isMonitoring("d")).toBe(false);
      expect(fd.remove("a")).toBe(true);
      expect(fd.remove("a")).toBe(false);
      expect(fd.heartbeat("d", 1)).toBe(HeartbeatOutcome.Accepted);
    });

    it("ignores heartbeats older than the latest one", () => {
      const fd = c.create(1);
      fd.heartbeat("x", 5000);
      expect(fd.heartbeat("x", 4000)).toBe(HeartbeatOutcome.RejectedStale);
      expect(fd.lastHeartbeatMs("x")).toBe(5000);
    });
  });
}
