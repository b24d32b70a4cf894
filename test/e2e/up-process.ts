// `xsfleet up` as a terminal runs it, for end-to-end tests: its own process
// group (pgid = its pid, as a shell's job control gives it), output
// collected, waits on what it prints, and the process tree read from /proc
// so a test can check that every descendant is gone after a stop.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../../cloud/infra";

const root = path.resolve(import.meta.dirname, "..", "..");
const bin = path.join(root, "bin", "xsfleet.mjs");

export interface UpProcess {
  child: ChildProcess;
  pgid: number;
  stateDir: string;
  output(): string;
  /** Resolves with the first match of `re` in the output from offset `from` (default 0) on; rejects if `up` exits first. */
  waitFor(re: RegExp, what: string, timeoutMs?: number, from?: number): Promise<RegExpExecArray>;
  /** Resolves with how `up` ended; rejects after timeoutMs. */
  exited(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills whatever is left (group and recorded descendants) and removes the state dir. */
  cleanup(pids?: readonly number[]): Promise<void>;
}

export async function startUp(args: string[]): Promise<UpProcess> {
  const stateDir = mkdtempSync(path.join(tmpdir(), "xsfleet-up-"));
  const basePort = await freePort();
  const child = spawn(process.execPath, [bin, "up", "--state-dir", stateDir, "--base-port", String(basePort), ...args], {
    cwd: root, stdio: ["ignore", "pipe", "pipe"], detached: true,
  });
  let out = "";
  const watchers = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of [...watchers]) w();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      resolve({ code, signal });
      for (const w of [...watchers]) w();
    });
  });
  return {
    child, pgid: child.pid!, stateDir,
    output: () => out,
    waitFor: (re, what, timeoutMs = 120_000, from = 0) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => { watchers.delete(check); reject(new Error(`${what}: not within ${timeoutMs} ms. Output:\n${out}`)); }, timeoutMs);
      const check = (): void => {
        const m = re.exec(out.slice(from));
        if (m) { clearTimeout(timer); watchers.delete(check); resolve(m); return; }
        if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer); watchers.delete(check);
          reject(new Error(`${what}: up exited (${child.exitCode ?? child.signalCode}) first. Output:\n${out}`));
        }
      };
      watchers.add(check);
      check();
    }),
    exited: (timeoutMs) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`up did not exit within ${timeoutMs} ms. Output:\n${out}`)), timeoutMs);
      void exit.then((e) => { clearTimeout(timer); resolve(e); });
    }),
    cleanup: async (pids = []) => {
      for (const pid of [child.pid!, ...pids]) {
        try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
      }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** pid → [ppid, command line] of every process, from /proc. */
function processTable(): Map<number, { ppid: number; cmd: string }> {
  const table = new Map<number, { ppid: number; cmd: string }>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces and parentheses.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] === "Z") continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      table.set(Number(name), { ppid: Number(rest[1]), cmd });
    } catch {
      // exited while we read
    }
  }
  return table;
}

/** Every live descendant of `pid` with its command line. */
export function descendants(pid: number): { pid: number; cmd: string }[] {
  const table = processTable();
  const out: { pid: number; cmd: string }[] = [];
  const walk = (parent: number): void => {
    for (const [p, e] of table) {
      if (e.ppid === parent) {
        out.push({ pid: p, cmd: e.cmd });
        walk(p);
      }
    }
  };
  walk(pid);
  return out;
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Waits until none of `pids` is alive; returns those still alive at the deadline. */
export async function waitGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 100));
  }
}
