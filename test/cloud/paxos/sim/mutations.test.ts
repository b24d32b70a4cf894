// The mutation check: each planted bug (cloud/paxos/sim/mutations.ts) must
// be caught by the simulator within a few hundred seeds, by an invariant or
// by the linearizability checker. What catches which is printed.

import { describe, expect, it } from "vitest";
import { MUTATIONS, runPaxosSeed } from "../../../../cloud/paxos/sim";

const SEEDS_MAX = 300;

describe("CASPaxos simulator catches planted bugs", () => {
  for (const mutation of MUTATIONS) {
    it(mutation, () => {
      let caught: { seed: number; error: string } | undefined;
      for (let seed = 1; seed <= SEEDS_MAX && !caught; seed++) {
        const r = runPaxosSeed(seed, 3, mutation);
        if (!r.ok) caught = { seed, error: r.error!.split("\n")[0]! };
      }
      console.log(`mutation ${mutation}: ${caught ? `caught at seed ${caught.seed}: ${caught.error}` : `NOT caught in ${SEEDS_MAX} seeds`}`);
      expect(caught).toBeDefined();
    }, 120_000);
  }
});
