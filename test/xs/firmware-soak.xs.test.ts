// Bounded memory on XS: a sensor node runs for a quarter hour of simulated time (with
// outages) and its heap after GC stays flat from one chunk to the next.
import { describe, expect, it } from "vitest";
import { runManyOnXs } from "../harness/xs";
import { loadRoomClimateFile } from "../../firmware/host/room-climate";
import type { SoakInput, SoakResult } from "./entries/firmware-soak";

describe("firmware soak on XS", () => {
  it("keeps a flat heap over a quarter hour of simulated time", async () => {
    const rows = loadRoomClimateFile("location_A-measurement03.csv").get(2)!.slice(0, 400);
    const inputs: SoakInput[] = [3, 3, 3, 3, 3].map((minutes) => ({ rows, minutes }));
    const runs = await runManyOnXs<SoakResult>("test/xs/entries/firmware-soak.ts", inputs);
    const heaps = runs.map((r) => r.meter.currentHeapCount ?? 0);
    const last = runs[runs.length - 1]!.result;
    expect(last.batches).toBeGreaterThan(30);
    // Every batch confirmed by the cloud despite the outages (the newest may still be on its way).
    expect(last.confirmed + last.outboxDepth).toBe(last.batches);
    expect(last.outboxDepth).toBeLessThanOrEqual(1);
    expect(last.retransmits).toBeGreaterThan(0); // the outages requeued unconfirmed messages
    // After the warm-up chunks, 9 more simulated minutes (3 outages) may not grow the heap by more than 5 %.
    expect(heaps[4]!).toBeLessThanOrEqual(Math.ceil(heaps[1]! * 1.05));
    console.log(`XS heap slots after GC per chunk: ${heaps.join(", ")}; published ${last.published}`);
  });
});
