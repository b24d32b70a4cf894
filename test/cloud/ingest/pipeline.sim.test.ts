// The per-device pipeline under seeded simulation with faults
// (cloud/ingest/sim): crashes at every point of the order of effects, lost
// requests and replies, redelivery, retransmits, reordering. Replay one seed
// with SEED=123 npx vitest run test/cloud/ingest/pipeline.sim.test.ts;
// change the number of seeds with SIM_SEEDS.
import { describe, expect, it } from "vitest";
import { checkIngestRun, ingestSimConfig, runIngestSeed } from "../../../cloud/ingest/sim";
import { emptyWindow, recordSeq } from "../../../cloud/ingest/seq-window";
import { IngestSource } from "../../../cloud/ingest/types";
import { emptyDeviceState } from "../../../cloud/state";

const only = process.env.SEED;
const count = Number(process.env.SIM_SEEDS ?? 300);
const seeds = only !== undefined ? [Number(only)] : Array.from({ length: count }, (_, i) => i + 1);

describe("ingest pipeline simulation", () => {
  it(`${seeds.length} seed(s): every (device, seq) applied once, output once, never both output and dead-lettered`, async () => {
    const failures: string[] = [];
    const totals: Record<string, number> = {};
    const t0 = Date.now();
    for (const seed of seeds) {
      const r = await runIngestSeed(seed);
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
      if (r.ok) continue;
      const msg = `INGEST SIM FAILURE seed=${seed} (replay: SEED=${seed} npx vitest run test/cloud/ingest/pipeline.sim.test.ts)\n` +
        `config ${JSON.stringify(ingestSimConfig(seed))}\n  ${r.problems.slice(0, 10).join("\n  ")}`;
      console.error(msg);
      failures.push(msg);
      if (failures.length >= 3) break;
    }
    console.log(`ingest sim: ${seeds.length} seeds in ${Date.now() - t0} ms, ${failures.length} failed; totals ${JSON.stringify(totals)}`);
    // The faults must actually have happened, or the run proves little.
    if (seeds.length >= 50) {
      for (const k of ["crashes", "retransmits", "naks", "casConflicts", "republishesDropped", "deadLetters"]) expect(totals[k], k).toBeGreaterThan(0);
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it("its checker reports double application, lost or duplicate outputs, and output dead letters", () => {
    // A correct end state for one device (seqs 1-3 valid with 2 points each, 4 corrupt), then broken one way at a time.
    const state = emptyDeviceState("d");
    const w = emptyWindow(64);
    for (const s of [1, 2, 3]) recordSeq(w, s);
    state.dedup[IngestSource.Telemetry] = { hwm: w.hwm, bits: Buffer.from(w.bits).toString("base64") };
    state.telemetry = { batches: 3, points: 6, lastSeq: 3 };
    const rec = (seq: number | null) => ({ deviceId: "d", seq });
    const base = {
      devices: [{ deviceId: "d", valid: new Map([[1, 2], [2, 2], [3, 2]]), corrupt: new Set([4]) }],
      stored: () => state,
      outputs: {
        out: new Map([["d:1", rec(1)], ["d:2", rec(2)], ["d:3", rec(3)]]),
        history: new Map([["d:1:~batch", rec(1)], ["d:2:~batch", rec(2)], ["d:3:~batch", rec(3)]]),
        deadLetters: new Map([["XSF_UP:9", rec(4)]]),
      },
      historyRecordsPerSeq: 1,
    };
    expect(checkIngestRun(base)).toEqual([]);
    const twice = { ...state, telemetry: { batches: 4, points: 8, lastSeq: 3 } };
    expect(checkIngestRun({ ...base, stored: () => twice }).join("\n")).toMatch(/applied more or less than once/);
    expect(checkIngestRun({ ...base, outputs: { ...base.outputs, out: new Map([["d:1", rec(1)], ["d:2", rec(2)], ["d:3x", rec(3)], ["d:3", rec(3)]]) } }).join("\n")).toMatch(/out message twice/);
    expect(checkIngestRun({ ...base, outputs: { ...base.outputs, history: new Map([["d:1:~batch", rec(1)], ["d:2:~batch", rec(2)]]) } }).join("\n")).toMatch(/seq 3 has 0 history records/);
    expect(checkIngestRun({ ...base, outputs: { ...base.outputs, deadLetters: new Map([["XSF_UP:9", rec(4)], ["XSF_UP:10", rec(2)]]) } }).join("\n")).toMatch(/seq 2 both dead-lettered and output/);
    expect(checkIngestRun({ ...base, outputs: { ...base.outputs, deadLetters: new Map() } }).join("\n")).toMatch(/corrupt seq 4 was not dead-lettered/);
  });
});
