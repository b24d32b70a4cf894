import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AlertTransition, type RuleDef, RuleEngine, validateRule } from "../../shared/stream/index";

const brief = (tr: AlertTransition) => `${tr.key}#${tr.episode} ${tr.state}@${tr.t}`;

function feed(e: RuleEngine, device: string, channel: string, pts: [number, number][]): void {
  for (const [t, v] of pts) e.onPoint(device, channel, t, v);
}

const humidity: RuleDef = {
  id: "humid",
  match: { channel: "humidity" },
  when: { kind: "threshold", above: 70, clearBelow: 60 },
  actions: [
    { kind: "command", device: "fan-1", command: "fan", args: { on: true }, on: "raise" },
    { kind: "command", device: "fan-1", command: "fan", args: { on: false }, on: "clear" },
    { kind: "event", on: "raise" },
  ],
};

describe("RuleEngine: threshold, hysteresis, episodes", () => {
  it("raises once per episode and clears only below the clear threshold", () => {
    const e = new RuleEngine([humidity]);
    feed(e, "d1", "humidity", [[0, 50], [1000, 71], [2000, 80], [3000, 75], [4000, 65], [5000, 61], [6000, 59], [7000, 72], [8000, 40]]);
    const trs = e.drain();
    expect(trs.map(brief)).toEqual(["d1#1 raised@1000", "d1#1 cleared@6000", "d1#2 raised@7000", "d1#2 cleared@8000"]);
    expect(trs[0]).toMatchObject({ ruleId: "humid", value: 71, id: "humid:d1:1:raised" });
    expect(trs[0]!.actions.map((a) => a.kind)).toEqual(["command", "event"]);
    expect(trs[1]!.actions).toEqual([{ kind: "command", device: "fan-1", command: "fan", args: { on: false }, on: "clear" }]);
    expect(trs[0]!.reason).toMatch(/humidity above 70/);
    expect(e.stats).toMatchObject({ raised: 2, cleared: 2 });
  });

  it("keeps one state per device, ignores other channels and unlisted devices", () => {
    const e = new RuleEngine([{ ...humidity, match: { channel: "humidity", devices: ["d1", "d2"] } }]);
    e.onPoint("d1", "humidity", 0, 90);
    e.onPoint("d2", "humidity", 0, 50);
    e.onPoint("d3", "humidity", 0, 90);
    e.onPoint("d2", "temperature", 1, 90);
    e.onPoint("d2", "humidity", 5, 95);
    expect(e.drain().map(brief)).toEqual(["d1#1 raised@0", "d2#1 raised@5"]);
    expect(e.raised()).toEqual([{ ruleId: "humid", key: "d1", episode: 1 }, { ruleId: "humid", key: "d2", episode: 1 }]);
  });

  it("raiseForMs: the condition must hold that long in event time; a short spike raises nothing", () => {
    const e = new RuleEngine([{ ...humidity, raiseForMs: 300_000, clearForMs: 60_000 }]);
    feed(e, "d", "humidity", [[0, 75], [100_000, 76], [200_000, 50], [300_000, 75], [400_000, 75], [599_999, 75]]);
    expect(e.drain()).toEqual([]);
    feed(e, "d", "humidity", [[600_000, 74]]);
    const [up] = e.drain();
    expect(brief(up!)).toBe("d#1 raised@600000");
    expect(up!.reason).toMatch(/for 300000 ms/);
    // clearForMs: below 60 for a minute.
    feed(e, "d", "humidity", [[610_000, 55], [650_000, 75], [655_000, 65], [660_000, 55], [719_999, 50]]);
    expect(e.drain()).toEqual([]);
    feed(e, "d", "humidity", [[720_000, 50]]);
    expect(e.drain().map(brief)).toEqual(["d#1 cleared@720000"]);
  });

  it("durations continue on tick when a key has gone quiet (the condition last seen still holds)", () => {
    const e = new RuleEngine([{ ...humidity, raiseForMs: 60_000 }]);
    e.onPoint("d", "humidity", 1_000_000, 80);
    e.tick(1_010_000); // a point came since the previous tick: event time only
    e.tick(1_050_000);
    expect(e.drain()).toEqual([]);
    e.tick(1_060_000);
    expect(e.drain().map(brief)).toEqual(["d#1 raised@1060000"]);
  });

  it("skips points older than the key's latest (backfill is for windows) and counts them", () => {
    const e = new RuleEngine([humidity]);
    feed(e, "d", "humidity", [[1000, 50], [500, 90]]);
    expect(e.drain()).toEqual([]);
    expect(e.stats.outOfOrder).toBe(1);
  });
});

