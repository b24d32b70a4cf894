import { runIngestSeed } from "./cloud/ingest/sim";
const n = Number(process.argv[2] ?? 10);
for (let seed = 1; seed <= n; seed++) {
  const t0 = Date.now();
  const r = await runIngestSeed(seed);
  console.log(seed, r.ok, Date.now() - t0, "ms", JSON.stringify(r.stats), r.problems.slice(0, 3).join(" | "));
}
