// Edge jobs on a processing node under seeded faults (firmware/sim/edge-jobs-scenario.ts):
// an aggregate job sends each child's windows instead of raw points, each window
// once (resends carry the same bytes), counting every point the child made up to
// the last closed window; a rules job acts locally (a set command to the actuator
// child through the node) while the cloud is unreachable.
// Seed 1 is also the regression of Delivery.pump stranding outbox messages as
// inflight when a publish ended the connection mid-pump (a child stopped
// sending telemetry for good after a link break).
import { describe, expect, it } from "vitest";
import { runEdgeJobsScenario, type EdgeJobsScenarioInput } from "../../firmware/sim/edge-jobs-scenario";

const base: EdgeJobsScenarioInput = { seed: 1, children: 4, phaseMs: 20_000, windowMs: 10_000, linkLossRate: 0.02, linkDelayMs: 5, threshold: 22 };

describe("edge jobs in the simulator", () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: windows once each, no raw points, fewer bytes; the rule acts locally while the cloud is away and its alerts are counted upstream`, () => {
      const r = runEdgeJobsScenario({ ...base, seed });
      for (const c of r.children) {
        expect(c.rawPoints).toBe(0);
        expect(c.duplicateWindows).toBe(0);
        // c.conflicts may be > 0: a resend of a seq whose receipt reached the node but not the child carries an
        // empty batch (the cloud deduplicates it; the windows went with the first). The window checks below show none lost or doubled.
        const temps = Object.entries(c.windows).filter(([k]) => k.startsWith("temperature@")).map(([k, n]) => [Number(k.slice(12)), n] as const).sort((a, b) => a[0] - b[0]);
        expect(temps.length).toBeGreaterThan(3);
        // Contiguous windows: none lost between the first and the last.
        for (let i = 1; i < temps.length; i++) expect(temps[i]![0] - temps[i - 1]![0]).toBe(base.windowMs);
        // Every point made is in a window, except those after the last closed one (at most two windows' worth at 4 points/s simulated).
        const counted = temps.reduce((s, [, n]) => s + n, 0);
        expect(counted).toBeLessThanOrEqual(c.points);
        expect(c.points - counted).toBeLessThanOrEqual(2 * (base.windowMs / 1000) * 4 * 4);
        expect(Object.keys(c.windows).filter((k) => k.startsWith("humidity@")).length).toBe(temps.length);
      }
      expect(r.work.sentPayloadBytes * 3).toBeLessThan(r.work.rawPayloadBytes);
      expect(r.work.alertsRaised).toBeGreaterThan(0);
      expect(r.gateway.localCommandsSent).toBeGreaterThan(0);
      expect(r.actuator.value).toBe(1);
      expect(r.actuator.commandsExecuted).toBeGreaterThan(0);
      // Raised alerts go upstream as the node's G-counter "alerts-rules-1" (persisted, so it never goes back).
      expect(r.alertsReported).toBeGreaterThan(0);
      expect(r.alertsReported).toBeLessThanOrEqual(r.work.alertsRaised);
      expect(r.gateway.badFrames).toBe(0);
    }, 60_000);
  }
});
