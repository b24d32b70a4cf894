// Soak the delivery chaos scenario (test/harness/delivery-chaos.ts, issue 16
// item 8) with several seeds: one line per run (seed, counts, faults,
// verdict), the violations of failing runs, and a total. Exits 1 if any run
// failed; replay one with `--seed S` (or XSF_CHAOS_SEED=S on the test).
//   npm run soak:delivery -- --runs 5 [--from 100] [--devices 24] [--produce-ms 8000]
//   npm run soak:delivery -- --seed 123 [--trace]
import { runDeliveryChaos, type DeliveryChaosResult } from "../test/harness/delivery-chaos";

interface Args { runs: number; from: number; seed: number | undefined; devices: number; produceMs: number; trace: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 3, from: 1, seed: undefined, devices: 24, produceMs: 8_000, trace: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === "--trace") { a.trace = true; continue; }
    const v = Number(argv[++i]);
    if (!Number.isInteger(v) || v < 0) throw new Error(`${flag} needs a non-negative integer, got ${argv[i]}`);
    if (flag === "--runs") a.runs = v;
    else if (flag === "--from") a.from = v;
    else if (flag === "--seed") a.seed = v;
    else if (flag === "--devices") a.devices = v;
    else if (flag === "--produce-ms") a.produceMs = v;
    else throw new Error(`unknown argument ${flag} (--runs N --from S --seed S --devices N --produce-ms MS --trace)`);
  }
  if (a.devices < 1) throw new Error("--devices must be >= 1");
  return a;
}

const args = parseArgs(process.argv.slice(2));
const seeds = args.seed !== undefined ? [args.seed] : Array.from({ length: args.runs }, (_, i) => args.from + i);
const results: DeliveryChaosResult[] = [];
for (const [i, seed] of seeds.entries()) {
  const r = await runDeliveryChaos({ seed, devices: args.devices, produceMs: args.produceMs, ...(args.trace ? { log: (l: string) => console.log(`  ${l}`) } : {}) });
  results.push(r);
  console.log(`run ${i + 1}/${seeds.length}: ${r.line}`);
  for (const v of r.violations) console.log(`    ${v}`);
  for (const n of r.notes) console.log(`    note: ${n}`);
}
const failed = results.filter((r) => !r.ok);
const sum = (f: (r: DeliveryChaosResult) => number): number => results.reduce((n, r) => n + f(r), 0);
console.log(`total: ${results.length} runs, ${results.length - failed.length} passed, ${failed.length} failed` +
  (failed.length > 0 ? ` (seeds ${failed.map((r) => r.summary.seed).join(", ")})` : "") +
  `; telemetry ${sum((r) => r.summary.teleMade)} made, ${sum((r) => r.summary.teleConfirmed)} confirmed, ${sum((r) => r.summary.teleUnconfirmed)} unconfirmed, ` +
  `${sum((r) => r.summary.outDuplicates)} duplicate outputs, ${sum((r) => r.summary.retransmits)} retransmits`);
process.exit(failed.length > 0 ? 1 : 0);
