// Reconnect backoff: full jitter within min(cap, base * 2^attempt), reset
// after a successful connect; and the session's use of it under simulated time.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Backoff, backoffDelayMs, backoffWindowMs, checkBackoffPolicy } from "../../firmware/device/backoff";
import { DeviceRuntime } from "../../firmware/device/runtime";
import { SessionState } from "../../firmware/device/session";
import { SeededRandom } from "../../firmware/sim/sim-clock";
import { createSimPlatform, createSimWorld } from "../../firmware/sim/sim-platform";

describe("backoff policy", () => {
  it("windows double from base up to the cap", () => {
    const p = { baseMs: 100, capMs: 1_000 };
    expect([0, 1, 2, 3, 4, 5, 60].map((a) => backoffWindowMs(p, a))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it("every delay is within [0, window] (property)", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 80 }), fc.integer(),
      (base, extra, attempt, seed) => {
        const p = { baseMs: base, capMs: base + extra };
        const d = backoffDelayMs(p, attempt, new SeededRandom(seed));
        return Number.isInteger(d) && d >= 0 && d <= backoffWindowMs(p, attempt) && d <= p.capMs;
      }));
  });

  it("is full jitter: delays spread over the whole window", () => {
    const p = { baseMs: 1_000, capMs: 1_000 };
    const r = new SeededRandom(5);
    const ds = Array.from({ length: 2_000 }, () => backoffDelayMs(p, 0, r));
    expect(Math.min(...ds)).toBeLessThan(50);
    expect(Math.max(...ds)).toBeGreaterThan(950);
    const mean = ds.reduce((a, b) => a + b, 0) / ds.length;
    expect(mean).toBeGreaterThan(450);
    expect(mean).toBeLessThan(550);
  });

  it("counts attempts and resets", () => {
    const b = new Backoff({ baseMs: 10, capMs: 100 }, new SeededRandom(1));
    for (let i = 0; i < 5; i++) b.next();
    expect(b.attempt).toBe(5);
    b.reset();
    expect(b.attempt).toBe(0);
  });

  it("rejects bad policies with a clear message", () => {
    expect(() => checkBackoffPolicy({ baseMs: 0, capMs: 10 })).toThrow(/baseMs/);
    expect(() => checkBackoffPolicy({ baseMs: 10, capMs: 5 })).toThrow(/capMs/);
  });
});

describe("session reconnect under simulated time", () => {
  function device(seed: number) {
    const world = createSimWorld();
    const platform = createSimPlatform(world, { seed });
    const waits: Array<{ attempt: number; delay: number }> = [];
    const rt: DeviceRuntime = new DeviceRuntime(platform, {
      deviceId: "act-1", role: "actuator", brokerUrls: ["mqtt://a:1883"], connectTimeoutMs: 500,
      backoff: { baseMs: 100, capMs: 2_000 }, heartbeatIntervalMs: 60_000,
    }, (e) => {
      if (e.type === "disconnected") {
        const s = rt.stats();
        waits.push({ attempt: s.connectAttempts - 1 - (s.connects > 0 ? s.connects : 0), delay: s.lastBackoffMs });
      }
    });
    return { world, rt, waits };
  }

  it("retries an unreachable broker with jittered, capped, growing waits, then resets after success", () => {
    const { world, rt, waits } = device(11);
    world.broker.setAvailable(false);
    rt.start();
    world.clock.advance(30_000);
    expect(waits.length).toBeGreaterThan(8);
    waits.forEach((w, i) => expect(w.delay).toBeLessThanOrEqual(Math.min(2_000, 100 * 2 ** i)));
    expect(rt.stats().counters.connectFailures).toBe(waits.length);
    // Jitter: the waits are not all at their window's ceiling.
    expect(waits.some((w, i) => w.delay < Math.min(2_000, 100 * 2 ** i) / 2)).toBe(true);

    world.broker.setAvailable(true);
    world.clock.advance(3_000);
    expect(rt.stats().connected).toBe(true);
    // After a success the next loss starts from the base window again.
    world.broker.dropClient("act-1");
    world.clock.advance(0);
    expect(rt.stats().sessionState).toBe(SessionState.Waiting);
    expect(rt.stats().lastBackoffMs).toBeLessThanOrEqual(100);
    world.clock.advance(200);
    expect(rt.stats().connected).toBe(true);
    expect(rt.stats().counters.reconnects).toBe(1);
  });

  it("publishes the retained will on a network cut and reconnects after restore", () => {
    const { world, rt } = device(12);
    rt.start();
    world.clock.advance(100);
    expect(rt.stats().connected).toBe(true);
    rt.cutNetwork();
    world.clock.advance(0);
    const will = world.broker.log.find((m) => m.will);
    expect(will?.topic).toBe("xsfleet/v1/dev/act-1/status");
    expect(will?.retain).toBe(true);
    world.clock.advance(10_000);
    expect(rt.stats().connected).toBe(false);
    rt.restoreNetwork();
    world.clock.advance(5_000);
    expect(rt.stats().connected).toBe(true);
  });
});
