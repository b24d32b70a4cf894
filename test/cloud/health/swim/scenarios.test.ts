// Golden-file SWIM scenarios in a tiny command language (etcd raft's
// datadriven style). Each block is a command, a `----` line and its expected
// output; run with XSFLEET_REWRITE=1 to regenerate the expected outputs after
// an intended behaviour change, then review the diff.
//
//   cluster n=8 seed=7 [loss=0.05] [delay=1-20] [gossip=3]
//   run <ms> | crash <id> | pause <id> | resume <id> | leave <id> | heal
//   partition a,b|c,d | join <id> <seed>
//   until <state> <target> [timeout=<ms>]   all other up nodes see target in state
//   converged [timeout=<ms>]                 all up nodes see each other alive
//   views                                   each observer's view: A S D L (self: *)
//   events <target>                         state changes about target, grouped
//   incarnation <id>

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SwimSimulation } from "../../../../cloud/health/swim/simulator";

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "testdata");
const REWRITE = process.env.XSFLEET_REWRITE === "1";

interface Block {
  command: string;
  expected: string[];
}

function parse(text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = (lines[i] as string).trimEnd();
    i++;
    if (line === "" || line.startsWith("#")) continue;
    if (lines[i]?.trimEnd() !== "----") throw new Error(`line ${i}: expected ---- after "${line}"`);
    i++;
    const expected: string[] = [];
    while (i < lines.length && (lines[i] as string).trimEnd() !== "") expected.push((lines[i++] as string).trimEnd());
    blocks.push({ command: line, expected });
  }
  return blocks;
}

function render(blocks: Array<{ command: string; output: string[] }>, original: string): string {
  // Keep the comments that precede each command.
  const comments = new Map<number, string[]>();
  let pending: string[] = [];
  let index = 0;
  const lines = original.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith("#")) pending.push(line);
    else if (lines[i + 1]?.trimEnd() === "----") {
      comments.set(index++, pending);
      pending = [];
    }
  }
  return blocks.map((b, k) => [...(comments.get(k) ?? []), b.command, "----", ...b.output].join("\n")).join("\n\n") + "\n";
}

const LETTER: Record<string, string> = { alive: "A", suspect: "S", dead: "D", left: "L" };

class Runner {
  sim: SwimSimulation | undefined;

  run(command: string): string[] {
    const [verb, ...args] = command.split(/\s+/);
    const opts = Object.fromEntries(args.filter((a) => a.includes("=")).map((a) => a.split("=") as [string, string]));
    const pos = args.filter((a) => !a.includes("="));
    if (verb === "cluster") {
      const [dMin, dMax] = (opts.delay ?? "1-5").split("-").map(Number);
      this.sim = new SwimSimulation({
        seed: Number(opts.seed ?? 1),
        n: Number(opts.n),
        swim: opts.gossip === undefined ? {} : { gossipNodes: Number(opts.gossip) },
        network: { lossRate: Number(opts.loss ?? 0), delayMinMs: dMin, delayMaxMs: dMax },
      });
      return ["ok"];
    }
    const sim = this.sim;
    if (sim === undefined) throw new Error("no cluster: start with `cluster`");
    const id = pos[0] as string;
    switch (verb) {
      case "run":
        sim.runFor(Number(id));
        return [`t=${sim.nowMs}`];
      case "crash":
        sim.crash(id);
        return ["ok"];
      case "pause":
        sim.pause(id);
        return ["ok"];
      case "resume":
        sim.resume(id);
        return ["ok"];
      case "leave":
        sim.leave(id);
        return ["ok"];
      case "heal":
        sim.heal();
        return ["ok"];
      case "partition":
        sim.partition(id.split("|").map((g) => g.split(",")));
        return ["ok"];
      case "join":
        sim.addNode(id, [pos[1] as string]);
        return ["ok"];
      case "until": {
        const [state, target] = pos as [string, string];
        const observers = () => sim.liveIds().filter((o) => o !== target);
        const done = sim.runUntilCondition(() => observers().every((o) => sim.viewOf(o, target) === state), Number(opts.timeout ?? 60_000));
        return [done ? `t=${sim.nowMs}` : `timeout at t=${sim.nowMs}`];
      }
      case "converged": {
        const up = () => sim.liveIds();
        const done = sim.runUntilCondition(() => up().every((o) => up().every((t) => sim.viewOf(o, t) === "alive")), Number(opts.timeout ?? 60_000));
        return [done ? `t=${sim.nowMs}` : `timeout at t=${sim.nowMs}`];
      }
      case "views":
        return sim.ids().map((o) => `${o}: ${sim.ids().map((t) => (o === t ? "*" : (LETTER[sim.viewOf(o, t) ?? ""] ?? "?"))).join(" ")}`);
      case "events": {
        const groups = new Map<string, number[]>();
        for (const e of sim.events) {
          if (e.node !== id || e.observer === id) continue;
          const key = `${e.state} inc=${e.incarnation}`;
          const list = groups.get(key) ?? [];
          list.push(e.atMs);
          groups.set(key, list);
        }
        if (groups.size === 0) return ["none"];
        return [...groups].map(([key, times]) => `${key}: ${times.length} observers, t=${Math.min(...times)}..${Math.max(...times)}`);
      }
      case "incarnation":
        return [`${id} incarnation=${sim.node(id).incarnation}`];
      default:
        throw new Error(`unknown command ${verb}`);
    }
  }
}

describe("SWIM scenarios (testdata/*.txt)", () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith(".txt")).sort()) {
    it(file, () => {
      const text = readFileSync(path.join(DIR, file), "utf8");
      const runner = new Runner();
      const results = parse(text).map((b) => ({ ...b, output: runner.run(b.command) }));
      if (REWRITE) {
        writeFileSync(path.join(DIR, file), render(results, text));
        return;
      }
      for (const r of results) expect(r.output.join("\n"), `${file}: ${r.command}`).toBe(r.expected.join("\n"));
    });
  }
});