describe("RuleEngine: rate, absence, window, composite, groupBy", () => {
  it("rate: change per minute of event time against the previous point", () => {
    const e = new RuleEngine([{ id: "rise", match: { channel: "t" }, when: { kind: "rate", perMinuteAbove: 2 } }]);
    feed(e, "d", "t", [[0, 20], [60_000, 21], [90_000, 22.5], [150_000, 22.6]]);
    expect(e.drain().map(brief)).toEqual(["d#1 raised@90000", "d#1 cleared@150000"]);
  });

  it("absence: no data for forMs, or offline for forMs; listed devices are expected from the first tick", () => {
    const e = new RuleEngine([{ id: "silent", match: { channel: "t", devices: ["a", "b"] }, when: { kind: "absence", forMs: 60_000 } }]);
    e.tick(0);
    e.onPoint("a", "t", 30_000, 1);
    e.tick(59_999);
    expect(e.drain()).toEqual([]);
    e.tick(60_000); // b never sent anything
    expect(e.drain().map(brief)).toEqual(["b#1 raised@60000"]);
    e.onPresence("a", false, 70_000);
    e.tick(89_999);
    expect(e.drain()).toEqual([]);
    e.tick(130_000); // a: offline for 60 s
    expect(e.drain().map(brief)).toEqual(["a#1 raised@130000"]);
    e.onPoint("b", "t", 131_000, 5);
    expect(e.drain().map(brief)).toEqual(["b#1 cleared@131000"]);
  });

  it("window: an aggregate of closed windows crosses a bound", () => {
    const e = new RuleEngine([
      { id: "hot", match: { channel: "t" }, when: { kind: "window", window: { kind: "tumbling", sizeMs: 60_000 }, aggregate: "mean", above: 30, clearBelow: 28 } },
    ]);
    feed(e, "d", "t", [[0, 25], [30_000, 40], [60_000, 20]]); // [0,60s) mean 32.5 closes at 60 s
    expect(e.drain().map(brief)).toEqual(["d#1 raised@60000"]);
    feed(e, "d", "t", [[110_000, 35], [120_000, 30]]); // [60s,120s) mean 27.5 < 28
    expect(e.drain().map(brief)).toEqual(["d#1 cleared@120000"]);
  });

  it("all / any composites combine the leaves' latched states", () => {
    const rules: RuleDef[] = [
      { id: "both", match: { channel: "h" }, when: { kind: "all", of: [{ kind: "threshold", above: 70 }, { kind: "rate", perMinuteAbove: 1 }] } },
      { id: "either", match: { channel: "h" }, when: { kind: "any", of: [{ kind: "threshold", above: 90 }, { kind: "threshold", below: 10 }] } },
    ];
    const e = new RuleEngine(rules);
    feed(e, "d", "h", [[0, 75], [60_000, 75.5], [120_000, 78], [180_000, 5], [240_000, 50], [300_000, 95]]);
    expect(e.drain().map((t) => `${t.ruleId} ${brief(t)}`)).toEqual([
      "both d#1 raised@120000",
      "both d#1 cleared@180000",
      "either d#1 raised@180000",
      "either d#1 cleared@240000",
      "both d#2 raised@300000", // 95 > 70, rising 45/min
      "either d#2 raised@300000",
    ]);
  });

  it("groupBy a metadata field keys alerts by site; devices without it are counted", () => {
    const e = new RuleEngine([{ ...humidity, match: { channel: "humidity", groupBy: "site" } }]);
    e.setMetadata("d1", { site: "lyon" });
    e.setMetadata("d2", { site: "lyon" });
    e.onPoint("d1", "humidity", 0, 80);
    e.onPoint("d2", "humidity", 1, 85);
    e.onPoint("d3", "humidity", 1, 85);
    expect(e.drain().map(brief)).toEqual(["lyon#1 raised@0"]);
    expect(e.stats.ungrouped).toBe(1);
  });
});

