// `xsfleet up --prometheus`: Debian's `prometheus` as an owned child of `up`,
// scraping every process of the stack through the file-based service
// discovery file that stack-metrics.ts writes (re-read on change, so a
// process that comes later is scraped without a reload). Data in
// `<state-dir>/prometheus/data`, 15 d retention by Prometheus' default; the
// UI and PromQL API on 127.0.0.1:<port>.
import { type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import path from "node:path";
import { childExited, describeExit, spawnOwnedChild, stopChild } from "../infra";

/** Scrape and evaluation interval of the local stack: short, so a newcomer sees data at once. */
export const stackScrapeIntervalS = 5;
const readyTimeoutMs = 30_000;
const binaries = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"];

export interface LocalPrometheus {
  readonly url: string;
  stop(graceMs: number): Promise<void>;
}

export function findPrometheus(): string | null {
  return process.env.PROMETHEUS && existsSync(process.env.PROMETHEUS) ? process.env.PROMETHEUS : (binaries.find((b) => existsSync(b)) ?? null);
}

/** The scrape configuration: one file_sd job over the targets file (job and instance labels come from it). */
export function prometheusConfig(targetsFile: string): string {
  return [
    "global:",
    `  scrape_interval: ${stackScrapeIntervalS}s`,
    `  evaluation_interval: ${stackScrapeIntervalS}s`,
    "scrape_configs:",
    "  - job_name: xsfleet",
    "    file_sd_configs:",
    `      - files: [${JSON.stringify(targetsFile)}]`,
    "        refresh_interval: 5s",
    "",
  ].join("\n");
}

export async function startPrometheus(opts: { stateDir: string; targetsFile: string; port: number; logDir: string }): Promise<LocalPrometheus> {
  const bin = findPrometheus();
  if (!bin) throw new Error("--prometheus needs Debian's prometheus: apt-get install --no-install-recommends prometheus (or set PROMETHEUS=/path/to/prometheus)");
  const dir = path.join(opts.stateDir, "prometheus");
  mkdirSync(path.join(dir, "data"), { recursive: true });
  mkdirSync(opts.logDir, { recursive: true });
  const configFile = path.join(dir, "prometheus.yml");
  writeFileSync(configFile, prometheusConfig(opts.targetsFile));
  const out = openSync(path.join(opts.logDir, "prometheus.log"), "a");
  const url = `http://127.0.0.1:${opts.port}`;
  const child: ChildProcess = spawnOwnedChild(bin, [
    `--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${opts.port}`,
    // Keeps the exemplars cloud nodes serve (ingest's processing histogram → trace ids): /api/v1/query_exemplars.
    "--enable-feature=exemplar-storage",
  ], { stdio: ["ignore", out, out] });
  const exited = childExited(child);
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    const early = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 250))]);
    if (early) throw new Error(`prometheus ${describeExit(early)} at start; see ${path.join(opts.logDir, "prometheus.log")}`);
    if ((await fetch(`${url}/-/ready`).then((r) => r.ok, () => false))) break;
    if (Date.now() > deadline) {
      await stopChild(child, 1_000);
      throw new Error(`prometheus did not become ready within ${readyTimeoutMs / 1000} s; see ${path.join(opts.logDir, "prometheus.log")}`);
    }
  }
  return { url, stop: async (graceMs) => { await stopChild(child, graceMs); } };
}
