// One simulated device running the Moddable-built firmware (mc.so from
// build.ts) in the SDK's simulator: `mcsim` under a virtual display, its
// traces on stdout through the SDK's tools/xsbug-log (its debugger front end
// in text mode; cleanLine strips its decoration). The device's working directory is its flash: the
// provisioning file (xsfleet-device.json, overlaid on mc/config), the trace
// it replays (trace.bin) and Preference's modpreferences.json.
//
// Two processes per device: xsbug-log listening on a port of its own, and
// mcsim (own process group) connecting to it. kill() is a power loss
// (SIGKILL to the simulator, mid-write if it happens to be; xsbug-log is
// then stopped); stop() asks politely (SIGTERM). Starting again on the same
// stateDir is a reboot.
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import type { TraceRow } from "../../sim/replay-source";
import { encodeTraceTable } from "../../sim/trace-table";
import type { ModdableSdk } from "./sdk";

/** Trace lines kept per device (older ones are dropped). */
export const traceLinesMax = 5_000;
/** mcsim has this long to trace "started" before start() fails. */
export const deviceStartTimeoutMs = 60_000;

export type DeviceSettingValue = string | number | boolean;

export interface McsimDeviceOptions {
  sdk: ModdableSdk;
  mcSo: string;
  /** $DISPLAY of a virtual display (xvfb.ts). */
  display: string;
  stateDir: string;
  /** Keys overlaid on mc/config: deviceId, mqttHost, mqttPort, cadences, … */
  settings: Readonly<Record<string, DeviceSettingValue>>;
  /** Rows a sensor replays (written as trace.bin); omitted: keep the file there. */
  trace?: readonly TraceRow[];
  /** Every trace line, as it arrives. */
  onLine?: (line: string) => void;
}

export interface McsimDevice {
  readonly deviceId: string;
  readonly stateDir: string;
  readonly pid: number;
  /** The last traceLinesMax trace lines. */
  readonly lines: readonly string[];
  /** Emits "line" (string) and "exit" (code). */
  readonly events: EventEmitter;
  readonly exited: Promise<number | null>;
  /** Resolves with the first line (already seen or new) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number, fromIndex?: number): Promise<string>;
  /** Lines traced so far (an index for waitForLine's fromIndex). */
  lineCount(): number;
  /** What Preference holds on disk (modpreferences.json), by domain and key. */
  preferences(): Record<string, Record<string, unknown>>;
  /** Power loss: SIGKILL to the simulator (its xsbug-log is stopped after). */
  kill(): Promise<void>;
  /** Freezes (SIGSTOP) or resumes (SIGCONT) the simulator, e.g. to pick the instant of a power loss. */
  pause(paused: boolean): void;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
}

export const provisioningFile = "xsfleet-device.json";
export const preferencesFile = "modpreferences.json";
export const traceFile = "trace.bin";

const live = new Set<ChildProcess>();
process.once("exit", () => killAllMcsimProcesses());

/** SIGKILL to every simulator and xsbug-log this process started (test teardown, crashes). */
export function killAllMcsimProcesses(): void {
  for (const c of live) killGroup(c, "SIGKILL");
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Ports handed to xsbug-log by this process (two devices must never race for one). */
const portsGiven = new Set<number>();
/** Tries before giving up when xsbug-log finds its port taken. */
export const xsbugPortTriesMax = 5;

async function freshPort(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (!portsGiven.has(p)) {
      portsGiven.add(p);
      return p;
    }
  }
}

/** Starts the SDK's xsbug-log as the debugger endpoint the simulator traces to. */
async function startXsbugLog(o: McsimDeviceOptions, onData: (d: Buffer) => void): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freshPort();
    const child = spawn(process.execPath, [o.sdk.xsbugLog], {
      cwd: o.stateDir, detached: true, stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, MODDABLE: o.sdk.root, XSBUG_LOG_PORT: String(port), XSBUG_PROJECT: o.stateDir },
    });
    live.add(child);
    child.once("exit", () => live.delete(child));
    const outcome = await new Promise<"listening" | "taken" | "exited">((resolve) => {
      let text = "";
      const onOut = (d: Buffer): void => {
        text += d.toString();
        if (/already in use/.test(text)) resolve("taken");
        else if (/listening on port/.test(text)) resolve("listening");
      };
      child.stdout!.on("data", onOut);
      child.once("exit", () => resolve("exited"));
      setTimeout(() => resolve("exited"), deviceStartTimeoutMs).unref();
    });
    if (outcome === "listening") {
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      return { child, port };
    }
    killGroup(child, "SIGKILL");
    if (attempt >= xsbugPortTriesMax) throw new Error(`xsbug-log could not listen (${outcome}) after ${attempt} ports`);
  }
}

