import { describe, expect, it } from "vitest";
import { runManyOnXs } from "../harness/xs";
import run, { type StreamInput } from "./entries/stream";

// Gateways and processing nodes run the same rules and windows as the cloud:
// on XS and on Node the alerts and window results must be the same JSON text.
describe("stream core on XS", () => {
  it("gives byte-identical alerts and window results on XS and on Node", async () => {
    const inputs: StreamInput[] = [
      { seed: 3, points: 400 },
      { seed: 0x5eed, points: 3000 },
    ];
    const runs = await runManyOnXs<ReturnType<typeof run>>("test/xs/entries/stream.ts", inputs);
    for (let i = 0; i < inputs.length; i++) {
      const onNode = run(inputs[i]!);
      expect(runs[i]!.result.json.length).toBe(onNode.json.length);
      expect(runs[i]!.result.json === onNode.json).toBe(true);
      expect(runs[i]!.result.counts).toEqual(onNode.counts);
    }
    // The workload really exercised every rule and the late paths.
    const c = runs[1]!.result.counts;
    expect(c.rules).toEqual(["humid", "muggy", "silent", "swing"]);
    expect(c.corrections).toBeGreaterThan(0);
    expect(c.lateDropped).toBeGreaterThan(0);
    expect(c.mergedSessions).toBeGreaterThan(0);
  });
});
