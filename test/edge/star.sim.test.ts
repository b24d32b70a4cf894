// The star under seeded faults (firmware/sim/star-scenario.ts): a gateway
// with 8 children over lossy, delayed links, a partition, an upstream cut
// and a killed child. Every child's batches reach the cloud exactly once
// with via = the gateway, and the killed child shows offline via it.
import { describe, expect, it } from "vitest";
import { Presence } from "../../shared/proto/xsfleet.gen";
import { runStarScenario } from "../../firmware/sim/star-scenario";

const seeds = [1, 2, 3];

describe("star: gateway with 8 children under loss, delay and partition", () => {
  for (const seed of seeds) {
    it(`seed ${seed}: every child batch recorded once upstream, with via; the killed child goes offline via the gateway`, () => {
      const r = runStarScenario({ seed, children: 8, phaseMs: 20_000, linkLossRate: 0.02, linkDelayMs: 3, linkJitterMs: 15 });
      expect(r.network.streamsBroken, `seed ${seed}: links must actually break`).toBeGreaterThan(0);
      expect(r.gateway.badFrames).toBe(0);
      expect(r.gateway.willsPublished).toBeGreaterThanOrEqual(1);
      for (const c of r.children) {
        const msg = `seed ${seed} ${c.deviceId}`;
        expect(c.withoutVia, msg).toBe(0);
        expect(c.conflicts, msg).toBe(0);
        expect(c.batchSeqs.length, msg).toBeGreaterThan(5);
        // Batch seqs run without a gap: nothing the child produced went missing.
        const first = c.batchSeqs[0]!;
        expect(c.batchSeqs, msg).toEqual(c.batchSeqs.map((_, i) => first + i));
        if (c.deviceId === r.killed) continue; // its unsent batches died with it
        expect(c.stats.dropped, msg).toBe(0);
        expect(c.stats.outboxDepth, msg).toBe(0);
        expect(c.batchSeqs.length, msg).toBe(c.stats.batches);
      }
      expect(r.killedStatus).toEqual({ presence: Presence.PRESENCE_OFFLINE, via: "gw-1", reason: "connection lost" });
    });
  }
});