export async function startMcsimDevice(o: McsimDeviceOptions): Promise<McsimDevice> {
  const deviceId = String(o.settings.deviceId ?? "");
  if (deviceId === "") throw new Error("settings.deviceId is required");
  if (!existsSync(o.mcSo)) throw new Error(`${o.mcSo} not found; build the firmware first (npm run build:firmware)`);
  mkdirSync(path.join(o.stateDir, ".mcsim"), { recursive: true });
  writeFileSync(path.join(o.stateDir, provisioningFile), JSON.stringify({ traceFile, ...o.settings }, null, 2));
  if (o.trace !== undefined) writeFileSync(path.join(o.stateDir, traceFile), encodeTraceTable(o.trace));
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const lines: string[] = [];
  let count = 0;
  let partial = "";
  const onData = (d: Buffer): void => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop()!;
    for (const raw of parts) {
      const line = cleanLine(raw);
      if (line === "") continue;
      lines.push(line);
      if (lines.length > traceLinesMax) lines.shift();
      count++;
      o.onLine?.(line);
      events.emit("line", line);
    }
  };
  const xsbug = await startXsbugLog(o, onData);
  // The simulator itself, in its own process group, tracing to that xsbug-log.
  const child = spawn(o.sdk.mcsim, [o.mcSo], {
    cwd: o.stateDir, detached: true, stdio: ["ignore", "pipe", "pipe"],
    // mcsim copies the app into $XDG_CONFIG_HOME/tech.moddable.mcsim/ before loading it: one per device,
    // or concurrent simulators overwrite (and load) each other's mc.so.
    env: {
      ...process.env, MODDABLE: o.sdk.root, DISPLAY: o.display, XSBUG_PORT: String(xsbug.port), XSBUG_HOST: "127.0.0.1",
      XDG_CONFIG_HOME: path.join(o.stateDir, ".mcsim"),
    },
  });
  live.add(child);
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => {
    live.delete(child);
    killGroup(xsbug.child, "SIGTERM"); // xsbug-log outlives its machines otherwise
    events.emit("exit", code);
    resolve(code);
  }));
  let exitCode: number | null | undefined;
  void exited.then((c) => { exitCode = c; });

  const waitForLine = (pattern: RegExp, timeoutMs = 30_000, fromIndex = 0): Promise<string> => new Promise((resolve, reject) => {
    const first = count - lines.length; // index of lines[0]
    for (let i = Math.max(0, fromIndex - first); i < lines.length; i++) if (pattern.test(lines[i]!)) return resolve(lines[i]!);
    if (exitCode !== undefined) return reject(new Error(`${deviceId}: mcsim exited (${exitCode}) before a line matching ${pattern}; last lines:\n${lines.slice(-15).join("\n")}`));
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${deviceId}: no line matching ${pattern} within ${timeoutMs} ms; last lines:\n${lines.slice(-15).join("\n")}`));
    }, timeoutMs);
    const onLine = (l: string): void => {
      if (!pattern.test(l)) return;
      cleanup();
      resolve(l);
    };
    const onExit = (c: number | null): void => {
      cleanup();
      reject(new Error(`${deviceId}: mcsim exited (${c}) before a line matching ${pattern}; last lines:\n${lines.slice(-15).join("\n")}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      events.off("line", onLine);
      events.off("exit", onExit);
    };
    events.on("line", onLine);
    events.once("exit", onExit);
  });

  const dev: McsimDevice = {
    deviceId,
    stateDir: o.stateDir,
    pid: child.pid!,
    lines,
    events,
    exited,
    waitForLine,
    lineCount: () => count,
    preferences: () => {
      const f = path.join(o.stateDir, preferencesFile);
      return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as Record<string, Record<string, unknown>>) : {};
    },
    pause: (paused) => {
      if (exitCode === undefined) killGroup(child, paused ? "SIGSTOP" : "SIGCONT");
    },
    kill: async () => {
      if (exitCode !== undefined) return;
      killGroup(child, "SIGKILL");
      await exited;
    },
    stop: async () => {
      if (exitCode !== undefined) return;
      killGroup(child, "SIGTERM");
      const t = setTimeout(() => killGroup(child, "SIGKILL"), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
  try {
    await waitForLine(/^xsfleet: started /, deviceStartTimeoutMs);
  } catch (e) {
    await dev.kill();
    throw e;
  }
  return dev;
}

/** xsbug-log's debugger front end decorates trace lines: prompts, ANSI line clears, "[Thread n] ". */
export function cleanLine(raw: string): string {
  return raw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/\r/g, "").replace(/^(\(xsdb\) )+/, "").replace(/^\[Thread \d+\] /, "").trimEnd();
}

/** Decodes a Preference value as lin's preference.js stores an ArrayBuffer ({buffer: "1,2,3"}). */
export function preferenceBytes(value: unknown): Uint8Array | undefined {
  if (value === null || typeof value !== "object" || typeof (value as { buffer?: unknown }).buffer !== "string") return undefined;
  const s = (value as { buffer: string }).buffer;
  return Uint8Array.from(s === "" ? [] : s.split(",").map(Number));
}
