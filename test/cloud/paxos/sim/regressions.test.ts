// Seeds that once failed, pinned forever, each with what it found. (The
// simulator evolves, so a seed no longer replays the exact original
// schedule; it still runs the same configuration and is cheap to keep.)

import { describe, expect, it } from "vitest";
import { runPaxosSeed } from "../../../../cloud/paxos/sim";

const PINNED: { acceptors: 3 | 5; seed: number; found: string }[] = [
  { acceptors: 5, seed: 259, found: "the checker counted an accept lost in a crash before its fsync toward a quorum (checker bug: count Accepted replies)" },
  { acceptors: 5, seed: 875, found: "the checker counted an accept lost in a crash before its fsync toward a quorum (checker bug: count Accepted replies)" },
];

describe("CASPaxos simulation regressions", () => {
  it("has no failing pinned seed", () => {
    for (const p of PINNED) {
      const r = runPaxosSeed(p.seed, p.acceptors);
      expect(r.error, `acceptors=${p.acceptors} seed=${p.seed}: ${p.found}`).toBeUndefined();
    }
  });
});
