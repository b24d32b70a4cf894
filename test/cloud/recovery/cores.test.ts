// Unit and property tests of the pure recovery cores: failover, restart
// policy, placement, replacement planning.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../cloud/base";
import { FailoverCore, failoverConfig, type FailoverAction } from "../../../cloud/recovery/failover";
import { RestartPolicy, backoffCeilingMs, restartConfig } from "../../../cloud/recovery/restart";
import { placeRoles, type Candidate } from "../../../cloud/recovery/placement";
import { planReplacements } from "../../../cloud/recovery/replacement";
import type { MemberView } from "../../../cloud/membership/types";

const GiB = 1024 ** 3;

describe("failover core", () => {
  const cfg = failoverConfig(1000, { renewIntervalMs: 300, retryIntervalMs: 200, safetyMarginMs: 100, holdOffMs: 2000 });

  function acquire(core: FailoverCore, now: number, token: number): FailoverAction[] {
    core.tick(now);
    const [a] = core.takeActions();
    expect(a?.type).toBe("acquire");
    core.acquired((a as { reqId: number }).reqId, { ok: true, token }, now + 5);
    return core.takeActions();
  }

  it("activates on a granted acquire and trusts the lease until sentAt + ttl - margin", () => {
    const core = new FailoverCore(cfg, 0);
    expect(acquire(core, 0, 7)).toEqual([{ type: "activate", token: 7, validUntilMs: 900 }]);
    expect(core.isActive(899)).toBe(true);
    expect(core.isActive(900)).toBe(false);
  });

  it("renews on schedule and extends validity from the renew's send time", () => {
    const core = new FailoverCore(cfg, 0);
    acquire(core, 0, 7);
    core.tick(299);
    expect(core.takeActions()).toEqual([]);
    core.tick(300);
    const [r] = core.takeActions();
    expect(r).toMatchObject({ type: "renew", token: 7 });
    core.renewed((r as { reqId: number }).reqId, { ok: true }, 320);
    expect(core.validUntilMs).toBe(1200);
  });

  it("deactivates at local expiry when renewals get no answer (paused or partitioned)", () => {
    const core = new FailoverCore(cfg, 0);
    acquire(core, 0, 7);
    core.tick(300);
    core.takeActions(); // renew outstanding, never answered
    core.tick(5000); // resumed long after
    expect(core.takeActions()).toContainEqual({ type: "deactivate", token: 7, reason: "local-expiry" });
    expect(core.state).toBe("standby");
  });

  it("deactivates when a renewal is refused, and ignores stale answers", () => {
    const core = new FailoverCore(cfg, 0);
    acquire(core, 0, 7);
    core.tick(300);
    const [r] = core.takeActions();
    core.renewed((r as { reqId: number }).reqId, { ok: false }, 310);
    expect(core.takeActions()).toEqual([{ type: "deactivate", token: 7, reason: "renew-lost" }]);
    core.renewed((r as { reqId: number }).reqId, { ok: true }, 320); // duplicate answer
    expect(core.takeActions()).toEqual([]);
    expect(core.isActive(320)).toBe(false);
  });

  it("does not activate when the grant arrives after its validity", () => {
    const core = new FailoverCore(cfg, 0);
    core.tick(0);
    const [a] = core.takeActions();
    core.acquired((a as { reqId: number }).reqId, { ok: true, token: 3 }, 950);
    expect(core.takeActions()).toEqual([]);
    expect(core.state).toBe("standby");
  });

  it("steps down with a release and holds off re-acquiring", () => {
    const core = new FailoverCore(cfg, 0);
    acquire(core, 0, 7);
    core.stepDown(100);
    expect(core.takeActions()).toEqual([{ type: "deactivate", token: 7, reason: "step-down" }, { type: "release", token: 7 }]);
    core.tick(2099);
    expect(core.takeActions()).toEqual([]);
    core.tick(2100);
    expect(core.takeActions()[0]?.type).toBe("acquire");
  });

  it("property: never active past sentAt + ttl - margin of the last granted request", () => {
    fc.assert(fc.property(fc.array(fc.record({ dt: fc.integer({ min: 1, max: 700 }), answer: fc.constantFrom("ok", "lost", "none", "fail") }), { maxLength: 60 }), (steps) => {
      const core = new FailoverCore(cfg, 0);
      let now = 0;
      let lastGrantSentMs = -Infinity;
      const sent = new Map<number, number>();
      for (const s of steps) {
        now += s.dt;
        core.tick(now);
        for (const a of core.takeActions()) {
          if (a.type === "acquire" || a.type === "renew") {
            sent.set(a.reqId, now);
            if (s.answer === "none") continue;
            if (s.answer === "fail") core.requestFailed(a.reqId, now + 1);
            else if (a.type === "acquire") core.acquired(a.reqId, s.answer === "ok" ? { ok: true, token: 1 } : { ok: false }, now + 1);
            else core.renewed(a.reqId, { ok: s.answer === "ok" }, now + 1);
            if (s.answer === "ok") lastGrantSentMs = Math.max(lastGrantSentMs, now);
          }
        }
        core.takeActions();
        if (core.isActive(now + 1)) expect(now + 1).toBeLessThan(lastGrantSentMs + cfg.ttlMs - cfg.safetyMarginMs);
      }
    }));
  });

  it("rejects configurations that cannot renew in time", () => {
    expect(() => failoverConfig(1000, { renewIntervalMs: 950, safetyMarginMs: 100 })).toThrow(/must be below ttlMs/);
  });
});

