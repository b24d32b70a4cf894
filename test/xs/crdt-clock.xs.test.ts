import { describe, expect, it } from "vitest";
import { runManyOnXs } from "../harness/xs";
import run, { type CrdtClockInput } from "./entries/crdt-clock";

// The same entry on the real XS engine and on Node must agree byte for byte:
// encodings (hex), digests and merge results (the shadow's dotted version
// vectors have their own parity test, dvv.xs.test.ts).
describe("CRDT counters on XS", () => {
  it("give the same results on XS as on Node", async () => {
    const inputs: CrdtClockInput[] = [
      { seed: 1, rounds: 50 },
      { seed: 0xc0ffee, rounds: 400 },
    ];
    const runs = await runManyOnXs<ReturnType<typeof run>>("test/xs/entries/crdt-clock.ts", inputs);
    for (let i = 0; i < inputs.length; i++) {
      const onNode = JSON.parse(JSON.stringify(run(inputs[i]!)));
      expect(runs[i]!.result).toEqual(onNode);
    }
    // Sanity: the workload really exercised the interesting paths.
    const r = runs[1]!.result;
    expect(r.overflow).toBe("overflow");
    expect(Object.keys(r.decodeTally).some((k) => k.startsWith("unexpected"))).toBe(false);
    expect(r.gcounter.value).toBeGreaterThan(2 ** 32);
  });
});
