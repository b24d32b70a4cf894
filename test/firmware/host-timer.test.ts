// The host port of Moddable's `timer` module on Node timers. No timed
// assertions: wait for the effect (generous timeout), then check it stopped.
import { describe, expect, it } from "vitest";
import { sleep, until } from "../harness/wait";
import Timer, { hostTimers } from "../../firmware/host/timer";


describe("host Timer (Moddable API)", () => {
  it("set fires once and passes the timer; clear stops a repeat", async () => {
    const seen: unknown[] = [];
    const t = Timer.set((x) => seen.push(x), 1);
    await until("set fired", () => seen.length > 0);
    await sleep(20);
    expect(seen).toEqual([t]);
    let n = 0;
    const r = Timer.repeat(() => n++, 2);
    await until("3 repeats", () => n >= 3);
    Timer.clear(r);
    const at = n;
    await sleep(30);
    expect(n).toBe(at);
    Timer.clear(undefined);
  });

  it("set with a repeat interval fires first after interval, then every repeat; schedule re-arms", async () => {
    let n = 0;
    const t = Timer.set(() => n++, 5, 2);
    await until("repeats", () => n >= 3);
    Timer.schedule(t, 600_000);
    const at = n;
    await sleep(30);
    expect(n).toBe(at);
    Timer.schedule(t, 1);
    await until("rescheduled fire", () => n === at + 1);
    await sleep(30);
    expect(n).toBe(at + 1); // schedule without repeat: once
    Timer.clear(t);
  });

  it("delay blocks", () => {
    const t0 = Date.now();
    Timer.delay(20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(19);
  });

  it("hostTimers adapts it to the runtime's Timers seam", async () => {
    let n = 0;
    const id = hostTimers.repeat(() => n++, 2);
    const once = hostTimers.set(() => (n += 1000), 600_000);
    hostTimers.clear(once);
    await until("repeats", () => n >= 3);
    hostTimers.clear(id);
    const at = n;
    await sleep(30);
    expect(n).toBe(at);
    expect(n).toBeLessThan(1000);
  });
});
