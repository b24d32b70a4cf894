// A child configured with two gateways fails over to the second when the
// first is killed (firmware/sim/failover-scenario.ts, seeded faults on the
// links): every child ends on gw-b, its batches recorded upstream once each
// with no gap (its own outbox resends what gw-a took down with it; the
// cloud's per-child (epoch, seq) rules drop repeats), nothing dropped.
import { describe, expect, it } from "vitest";
import { runFailoverScenario } from "../../firmware/sim/failover-scenario";

describe("star failover: children with two gateways, the first killed", () => {
  for (const seed of [1, 2]) {
    it(`seed ${seed}: every child moves to gw-b; each batch recorded once, no gap, none dropped`, () => {
      const r = runFailoverScenario({ seed, children: 6, phaseMs: 15_000, linkLossRate: 0.01, linkDelayMs: 3, linkJitterMs: 10 });
      expect(r.killedWill, "gw-a's will went out").toBe(true);
      expect(r.gatewayA.admitted).toBeGreaterThanOrEqual(6);
      expect(r.gatewayB.admitted).toBeGreaterThanOrEqual(6);
      expect(r.gatewayA.badFrames + r.gatewayB.badFrames).toBe(0);
      expect(r.children.filter((c) => c.routes.includes("gw-a")).length, "children on gw-a before the kill").toBeGreaterThan(0);
      for (const c of r.children) {
        const msg = `seed ${seed} ${c.deviceId}`;
        // A lost link makes a child try the other gateway too, so routes may alternate before the kill; after it, gw-b only.
        expect(c.routesAfterKill, msg).toEqual(["gw-b"]);
        expect(c.lastVia, msg).toBe("gw-b");
        expect(c.appliedTwice, msg).toBe(0);
        const first = c.batchSeqs[0]!;
        expect(c.batchSeqs, msg).toEqual(c.batchSeqs.map((_, i) => first + i));
        expect(c.batchSeqs.length, msg).toBe(c.stats.batches);
        expect(c.stats.dropped, msg).toBe(0);
        expect(c.stats.outboxDepth, msg).toBe(0);
      }
    });
  }
});
