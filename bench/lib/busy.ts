// A fixed background CPU load for benchmarks (`--busy N`): N child processes
// that spin on the CPU until stopped, so a comparison "when the machine is
// busy" runs every system against the same contention instead of whatever
// else the machine happens to run. Bounded: at most busyProcessesMax, each
// killed by stop() and on this process's exit.
import { spawn, type ChildProcess } from "node:child_process";

export const busyProcessesMax = 64;

export interface BusyLoad {
  readonly processes: number;
  stop(): void;
}

/** Starts `n` busy-loop processes (0: none). */
export function startBusyLoad(n: number): BusyLoad {
  if (!Number.isInteger(n) || n < 0 || n > busyProcessesMax) throw new Error(`--busy must be 0..${busyProcessesMax}, got ${n}`);
  const children: ChildProcess[] = Array.from({ length: n }, () =>
    spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  const stop = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  };
  process.once("exit", stop);
  return { processes: n, stop };
}

/** `--busy N` from argv; 0 when absent. */
export function busyFromArgv(argv: readonly string[]): number {
  const i = argv.indexOf("--busy");
  if (i < 0) return 0;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--busy needs a count of processes, got ${argv[i + 1]}`);
  return n;
}
