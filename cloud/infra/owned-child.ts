// Child processes that belong to one parent (the local stack's broker, Raft
// replicas and cloud nodes under `xsfleet up`):
//
//  - each runs in its own process group (detached), so a terminal's Ctrl-C
//    (SIGINT to the foreground group) reaches only the parent, which then
//    stops them in its documented order instead of all dying at once;
//  - on Linux each gets a parent-death signal (util-linux `setpriv
//    --pdeathsig TERM`, which execs the command under the same pid): if the
//    parent is killed without a chance to stop them, they get SIGTERM from
//    the kernel and stop by themselves — no orphan keeps ports or files;
//  - stopping is bounded: SIGTERM, then SIGKILL after a grace period.
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { existsSync } from "node:fs";

/** How a child ended: exit code, or the signal that killed it, or why it never ran. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: string | null;
  readonly error?: string;
}

const setprivPaths = ["/usr/bin/setpriv", "/bin/setpriv"];
let setprivPath: string | null | undefined;

/** util-linux setpriv when present (Linux); null elsewhere. */
export function findSetpriv(): string | null {
  if (setprivPath === undefined) setprivPath = process.platform === "linux" ? (setprivPaths.find((p) => existsSync(p)) ?? null) : null;
  return setprivPath;
}

export interface OwnedChildOptions {
  stdio?: StdioOptions;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Spawns `command args` in its own process group with a parent-death SIGTERM (where the OS allows). */
export function spawnOwnedChild(command: string, args: readonly string[], opts: OwnedChildOptions = {}): ChildProcess {
  const setpriv = findSetpriv();
  const [cmd, argv] = setpriv ? [setpriv, ["--pdeathsig", "TERM", "--", command, ...args]] : [command, [...args]];
  return spawn(cmd, argv, { detached: true, stdio: opts.stdio ?? "ignore", env: opts.env ?? process.env, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Settles when the child has exited (at once when it already has). */
export function childExited(child: ChildProcess): Promise<ChildExit> {
  if (!isRunning(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (e) => { if (child.pid === undefined) resolve({ code: null, signal: null, error: e.message }); });
  });
}

/** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves with how it ended. */
export async function stopChild(child: ChildProcess, graceMs: number, signal: NodeJS.Signals = "SIGTERM"): Promise<ChildExit> {
  const exited = childExited(child);
  if (!isRunning(child)) return exited;
  child.kill(signal);
  const timer = setTimeout(() => { if (isRunning(child)) child.kill("SIGKILL"); }, graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** "exited with code 0", "killed by SIGKILL", "failed to start: …" — for logs and status. */
export function describeExit(e: ChildExit): string {
  if (e.error) return `failed to start: ${e.error}`;
  if (e.signal) return `killed by ${e.signal}`;
  return `exited with code ${e.code ?? "?"}`;
}
