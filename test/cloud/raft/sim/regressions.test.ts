// Seeds that once failed, pinned forever. Each line says what it found.
// (The simulator evolves, so a seed no longer replays the exact original
// schedule; it still runs the same configuration and is cheap to keep.)

import { describe, expect, it } from "vitest";
import { runSeed } from "../../../../cloud/raft/sim";

const PINNED: { nodes: 3 | 5; seed: number; found: string }[] = [
  { nodes: 3, seed: 161, found: "client stuck retrying a dead node via a stale leader hint (sim client bug)" },
  { nodes: 3, seed: 285, found: "operator decommissioned a node whose AddNode was still in flight (sim bug)" },
  { nodes: 3, seed: 39, found: "crash-on-next-write fault left armed into the quiet phase (sim bug)" },
  { nodes: 3, seed: 50, found: "crash-on-next-write fault left armed into the quiet phase (sim bug)" },
  { nodes: 3, seed: 73, found: "crash-on-next-write fault left armed into the quiet phase (sim bug)" },
  { nodes: 5, seed: 54, found: "timed-out ops piled up and blew the linearizability search budget (client retry policy)" },
  { nodes: 5, seed: 11725, found: "decommissioned servers by a stale leader's config view; a pending AddNode later committed (sim bug)" },
  { nodes: 3, seed: 11775, found: "decommissioned servers by a stale leader's config view; a pending AddNode later committed (sim bug)" },
  { nodes: 3, seed: 12475, found: "decommissioned servers by a stale leader's config view; a pending AddNode later committed (sim bug)" },
];

describe("raft simulation regressions", () => {
  for (const p of PINNED) {
    it(`nodes=${p.nodes} seed=${p.seed}: ${p.found}`, () => {
      const r = runSeed(p.seed, p.nodes);
      expect(r.error).toBeUndefined();
      expect(r.stats.lincheckUnknown ?? 0).toBe(0);
    });
  }
});
