import { describe, expect, it } from "vitest";
import { runManyOnXs } from "../harness/xs";
import run, { type DvvInput } from "./entries/dvv";

// The device runs the same DVV code as the cloud (offline edits of reported
// state): XS and Node must produce identical sibling sets and contexts.
describe("dotted version vector sets on XS", () => {
  it("give the same results on XS as on Node", async () => {
    const inputs: DvvInput[] = [
      { seed: 7, rounds: 60 },
      { seed: 0xdecaf, rounds: 600 },
    ];
    const runs = await runManyOnXs<ReturnType<typeof run>>("test/xs/entries/dvv.ts", inputs);
    for (let i = 0; i < inputs.length; i++) {
      const onNode = JSON.parse(JSON.stringify(run(inputs[i]!)));
      expect(runs[i]!.result).toEqual(onNode);
    }
    const r = runs[1]!.result;
    expect(r.lawFailures).toBe(0);
    expect(r.validateErrors).toBe(3);
    expect(r.roundTrip).toBe(true);
    expect(r.wireRoundTrip).toBe(true);
    // The firmware's replica: delta applied, reports on the first heartbeat after each edit and a full one on the 10th.
    expect(r.device.applied).toEqual(["led", "sp"]);
    expect(r.device.malformed).toBe(-1);
    expect(r.device.removed).toEqual(["sp"]);
    expect(r.device.sp).toEqual([]);
    expect(r.device.removal).not.toBe("-");
    expect(r.device.beats.map((b) => b !== "-")).toEqual([true, true, false, false, false, true, false, false, false, true, false, false]);
    expect(r.wireHex.length).toBeGreaterThan(100);
    expect(r.errors["siblings-max"] ?? 0).toBeGreaterThan(0);
    expect(Object.keys(r.errors).some((k) => k.startsWith("unexpected"))).toBe(false);
    expect(r.all.siblings.length).toBeGreaterThan(1);
  });
});