describe("restart policy", () => {
  const cfg = restartConfig({ attemptsMax: 4, backoffBaseMs: 100, backoffMaxMs: 1000, jitterRatio: 0.5, resetAfterMs: 10_000 });

  it("backs off exponentially up to the cap, then escalates", () => {
    const p = new RestartPolicy({ ...cfg, jitterRatio: 0 }, () => 0);
    const decisions = [];
    for (let i = 0; i < 5; i++) {
      p.started(i * 10);
      decisions.push(p.exited(i * 10 + 5));
    }
    expect(decisions).toEqual([
      { type: "restart", attempt: 1, delayMs: 100 },
      { type: "restart", attempt: 2, delayMs: 200 },
      { type: "restart", attempt: 3, delayMs: 400 },
      { type: "restart", attempt: 4, delayMs: 800 },
      { type: "escalate", attempts: 4 },
    ]);
    expect(p.escalated).toBe(true);
    expect(() => p.started(100)).toThrow(/after escalation/);
  });

  it("resets the count after a stable run", () => {
    const p = new RestartPolicy(cfg, seededRandom(1));
    for (let i = 0; i < 4; i++) {
      p.started(0);
      p.exited(1);
    }
    p.started(100);
    expect(p.exited(100 + 10_000)).toMatchObject({ type: "restart", attempt: 1 });
  });

  it("property: delays stay within [ceiling * (1 - jitter), ceiling] and escalation comes after exactly attemptsMax fast failures", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 8 }), fc.double({ min: 0, max: 1, noNaN: true }), (seed, attemptsMax, jitterRatio) => {
      const c = restartConfig({ ...cfg, attemptsMax, jitterRatio });
      const p = new RestartPolicy(c, seededRandom(seed));
      for (let attempt = 1; attempt <= attemptsMax; attempt++) {
        p.started(attempt);
        const d = p.exited(attempt);
        expect(d.type).toBe("restart");
        if (d.type !== "restart") return;
        const ceiling = backoffCeilingMs(c, attempt);
        expect(d.delayMs).toBeLessThanOrEqual(ceiling);
        expect(d.delayMs).toBeGreaterThanOrEqual(Math.floor(ceiling * (1 - jitterRatio)) - 1);
      }
      p.started(100);
      expect(p.exited(100).type).toBe("escalate");
    }));
  });

  it("rejects bad configurations", () => {
    expect(() => restartConfig({ jitterRatio: 2 })).toThrow(/jitterRatio/);
    expect(() => restartConfig({ backoffMaxMs: 1, backoffBaseMs: 10 })).toThrow(/backoffMaxMs/);
  });
});

function cand(nodeId: string, freeGiB: number, load: number, roles: string[] = [], cpus = 4): Candidate {
  return { nodeId, roles, resources: { freeMemoryBytes: freeGiB * GiB, totalMemoryBytes: 16 * GiB, cpuLoad1: load, cpus } };
}

