// Soak the Raft simulator with many seeds.
//   npx tsx scripts/raft-soak.ts --seeds 20000 [--from 1] [--nodes 3|5|both]
//   npx tsx scripts/raft-soak.ts --seed 123 [--nodes 5]     replay one seed, print its stats
// Exits 1 if any seed fails; every failure prints its seed and how to replay it.

import { configForSeed, runSeed } from "../cloud/raft/sim";

interface Args {
  seeds: number;
  from: number;
  seed: number | undefined;
  nodes: (3 | 5)[];
  failuresMax: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seeds: 1000, from: 1, seed: undefined, nodes: [3, 5], failuresMax: 10 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const num = (): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer, got ${value}`);
      i++;
      return n;
    };
    switch (flag) {
      case "--seeds":
        args.seeds = num();
        break;
      case "--from":
        args.from = num();
        break;
      case "--seed":
        args.seed = num();
        break;
      case "--failures-max":
        args.failuresMax = num();
        break;
      case "--nodes":
        if (value === "3") args.nodes = [3];
        else if (value === "5") args.nodes = [5];
        else if (value === "both") args.nodes = [3, 5];
        else throw new Error(`--nodes must be 3, 5 or both, got ${value}`);
        i++;
        break;
      case "--help":
        console.log("usage: raft-soak.ts [--seeds N] [--from S] [--nodes 3|5|both] [--seed S] [--failures-max N]");
        process.exit(0);
      default:
        throw new Error(`unknown argument ${flag}`);
    }
  }
  return args;
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  if (args.seed !== undefined) {
    let failed = 0;
    for (const nodes of args.nodes) {
      const r = runSeed(args.seed, nodes);
      console.log(`seed ${args.seed} nodes ${nodes}: ${r.ok ? "ok" : "FAILED"}`);
      console.log(`  config ${JSON.stringify(configForSeed(args.seed, nodes))}`);
      console.log(`  stats  ${JSON.stringify(r.stats)}`);
      if (!r.ok) {
        console.log(r.error);
        failed++;
      }
    }
    return failed > 0 ? 1 : 0;
  }
  const total = args.seeds * args.nodes.length;
  const t0 = Date.now();
  let done = 0;
  let lastPrint = 0;
  const failures: string[] = [];
  const tty = process.stderr.isTTY;
  for (let s = args.from; s < args.from + args.seeds && failures.length < args.failuresMax; s++) {
    for (const nodes of args.nodes) {
      const r = runSeed(s, nodes);
      done++;
      if (!r.ok) {
        failures.push(`nodes=${nodes} seed=${s}`);
        console.log(`\nFAILED nodes=${nodes} seed=${s} — replay: npx tsx scripts/raft-soak.ts --nodes ${nodes} --seed ${s}\n${r.error}`);
      }
    }
    const now = Date.now();
    if (now - lastPrint > 1000 || done === total) {
      lastPrint = now;
      const rate = done / Math.max(1, (now - t0) / 1000);
      const eta = Math.round((total - done) / Math.max(rate, 0.001));
      const line = `raft-soak: ${done}/${total} runs (seed ${s}), ${failures.length} failed, ${rate.toFixed(1)} runs/s, eta ${eta}s`;
      if (tty) process.stderr.write(`\r${line}   `);
      else console.error(line);
    }
  }
  if (tty) process.stderr.write("\n");
  console.log(`raft-soak: ${done} runs in ${((Date.now() - t0) / 1000).toFixed(1)}s, ${failures.length} failed${failures.length ? `: ${failures.join(", ")}` : ""}`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = main();
