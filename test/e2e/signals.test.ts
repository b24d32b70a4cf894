// Stop requests of long-running commands (`up`, `sim`): the first signal asks
// for a graceful stop; a repeat within a second is the same keypress handed
// over twice (terminal + npm, or a parent-death signal per thread); a later
// one forces. Signals are emitted in-process, not sent.
import { afterEach, describe, expect, it, vi } from "vitest";
import { repeatIgnoreMs, stopRequests } from "../../cloud/cli/signals";

describe("stop requests", () => {
  afterEach(() => { vi.useRealTimers(); });

  it("resolves on the first signal, ignores a quick repeat, and reports a later one", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
    const listenersBefore = process.listenerCount("SIGINT");
    const r = stopRequests();
    const repeats: string[] = [];
    r.onRepeat((s) => repeats.push(s));
    try {
      process.emit("SIGINT");
      expect(await r.first).toBe("SIGINT");
      vi.advanceTimersByTime(repeatIgnoreMs / 2);
      process.emit("SIGINT");
      expect(repeats).toEqual([]);
      vi.advanceTimersByTime(repeatIgnoreMs);
      process.emit("SIGTERM");
      expect(repeats).toEqual(["SIGTERM"]);
    } finally {
      r.dispose();
    }
    expect(process.listenerCount("SIGINT")).toBe(listenersBefore);
  });

  it("ends after the duration when no signal comes", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
    const r = stopRequests(2);
    try {
      vi.advanceTimersByTime(2_000);
      expect(await r.first).toBe("duration");
    } finally {
      r.dispose();
    }
  });
});
