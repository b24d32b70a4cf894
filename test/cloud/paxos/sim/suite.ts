// Shared runner of the CASPaxos simulation test files. Replay one seed with
//   PAXOS_SEED=123 npx vitest run test/cloud/paxos/sim
// (or `npx tsx scripts/paxos-soak.ts --seed 123`); change the seed count with
// PAXOS_SIM_SEEDS. Failing seeds are printed with their replay command; pin
// them in regressions.test.ts.

import { expect, it } from "vitest";
import { configForSeed, runPaxosSeed } from "../../../../cloud/paxos/sim";

export function paxosSimulationSuite(acceptors: 3 | 5, firstSeed: number, defaultCount: number): void {
  const only = process.env.PAXOS_SEED;
  const count = Number(process.env.PAXOS_SIM_SEEDS ?? defaultCount);
  const seeds = only !== undefined ? [Number(only)] : Array.from({ length: count }, (_, i) => firstSeed + i);
  it(`${acceptors} acceptors, ${seeds.length} seed(s) from ${seeds[0]}: invariants every step, liveness after faults, linearizable history`, () => {
    const failures: string[] = [];
    const t0 = Date.now();
    const totals: Record<string, number> = {};
    for (const seed of seeds) {
      const r = runPaxosSeed(seed, acceptors);
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
      if (r.ok) continue;
      const msg = `PAXOS SIM FAILURE acceptors=${acceptors} seed=${seed} (replay: PAXOS_SEED=${seed} npx vitest run test/cloud/paxos/sim, ` +
        `or npx tsx scripts/paxos-soak.ts --acceptors ${acceptors} --seed ${seed})\nconfig ${JSON.stringify(configForSeed(seed, acceptors))}\n${r.error}`;
      console.error(msg);
      failures.push(msg.split("\n").slice(0, 14).join("\n"));
      if (failures.length >= 3) break;
    }
    console.log(`paxos sim: ${acceptors} acceptors, ${seeds.length} seeds in ${Date.now() - t0} ms, ${failures.length} failed; ` +
      `ops ${totals.ops}, unknown ${totals.opsUnknown}, acceptor crashes ${totals.crashes} (torn tails recovered ${totals.tornRecoveries}), ` +
      `partitions ${totals.partitions}, client restarts ${totals.clientRestarts}, one-round-trip ops ${totals.oneRoundTrips}, ` +
      `invariant checks ${totals.invariantChecks}, lincheck budget exhausted ${totals.lincheckUnknown ?? 0}`);
    expect(failures).toEqual([]);
    expect(totals.ops).toBeGreaterThan(seeds.length * 5);
    if (seeds.length >= 100) {
      // The faults actually happened (a quiet simulator proves nothing).
      expect(totals.crashes).toBeGreaterThan(seeds.length);
      expect(totals.tornRecoveries).toBeGreaterThan(seeds.length / 4);
      expect(totals.oneRoundTrips).toBeGreaterThan(seeds.length);
      expect(totals.opsUnknown).toBeGreaterThan(0);
    }
  }, 300_000);
}
