import { describe, expect, it } from "vitest";
import { runManyOnXs } from "../harness/xs";
import run, { type CrdtClockInput } from "./entries/crdt-clock";

// The same entry on the real XS engine and on Node must agree byte for byte:
// encodings (hex), digests, merge results, clock comparisons and HLC values.
describe("CRDT counters and clocks on XS", () => {
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
    expect(r.hlc.monotonic).toBe(true);
    expect(r.hlc.errors).toBeGreaterThan(0);
    expect(r.overflow).toBe("overflow");
    expect(r.versioned.outcomes).toEqual(["stored", "stored", "stored", "dominated", "duplicate"]);
    expect(r.versioned.siblingValues).toEqual(["blink", "off"]);
    expect(r.versioned.resolvedCount).toBe(1);
    expect(Object.keys(r.decodeTally).some((k) => k.startsWith("unexpected"))).toBe(false);
    expect(r.gcounter.value).toBeGreaterThan(2 ** 32);
  });
});
