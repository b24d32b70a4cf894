// Soak the CASPaxos simulator with many seeds.
//   npx tsx scripts/paxos-soak.ts --seeds 20000 [--from 1] [--acceptors 3|5|both]
//   npx tsx scripts/paxos-soak.ts --seed 123 [--acceptors 5]      replay one seed, print its stats
//   npx tsx scripts/paxos-soak.ts --mutation accept-without-quorum --seeds 300   plant a bug: expect failures
// Exits 1 if any seed fails; every failure prints its seed and how to replay
// it (pin it in test/cloud/paxos/sim/regressions.test.ts).

import { MUTATIONS, configForSeed, isMutation, runPaxosSeed, type Mutation } from "../cloud/paxos/sim";

interface Args {
  seeds: number;
  from: number;
  seed: number | undefined;
  acceptors: (3 | 5)[];
  failuresMax: number;
  mutation: Mutation | null;
}

const USAGE = `usage: paxos-soak.ts [--seeds N] [--from S] [--acceptors 3|5|both] [--seed S] [--failures-max N] [--mutation NAME]
  mutations (planted bugs the simulator must catch): ${MUTATIONS.join(", ")}`;

function parseArgs(argv: string[]): Args {
  const args: Args = { seeds: 1000, from: 1, seed: undefined, acceptors: [3, 5], failuresMax: 10, mutation: null };
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
      case "--acceptors":
        if (value === "3") args.acceptors = [3];
        else if (value === "5") args.acceptors = [5];
        else if (value === "both") args.acceptors = [3, 5];
        else throw new Error(`--acceptors must be 3, 5 or both, got ${value}`);
        i++;
        break;
      case "--mutation":
        if (value === undefined || !isMutation(value)) throw new Error(`--mutation must be one of ${MUTATIONS.join(", ")}, got ${value}`);
        args.mutation = value;
        i++;
        break;
      case "--help":
        console.log(USAGE);
        process.exit(0);
      default:
        throw new Error(`unknown argument ${flag}\n${USAGE}`);
    }
  }
  return args;
}

function replay(a: Args, seed: number): number {
  let failed = 0;
  for (const n of a.acceptors) {
    const r = runPaxosSeed(seed, n, a.mutation);
    console.log(`seed ${seed} acceptors ${n}: ${r.ok ? "ok" : "FAILED"}`);
    console.log(`  config ${JSON.stringify(configForSeed(seed, n, a.mutation))}`);
    console.log(`  stats  ${JSON.stringify(r.stats)}`);
    if (!r.ok) {
      console.log(r.error);
      failed++;
    }
  }
  return failed > 0 ? 1 : 0;
}

function main(): number {
  const a = parseArgs(process.argv.slice(2));
  if (a.seed !== undefined) return replay(a, a.seed);
  const total = a.seeds * a.acceptors.length;
  const t0 = Date.now();
  let done = 0;
  let lastPrint = 0;
  const failures: string[] = [];
  const tty = process.stderr.isTTY;
  const mut = a.mutation ? ` --mutation ${a.mutation}` : "";
  for (let s = a.from; s < a.from + a.seeds && failures.length < a.failuresMax; s++) {
    for (const n of a.acceptors) {
      const r = runPaxosSeed(s, n, a.mutation);
      done++;
      if (!r.ok) {
        failures.push(`acceptors=${n} seed=${s}`);
        console.log(`\nFAILED acceptors=${n} seed=${s} — replay: npx tsx scripts/paxos-soak.ts --acceptors ${n} --seed ${s}${mut}\n${r.error}`);
      }
    }
    const now = Date.now();
    if (now - lastPrint > 1000 || done === total) {
      lastPrint = now;
      const rate = done / Math.max(1, (now - t0) / 1000);
      const eta = Math.round((total - done) / Math.max(rate, 0.001));
      const line = `paxos-soak: ${done}/${total} runs (seed ${s}), ${failures.length} failed, ${rate.toFixed(1)} runs/s, eta ${eta}s`;
      if (tty) process.stderr.write(`\r${line}   `);
      else console.error(line);
    }
  }
  if (tty) process.stderr.write("\n");
  console.log(`paxos-soak: ${done} runs in ${((Date.now() - t0) / 1000).toFixed(1)}s, ${failures.length} failed${failures.length ? `: ${failures.join(", ")}` : ""}${mut}`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = main();