describe("RuleEngine: rule changes, snapshot/restore", () => {
  it("setRules keeps state of unchanged rules and clears alerts of removed or changed ones", () => {
    const other: RuleDef = { id: "cold", match: { channel: "t" }, when: { kind: "threshold", below: 5 } };
    const e = new RuleEngine([humidity, other]);
    e.onPoint("d", "humidity", 0, 80);
    e.onPoint("d", "t", 0, 1);
    e.drain();
    e.setRules([other, { ...humidity }], 10); // same content: nothing happens
    expect(e.drain()).toEqual([]);
    e.setRules([{ ...other, when: { kind: "threshold", below: 4 } }], 20);
    const trs = e.drain();
    expect(trs.map((t) => `${t.ruleId} ${brief(t)} ${t.reason}`)).toEqual(["cold d#1 cleared@20 rule changed", "humid d#1 cleared@20 rule removed"]);
    expect(trs[1]!.actions).toHaveLength(1); // the fan is turned off
    expect(() => e.setRules([{ ...other, when: { kind: "threshold" } } as RuleDef])).toThrow(/when: needs above or below/);
  });

  it("restoring a snapshot mid-stream gives the same transitions as an uninterrupted run", () => {
    const rules: RuleDef[] = [
      { ...humidity, raiseForMs: 20_000, clearForMs: 10_000 },
      { id: "silent", match: { channel: "humidity" }, when: { kind: "absence", forMs: 45_000 } },
      { id: "win", match: { channel: "humidity" }, when: { kind: "window", window: { kind: "hopping", sizeMs: 60_000, hopMs: 20_000 }, aggregate: "p90", above: 75 } },
      { id: "rate", match: { channel: "humidity" }, when: { kind: "any", of: [{ kind: "rate", perMinuteAbove: 30 }, { kind: "rate", perMinuteBelow: -30 }] } },
    ];
    const step = fc.record({
      device: fc.constantFrom("d1", "d2", "d3"),
      kind: fc.constantFrom("point", "point", "point", "tick", "offline", "online"),
      dt: fc.integer({ min: 0, max: 20_000 }),
      v: fc.integer({ min: 40, max: 95 }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 150 }), fc.nat(), (steps, cutSeed) => {
        const apply = (e: RuleEngine, s: (typeof steps)[number], t: number) => {
          if (s.kind === "point") e.onPoint(s.device, "humidity", t, s.v);
          else if (s.kind === "tick") e.tick(t);
          else e.onPresence(s.device, s.kind === "online", t);
        };
        const times: number[] = [];
        let t = 0;
        for (const s of steps) times.push((t += s.dt));
        const whole = new RuleEngine(rules);
        const wholeOut: AlertTransition[] = [];
        steps.forEach((s, i) => {
          apply(whole, s, times[i]!);
          wholeOut.push(...whole.drain());
        });
        const cut = steps.length === 0 ? 0 : cutSeed % steps.length;
        let e = new RuleEngine(rules);
        const out: AlertTransition[] = [];
        steps.forEach((s, i) => {
          if (i === cut) e = RuleEngine.restore(rules, JSON.parse(JSON.stringify(e.snapshot())));
          apply(e, s, times[i]!);
          out.push(...e.drain());
        });
        expect(JSON.stringify(out)).toBe(JSON.stringify(wholeOut));
        expect(e.stats).toEqual(whole.stats);
        expect(JSON.stringify(e.snapshot())).toBe(JSON.stringify(whole.snapshot()));
        // One alert per episode: raised and cleared alternate per (rule, key).
        const last = new Map<string, string>();
        for (const tr of out) {
          const k = `${tr.ruleId}:${tr.key}`;
          expect(last.get(k) ?? "cleared").not.toBe(tr.state);
          last.set(k, tr.state);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe("RuleEngine: malformed snapshots", () => {
  it("are refused with a clear error", () => {
    const e = new RuleEngine([humidity]);
    e.onPoint("d", "humidity", 0, 90);
    const snap = e.snapshot();
    expect(() => RuleEngine.restore([humidity], { ...snap, states: null } as never)).toThrow(/states: must be an array/);
    const bad = JSON.parse(JSON.stringify(snap));
    bad.states[0].episode = "1";
    expect(() => RuleEngine.restore([humidity], bad)).toThrow(/episode: must be a finite number/);
    expect(() => RuleEngine.restore([humidity], { version: 2 } as never)).toThrow(/version/);
    // A changed rule does not inherit the old rule's state.
    const changed = RuleEngine.restore([{ ...humidity, when: { kind: "threshold", above: 80 } }], snap);
    expect(changed.raised()).toEqual([]);
    expect(RuleEngine.restore([humidity], snap).raised()).toEqual([{ ruleId: "humid", key: "d", episode: 1 }]);
  });
});

describe("validateRule", () => {
  const ok = { id: "r1", match: { channel: "h" }, when: { kind: "threshold", above: 70 } };
  const errorsOf = (j: unknown): string[] => {
    const r = validateRule(j);
    return r.ok ? [] : r.errors;
  };

  it("accepts a good rule (and returns a copy)", () => {
    const r = validateRule(ok);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.rule).not.toBe(ok);
    expect(validateRule(humidity).ok).toBe(true);
  });

  it("names the field in every error", () => {
    expect(errorsOf({ ...ok, when: { kind: "threshold", above: "70" } })).toEqual(["when.above: must be a finite number"]);
    expect(errorsOf({ ...ok, when: { kind: "threshold", above: Infinity } })).toEqual(["when.above: must be a finite number"]);
    expect(errorsOf({ ...ok, when: { kind: "threshold", above: 60, clearBelow: 70 } })).toEqual(["when.clearBelow: must be <= above"]);
    expect(errorsOf({ ...ok, id: "a:b" })).toEqual(["id: may contain only letters, digits, '_', '-' and '.'"]);
    expect(errorsOf({ ...ok, match: { chanel: "h" } })).toEqual(["match.chanel: unknown field", "match.channel: must be a non-empty string of at most 128 chars"]);
    expect(errorsOf({ ...ok, when: { kind: "between" } })).toEqual(['when.kind: must be "threshold", "rate", "absence", "window", "all" or "any"']);
    expect(errorsOf({ ...ok, when: { kind: "window", window: { kind: "tumbling", sizeMs: 0 }, aggregate: "median", above: 1 } })).toEqual([
      "when.window.sizeMs: must be an integer number of ms in 1..2678400000",
      "when.aggregate: must be one of count, sum, min, max, mean, last, p50, p90, p99",
    ]);
    expect(errorsOf({ ...ok, when: { kind: "any", of: [{ kind: "absence" }] } })).toEqual(["when.of[0].forMs: is required"]);
    expect(errorsOf({ ...ok, raiseForMs: -5 })).toEqual(["raiseForMs: must be an integer number of ms in 0..2678400000"]);
    expect(errorsOf({ ...ok, actions: [{ kind: "webhook", url: "ftp://x", on: "raise" }, { kind: "command", device: "fan", on: "up" }] })).toEqual([
      "actions[0].url: must be an http:// or https:// URL of at most 2048 chars",
      'actions[1].on: must be "raise" or "clear"',
      "actions[1].command: must be a non-empty string of at most 128 chars",
    ]);
    expect(errorsOf({ ...ok, actions: [{ kind: "command", device: "fan", command: "x", args: { speed: {} }, on: "raise" }] })).toEqual([
      "actions[0].args.speed: must be a string, a finite number or a boolean",
    ]);
    expect(errorsOf(null)).toEqual(["rule: must be an object"]);
    expect(errorsOf({ ...ok, when: undefined })).toEqual(["when: is required"]);
  });

  it("enforces the named limits: bytes, depth, actions", () => {
    let deep: unknown = { kind: "threshold", above: 1 };
    for (let i = 0; i < 4; i++) deep = { kind: "all", of: [deep] };
    expect(errorsOf({ ...ok, when: deep })).toEqual(["when.of[0].of[0].of[0].of[0]: conditions nest deeper than 4"]);
    const actions = Array.from({ length: 9 }, () => ({ kind: "event", on: "raise" }));
    expect(errorsOf({ ...ok, actions })).toEqual(["actions: at most 8 actions"]);
    expect(errorsOf({ ...ok, name: "x".repeat(20_000) })).toEqual(["rule: larger than 16384 bytes of JSON"]);
    const cyclic: Record<string, unknown> = { ...ok };
    cyclic.self = cyclic;
    expect(errorsOf(cyclic)).toEqual(["rule: must be plain JSON"]);
  });

  it("never throws on arbitrary JSON", () => {
    fc.assert(fc.property(fc.jsonValue(), (j) => {
      const r = validateRule(j);
      expect(r.ok || r.errors.length > 0).toBe(true);
    }));
    fc.assert(fc.property(fc.jsonValue(), (j) => {
      const r = validateRule({ ...ok, when: j });
      expect(r.ok || r.errors.every((m) => m.startsWith("when"))).toBe(true);
    }));
  });
});
