// Ingest nodes as child processes (test/harness/ingest-node.ts) for chaos
// tests, soak scripts and benchmarks: start, read their latest stats, kill -9
// or stop gracefully. Bounded log: the last logLinesMax stderr lines.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { IngestConfig, IngestStats } from "../../cloud/ingest";
import { waitFor } from "./wait";

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, "../..");
const logLinesMax = 200;

export interface IngestProcess {
  readonly nodeId: string;
  /** Last stats line the node printed (null before the first). */
  stats(): IngestStats | null;
  /** The next stats line; rejects when none comes within timeoutMs (a blocked event loop, a dead node). */
  nextStats(timeoutMs?: number): Promise<IngestStats>;
  running(): boolean;
  /** kill -9: no ack, no nak, no flush. */
  kill9(): Promise<void>;
  /** SIGTERM: the role stops gracefully. */
  stop(): Promise<void>;
  log(): string;
}

export interface IngestProcessOptions {
  servers: readonly string[];
  nodeId: string;
  config: Partial<IngestConfig>;
  /** How long to wait for "ready" (default 60 s: ingest may wait for streams). */
  readyTimeoutMs?: number;
}

export async function startIngestProcess(o: IngestProcessOptions): Promise<IngestProcess> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", path.join(here, "ingest-node.ts"), o.servers.join(","), o.nodeId, JSON.stringify(o.config)], {
    cwd: REPO, stdio: ["ignore", "pipe", "pipe"],
  });
  let last: IngestStats | null = null;
  const waiting: Array<(st: IngestStats) => void> = [];
  let ready = false;
  let buf = "";
  const log: string[] = [];
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === "ready") ready = true;
      else if (line.startsWith("{")) {
        const st = JSON.parse(line) as IngestStats;
        last = st;
        for (const w of waiting.splice(0)) w(st);
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    for (const line of d.split("\n")) if (line) log.push(line);
    if (log.length > logLinesMax) log.splice(0, log.length - logLinesMax);
  });
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const proc: IngestProcess = {
    nodeId: o.nodeId,
    stats: () => last,
    nextStats: (timeoutMs = 5_000) => new Promise<IngestStats>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = waiting.indexOf(got);
        if (i >= 0) waiting.splice(i, 1);
        reject(new Error(`ingest node ${o.nodeId} printed no stats for ${timeoutMs} ms (${running() ? "running: event loop blocked?" : "exited"})`));
      }, timeoutMs);
      const got = (st: IngestStats): void => { clearTimeout(timer); resolve(st); };
      waiting.push(got);
    }),
    running,
    kill9: async () => { if (running()) { child.kill("SIGKILL"); await exited; } },
    stop: async () => { if (running()) { child.kill("SIGTERM"); await exited; } },
    log: () => log.join("\n"),
  };
  try {
    await waitFor(`ingest node ${o.nodeId} ready`, () => {
      if (!running()) throw new Error(`ingest node ${o.nodeId} exited: ${log.slice(-10).join("\n")}`);
      return ready;
    }, { timeoutMs: o.readyTimeoutMs ?? 60_000, intervalMs: 50, detail: () => log.slice(-20).join("\n") });
  } catch (err) {
    await proc.kill9();
    throw err;
  }
  return proc;
}
