import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HeartbeatManager, type HeartbeatManagerConfig } from "../../../cloud/health/heartbeat-manager";
import { AKKA_CLUSTER_DEFAULTS } from "../../../cloud/health/phi-accrual";
import { DetectorKind } from "../../../cloud/health/types";

function config(overrides: Partial<HeartbeatManagerConfig> = {}): HeartbeatManagerConfig {
  return {
    heartbeatIntervalMs: 1000,
    nodesMax: 100,
    eventsMax: 1000,
    classes: {
      // Battery sensors: plain timeout, declared down right after suspicion.
      sensor: { detector: { kind: DetectorKind.Timeout, timeoutMs: 5000, nodesMax: 1 }, downAfterMs: 0, firstHeartbeatTimeoutMs: 10_000 },
      // Cloud nodes: phi-accrual, a grace period before down.
      cloud: { detector: { ...AKKA_CLUSTER_DEFAULTS }, downAfterMs: 5000, firstHeartbeatTimeoutMs: 10_000 },
    },
    ...overrides,
  };
}

describe("heartbeat manager", () => {
  it("emits up, suspect and down with since-timestamps for a crashed cloud node", () => {
    const m = new HeartbeatManager(config());
    expect(m.register("c1", "cloud", 0)).toEqual({ ok: true });
    for (let t = 0; t <= 20_000; t += 1000) {
      expect(m.heartbeat("c1", t)).toEqual({ ok: true });
      m.tick(t);
    }
    expect(m.takeEvents().map((e) => [e.type, e.sinceMs])).toEqual([["up", 0]]);
    let suspectAt = -1;
    for (let t = 20_100; t <= 40_000; t += 100) {
      m.tick(t);
      for (const e of m.takeEvents()) {
        if (e.type === "suspect") {
          suspectAt = e.sinceMs;
          expect(e.lastHeartbeatMs).toBe(20_000);
          expect(e.suspicion).toBeGreaterThanOrEqual(8);
        }
        if (e.type === "down") expect(e.sinceMs).toBe(suspectAt + 5000);
      }
    }
    // Akka defaults: mean 1 s + pause 3 s + a few min std deviations.
    expect(suspectAt).toBeGreaterThan(20_000 + 4000);
    expect(suspectAt).toBeLessThan(20_000 + 5000);
    expect(m.presence("c1")?.presence).toBe("down");
  });

  it("selects the detector per node class", () => {
    const m = new HeartbeatManager(config());
    m.register("s1", "sensor", 0);
    m.register("c1", "cloud", 0);
    m.heartbeat("s1", 0);
    m.heartbeat("c1", 0);
    m.tick(4999);
    m.takeEvents();
    m.tick(5000);
    const events = m.takeEvents();
    // The sensor's 5 s timeout fires, down at once; the cloud node's phi
    // (bootstrap stats, 3 s acceptable pause) is still below 8 at 5 s.
    expect(events.filter((e) => e.nodeId === "s1").map((e) => e.type)).toEqual(["suspect", "down"]);
    expect(events.filter((e) => e.nodeId === "c1")).toEqual([]);
  });

  it("brings a suspect or down node back up on its next heartbeat", () => {
    const m = new HeartbeatManager(config());
    m.register("s1", "sensor", 0);
    m.heartbeat("s1", 0);
    m.tick(6000);
    m.heartbeat("s1", 7000);
    expect(m.takeEvents().map((e) => `${e.type}@${e.sinceMs}`)).toEqual(["up@0", "suspect@6000", "down@6000", "up@7000"]);
  });

  it("declares a registered node that never heartbeats down after firstHeartbeatTimeoutMs", () => {
    const m = new HeartbeatManager(config());
    m.register("s1", "sensor", 1000);
    m.tick(10_999);
    expect(m.takeEvents()).toEqual([]);
    m.tick(11_000);
    expect(m.takeEvents().map((e) => [e.type, e.lastHeartbeatMs])).toEqual([["down", undefined]]);
  });

  it("rejects bad input with typed results and counts them", () => {
    const m = new HeartbeatManager(config({ nodesMax: 2 }));
    expect(m.heartbeat("ghost", 0)).toEqual({ ok: false, reason: "unknown-node" });
    expect(m.register("a", "nope", 0)).toEqual({ ok: false, reason: "unknown-class" });
    expect(m.register("a", "sensor", 0)).toEqual({ ok: true });
    expect(m.register("a", "sensor", 0)).toEqual({ ok: false, reason: "already-registered" });
    expect(m.register("b", "cloud", 0)).toEqual({ ok: true });
    expect(m.register("c", "cloud", 0)).toEqual({ ok: false, reason: "nodes-max" });
    m.heartbeat("a", 100);
    expect(m.heartbeat("a", 50)).toEqual({ ok: false, reason: "stale" });
    expect(m.stats.heartbeatsRejected).toEqual({ "unknown-node": 1, stale: 1, "detector-full": 0 });
    expect(m.stats.heartbeatsAccepted).toBe(1);
    expect(m.unregister("a")).toBe(true);
    expect(m.presence("a")).toBeUndefined();
  });

  it("validates its configuration", () => {
    expect(() => new HeartbeatManager(config({ classes: {} }))).toThrow(/at least one node class/);
    expect(() => new HeartbeatManager(config({ nodesMax: 0 }))).toThrow(/nodesMax/);
    expect(() => new HeartbeatManager(config({ heartbeatIntervalMs: 1.5 }))).toThrow(/heartbeatIntervalMs/);
  });

  it("fails loudly when the caller stops draining events", () => {
    const m = new HeartbeatManager(config({ eventsMax: 2 }));
    for (const id of ["a", "b", "c"]) m.register(id, "sensor", 0);
    m.heartbeat("a", 0);
    m.heartbeat("b", 0);
    expect(() => m.heartbeat("c", 0)).toThrow(/eventsMax/);
  });

  it("property: events per node alternate validly and never repeat a state", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 4000 })), { maxLength: 200 }), (steps) => {
        const m = new HeartbeatManager(config());
        m.register("s1", "sensor", 0);
        let t = 0;
        let last = "unknown";
        for (const [beat, dt] of steps) {
          t += dt;
          if (beat) m.heartbeat("s1", t);
          m.tick(t);
          for (const e of m.takeEvents()) {
            expect(e.type).not.toBe(last);
            if (e.type === "down") expect(["suspect", "unknown"]).toContain(last);
            if (e.type === "suspect") expect(last).toBe("up");
            last = e.type;
          }
        }
      }),
    );
  });
});
