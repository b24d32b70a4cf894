// Runs one rule set and two window operators over a seeded room-climate-like
// stream (out of order, late points, presence, ticks). The XS test compares
// the JSON text of this result with Node's: the edge must alert and aggregate
// exactly like the cloud.
import { type AlertTransition, type RuleDef, RuleEngine, WindowOperator, type WindowResult, windowResultId } from "../../../shared/stream/index";
import { xorshift32 } from "./xorshift";

export interface StreamInput {
  seed: number;
  points: number;
}

export const streamRules: RuleDef[] = [
  {
    id: "humid",
    match: { channel: "humidity" },
    when: { kind: "threshold", above: 70, clearBelow: 60 },
    raiseForMs: 120_000,
    clearForMs: 30_000,
    actions: [
      { kind: "command", device: "fan-1", command: "fan", args: { on: true }, on: "raise" },
      { kind: "command", device: "fan-1", command: "fan", args: { on: false }, on: "clear" },
    ],
  },
  { id: "swing", match: { channel: "temperature" }, when: { kind: "rate", perMinuteAbove: 1.5, perMinuteBelow: -1.5 } },
  { id: "silent", match: { channel: "humidity", devices: ["room-0", "room-1", "room-2", "room-9"] }, when: { kind: "absence", forMs: 300_000 } },
  {
    id: "muggy",
    match: { channel: "humidity", groupBy: "site" },
    when: {
      kind: "all",
      of: [
        { kind: "window", window: { kind: "hopping", sizeMs: 300_000, hopMs: 60_000 }, aggregate: "p90", above: 68, clearBelow: 64 },
        { kind: "any", of: [{ kind: "threshold", above: 66 }, { kind: "rate", perMinuteAbove: 0.5 }] },
      ],
    },
  },
];

export default function run(input: StreamInput) {
  const next = xorshift32(input.seed);
  const rnd = () => next() / 4294967296;
  const devices = ["room-0", "room-1", "room-2", "room-3"];
  const engine = new RuleEngine(streamRules);
  devices.forEach((d, i) => engine.setMetadata(d, { site: i < 2 ? "north" : "south" }));
  const hop = new WindowOperator({
    id: "climate-5m",
    spec: { kind: "hopping", sizeMs: 300_000, hopMs: 60_000 },
    allowedLatenessMs: 120_000,
    watermarkDelayMs: 30_000,
    aggregates: ["p50", "p90", "p99"],
  });
  const sessions = new WindowOperator({ id: "bursts", spec: { kind: "session", gapMs: 45_000 }, allowedLatenessMs: 60_000, aggregates: ["p50"] });

  // Random walks sampled every ~10 s per device; arrival jittered within 25 s,
  // 2 % of points arrive minutes late, room-3 goes offline for a while.
  const level: Record<string, number> = {};
  const pts: { d: string; ch: string; t: number; v: number; at: number }[] = [];
  for (let i = 0; i < input.points; i++) {
    const d = devices[next() % devices.length]!;
    const ch = next() % 3 === 0 ? "temperature" : "humidity";
    const t = 1_700_000_000_000 + i * 2500 + (next() % 2500);
    const k = `${d}/${ch}`;
    level[k] = (level[k] ?? (ch === "humidity" ? 62 : 21)) + (rnd() - 0.5) * (ch === "humidity" ? 3 : 0.6);
    if (d === "room-3" && i > input.points / 3 && i < input.points / 2) continue;
    const late = next() % 50 === 0 ? 60_000 + (next() % 900_000) : 0;
    pts.push({ d, ch, t, v: level[k]!, at: t + rnd() * 25_000 + late });
  }
  pts.sort((a, b) => a.at - b.at || a.t - b.t);

  const transitions: AlertTransition[] = [];
  const results: WindowResult[] = [];
  const outcomes: Record<string, number> = {};
  let lastTick = 0;
  let offline = false;
  for (const p of pts) {
    if (!offline && p.d === "room-3" && p.t > 1_700_000_000_000 + (input.points / 3) * 2500) {
      engine.onPresence("room-3", false, p.at);
      offline = true;
    }
    const o = hop.add(p.d, p.ch, p.t, p.v);
    outcomes[o] = (outcomes[o] ?? 0) + 1;
    if (p.ch === "humidity") sessions.add(p.d, p.ch, p.t, p.v);
    engine.onPoint(p.d, p.ch, p.t, p.v);
    if (p.at - lastTick >= 15_000) {
      engine.tick(p.at);
      lastTick = p.at;
    }
    transitions.push(...engine.drain());
    results.push(...hop.drain(), ...sessions.drain());
  }
  engine.tick(lastTick + 600_000);
  transitions.push(...engine.drain());
  const snapshots = JSON.stringify({ engine: engine.snapshot(), hop: hop.snapshot() });
  hop.flush();
  sessions.flush();
  results.push(...hop.drain(), ...sessions.drain());

  const json = JSON.stringify({ transitions, results, hopStats: hop.stats, sessionStats: sessions.stats, engineStats: engine.stats, snapshots });
  return {
    json,
    ids: results.slice(0, 5).map(windowResultId).concat(transitions.slice(0, 5).map((t) => t.id)),
    counts: {
      transitions: transitions.length,
      raised: transitions.filter((t) => t.state === "raised").length,
      rules: [...new Set(transitions.map((t) => t.ruleId))].sort(),
      results: results.length,
      corrections: hop.stats.corrections,
      lateDropped: hop.stats.lateDropped,
      mergedSessions: results.filter((r) => r.mergedInto !== undefined).length,
      outcomes,
    },
  };
}
