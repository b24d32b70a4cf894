import { describe, expect, it } from "vitest";
import { runOnXs, XsError } from "../harness/xs";

describe("XS runner", () => {
  it("runs an entry on the real XS engine and reports its meter", async () => {
    const run = await runOnXs<{ doubled: number; engine: string }>("test/xs/entries/smoke.ts", { n: 21 });
    expect(run.result).toEqual({ doubled: 42, engine: "xs" });
    expect(run.meter.currentHeapCount).toBeGreaterThan(0);
  });
  it("reports an exception thrown on XS as XsError", async () => {
    await expect(runOnXs("test/xs/entries/smoke.ts", null)).rejects.toBeInstanceOf(XsError);
  });
});
