// Recovery agents as child processes (cloud/recovery/agent-main.ts) that a
// test can kill -9, SIGSTOP and SIGCONT, with their JSON-line output
// collected and awaited by predicate (test/harness/wait; no timed assertions).

import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "../../harness/wait";

const here = path.dirname(fileURLToPath(import.meta.url));
const agentMain = path.resolve(here, "../../../cloud/recovery/agent-main.ts");

export interface AgentLine {
  node: string;
  t: number;
  event: string;
  /** Arrival time in the test process. */
  seenAtMs: number;
  [k: string]: unknown;
}

export interface AgentProcess {
  readonly nodeId: string;
  readonly child: ChildProcess;
  readonly lines: AgentLine[];
  waitFor(pred: (l: AgentLine) => boolean, what: string, timeoutMs?: number): Promise<AgentLine>;
  signal(sig: NodeJS.Signals): void;
  exited: Promise<void>;
}

export function spawnAgent(config: Record<string, unknown> & { nodeId: string }): AgentProcess {
  const child = spawn(process.execPath, ["--import", "tsx", agentMain, JSON.stringify(config)], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: AgentLine[] = [];
  let buf = "";
  child.stdout!.on("data", (b: Buffer) => {
    buf += b.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push({ ...(JSON.parse(line) as AgentLine), seenAtMs: Date.now() });
      } catch {
        // not a JSON line: ignore
      }
    }
  });
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => {
    stderr += b.toString();
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    nodeId: config.nodeId, child, lines, exited,
    signal: (sig) => child.kill(sig),
    waitFor: (pred, what, timeoutMs = 30_000) => waitFor(`${config.nodeId}: ${what}`, () => lines.find(pred), {
      timeoutMs, intervalMs: 10,
      detail: () => `stderr:\n${stderr.slice(-2000)}\nlast lines: ${JSON.stringify(lines.slice(-5))}`,
    }),
  };
}

export async function killAll(agents: readonly AgentProcess[]): Promise<void> {
  await Promise.all(agents.map(async (a) => {
    if (a.child.exitCode !== null || a.child.signalCode !== null) return;
    a.child.kill("SIGCONT");
    a.child.kill("SIGKILL");
    await a.exited;
  }));
}
