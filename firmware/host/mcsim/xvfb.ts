// A virtual X display for headless mcsim processes (the simulator is a GTK
// app). One Xvfb per process that needs it, shared by all its simulated
// devices; Xvfb picks a free display number itself (-displayfd).
import { spawn, type ChildProcess } from "node:child_process";

export interface VirtualDisplay {
  /** Value for $DISPLAY, e.g. ":5". */
  display: string;
  stop(): Promise<void>;
}

export const displayStartTimeoutMs = 15_000;

export function startVirtualDisplay(): Promise<VirtualDisplay> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn("Xvfb", ["-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "800x600x24"], { stdio: ["ignore", "ignore", "pipe", "pipe"] });
    } catch (e) {
      reject(new Error(`cannot start Xvfb (apt-get install xvfb; scripts/ensure-moddable.sh does): ${String(e)}`));
      return;
    }
    let err = "";
    let fd = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`Xvfb did not report a display within ${displayStartTimeoutMs} ms: ${err}`));
    }, displayStartTimeoutMs);
    child.stderr!.on("data", (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start Xvfb (apt-get install xvfb; scripts/ensure-moddable.sh does): ${e.message}`));
    });
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (d: Buffer) => {
      fd += d.toString();
      if (!fd.includes("\n")) return;
      clearTimeout(timer);
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      resolve({
        display: `:${fd.trim()}`,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGTERM");
            await exited;
          }
        },
      });
    });
  });
}
