// Shared runner for the simulation test files. Replay one seed with
//   SEED=123 npx vitest run test/cloud/raft/sim
// (or `npx tsx scripts/raft-soak.ts --seed 123`); change the seed count with SIM_SEEDS.

import { expect, it } from "vitest";
import { configForSeed, runSeed } from "../../../../cloud/raft/sim";

export function simulationSuite(nodes: 3 | 5, firstSeed: number, defaultCount: number): void {
  const only = process.env.SEED;
  const count = Number(process.env.SIM_SEEDS ?? defaultCount);
  const seeds = only !== undefined ? [Number(only)] : Array.from({ length: count }, (_, i) => firstSeed + i);
  it(`${nodes} nodes, ${seeds.length} seed(s) from ${seeds[0]}: safety invariants, liveness after faults, linearizable history`, () => {
    const failures: string[] = [];
    const t0 = Date.now();
    let unknown = 0;
    for (const seed of seeds) {
      const r = runSeed(seed, nodes);
      if (r.stats.lincheckUnknown) unknown++;
      if (r.ok) continue;
      const msg = `SIM FAILURE nodes=${nodes} seed=${seed} (replay: SEED=${seed} npx vitest run test/cloud/raft/sim, or npx tsx scripts/raft-soak.ts --nodes ${nodes} --seed ${seed})\nconfig ${JSON.stringify(configForSeed(seed, nodes))}\n${r.error}`;
      console.error(msg);
      failures.push(msg.split("\n").slice(0, 12).join("\n"));
      if (failures.length >= 3) break;
    }
    console.log(`raft sim: ${nodes} nodes, ${seeds.length} seeds in ${Date.now() - t0} ms, ${failures.length} failed, ${unknown} lincheck budget exhausted`);
    expect(failures).toEqual([]);
  }, 600_000);
}