describe("placement", () => {
  const demand = { role: "analytics", memoryBytes: GiB / 4, cpu: 0.5 };

  it("picks the node with the most free resources", () => {
    const r = placeRoles([demand], [cand("a", 2, 1), cand("b", 8, 0.5), cand("c", 4, 3)]);
    expect(r.placements.map((p) => p.nodeId)).toEqual(["b"]);
  });

  it("skips nodes that do not fit memory or CPU, and says why", () => {
    const r = placeRoles([demand], [cand("a", 0.2, 0), cand("b", 8, 3.5)]);
    expect(r.placements).toEqual([]);
    expect(r.unplaced[0]?.considered.map((c) => c.why)).toEqual([expect.stringMatching(/^memory/), expect.stringMatching(/^cpu/)]);
  });

  it("spreads several roles over equal nodes and breaks ties by node id", () => {
    const r = placeRoles([demand, { ...demand }, { ...demand, role: "ingest" }], [cand("z", 8, 0), cand("y", 8, 0), cand("x", 8, 0)]);
    expect(r.placements.map((p) => p.nodeId)).toEqual(["x", "y", "z"]);
  });

  it("property: deterministic, independent of candidate order, and only fitting nodes chosen", () => {
    const arbCand = fc.record({
      id: fc.stringMatching(/^[a-f]{1,3}$/), free: fc.integer({ min: 0, max: 16 }), load: fc.integer({ min: 0, max: 8 }), cpus: fc.integer({ min: 1, max: 8 }),
    });
    fc.assert(fc.property(fc.uniqueArray(arbCand, { selector: (c) => c.id, maxLength: 8 }), fc.integer({ min: 1, max: 5 }), (cs, n) => {
      const candidates = cs.map((c) => cand(c.id, c.free, c.load, [], c.cpus));
      const demands = Array.from({ length: n }, (_, i) => ({ role: `r${i}`, memoryBytes: GiB, cpu: 0.5 }));
      const r1 = placeRoles(demands, candidates);
      const r2 = placeRoles(demands, [...candidates].reverse());
      expect(r2.decisions).toEqual(r1.decisions);
      for (const p of r1.placements) expect(p.considered.find((c) => c.nodeId === p.nodeId)?.fits).toBe(true);
      expect(r1.decisions.length).toBe(n);
    }));
  });
});

function member(nodeId: string, status: MemberView["status"], roles: string[], replacing: string[] = [], freeGiB = 8): MemberView {
  return {
    nodeId, presence: status === "up" ? "up" : "down", sinceMs: 0, swim: undefined, suspicion: 0, threshold: 8, status, lastHeartbeatMs: 0,
    roles, replacing, leases: [], self: false,
    resources: { freeMemoryBytes: freeGiB * GiB, totalMemoryBytes: 16 * GiB, cpuLoad1: 0, cpus: 4 },
  };
}

describe("replacement planning", () => {
  const demandOf = (role: string) => ({ role, memoryBytes: GiB / 4, cpu: 0.25 });
  const replaceable = new Set(["analytics", "ingest"]);

  it("places the roles of a down node on the live node with the most free resources", () => {
    const plan = planReplacements([member("a", "down", ["analytics", "scheduler"]), member("b", "up", [], [], 2), member("c", "up", [], [], 9)], replaceable, demandOf, new Set());
    expect(plan.replacements.map((r) => [r.key, r.targetNode])).toEqual([["a:analytics", "c"]]);
  });

  it("does nothing when a live node already runs the replacement, or it is pending", () => {
    const members = [member("a", "down", ["analytics"]), member("c", "up", ["analytics"], ["a:analytics"])];
    expect(planReplacements(members, replaceable, demandOf, new Set()).replacements).toEqual([]);
    expect(planReplacements([member("a", "down", ["analytics"]), member("b", "up", [])], replaceable, demandOf, new Set(["a:analytics"])).replacements).toEqual([]);
  });

  it("a dead replacement is replaced under the original key (no double replacement)", () => {
    const members = [member("a", "down", ["analytics"]), member("c", "down", ["analytics"], ["a:analytics"]), member("b", "up", [])];
    const plan = planReplacements(members, replaceable, demandOf, new Set());
    expect(plan.replacements.map((r) => [r.key, r.failedNode, r.targetNode])).toEqual([["a:analytics", "a", "b"]]);
  });

  it("reports roles it cannot place", () => {
    const plan = planReplacements([member("a", "down", ["ingest"]), member("b", "up", [], [], 0)], replaceable, demandOf, new Set());
    expect(plan.unplaced).toEqual([{ key: "a:ingest", reason: "no candidate fits" }]);
  });
});
