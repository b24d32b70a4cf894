// Where a process spends its CPU: an in-process V8 CPU profile of one phase
// (node:inspector, the same data as `node --cpu-prof`) and a summary of a
// .cpuprofile by self time per function and per source file. Benchmarks use
// it to print the top functions beside their figures, so a gap is explained
// by a profile rather than a guess.
//
//   npx tsx bench/lib/cpu-profile.ts <file.cpuprofile> [top]   summarises a file
import { Session } from "node:inspector";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime { name: string; ms: number; pct: number }
export interface ProfileSummary { totalMs: number; idlePct: number; functions: SelfTime[]; files: SelfTime[] }

/** Shortens a script URL to its path inside the repository or node_modules. */
function shortUrl(url: string): string {
  if (url === "") return "(native)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + "node_modules/".length);
  const m = /\/(cloud|shared|bench|firmware|test)\/.*/.exec(url);
  return m ? m[0].slice(1) : url.replace(/^file:\/\//, "");
}

/** Self time per function and per file, highest first; idle and GC as their own rows. */
export function summarizeProfile(p: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // An in-process profile ends inside the inspector's own call (Profiler.stop
  // building the profile): not the workload's time, left out.
  const own = new Set<number>();
  const mark = (id: number): void => { own.add(id); for (const c of byId.get(id)?.children ?? []) mark(c); };
  for (const n of p.nodes) if (n.callFrame.functionName === "post" && n.callFrame.url === "node:inspector") mark(n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    if (own.has(id)) continue;
    const n = byId.get(id)!;
    const f = n.callFrame;
    total += us;
    if (f.functionName === "(idle)") { idle += us; continue; }
    const where = shortUrl(f.url);
    const name = `${f.functionName || "(anonymous)"} ${where}${f.url ? `:${f.lineNumber + 1}` : ""}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const fk = f.url ? where.replace(/^(@[^/]+\/[^/]+|[^@/][^/]*)\/.*$/, (m0, pkg: string) => (m0.includes(".ts") || m0.startsWith("cloud") || m0.startsWith("shared") ? m0 : pkg)) : f.functionName;
    file.set(fk, (file.get(fk) ?? 0) + us);
  }
  const busy = Math.max(1, total - idle);
  const rows = (m: Map<string, number>): SelfTime[] =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / busy }));
  return { totalMs: total / 1000, idlePct: (100 * idle) / Math.max(1, total), functions: rows(fn), files: rows(file) };
}

export function printSummary(title: string, s: ProfileSummary): void {
  console.log(`${title}: ${(s.totalMs / 1000).toFixed(1)} s profiled, ${s.idlePct.toFixed(0)} % idle; self time as % of busy time`);
  console.log("  top functions:");
  for (const r of s.functions) console.log(`    ${r.pct.toFixed(1).padStart(5)} %  ${r.name}`);
  console.log("  by package / file:");
  for (const r of s.files.slice(0, 10)) console.log(`    ${r.pct.toFixed(1).padStart(5)} %  ${r.name}`);
}

/** Profiles this process while `run` runs; writes the .cpuprofile to `file` when given. */
export async function profileDuring<T>(file: string | null, run: () => Promise<T>): Promise<{ result: T; profile: CpuProfile }> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 500 });
  await post("Profiler.start");
  let result: T;
  try {
    result = await run();
  } finally {
    const { profile } = (await post("Profiler.stop")) as { profile: CpuProfile };
    session.disconnect();
    if (file) writeFileSync(file, JSON.stringify(profile));
    (profileDuring as unknown as { last: CpuProfile }).last = profile;
  }
  return { result, profile: (profileDuring as unknown as { last: CpuProfile }).last };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) throw new Error("usage: tsx bench/lib/cpu-profile.ts <file.cpuprofile> [top]");
  printSummary(file, summarizeProfile(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, Number(process.argv[3] ?? 20)));
}
