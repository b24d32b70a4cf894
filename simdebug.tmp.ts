import { runIngestSeed } from "./cloud/ingest/sim";
const seed = Number(process.argv[2]);
const r = await runIngestSeed(seed);
console.log(JSON.stringify(r.config));
console.log(r.problems.join("\n"));
