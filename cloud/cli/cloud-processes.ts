// Cloud nodes of the local stack as child processes (`xsfleet cloud`), so
// each can be killed or restarted on its own, with logs in the state dir.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = path.join(root, "bin", "xsfleet.mjs");
const controlMain = path.join(root, "cloud", "controlplane", "main.ts");

export interface CloudProcess {
  nodeId: string;
  child: ChildProcess;
  logFile: string;
}

function spawnLogged(nodeId: string, logDir: string, args: string[]): CloudProcess {
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${nodeId}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return { nodeId, child, logFile };
}

export function spawnCloudNode(opts: { nodeId: string; roles: string[]; servers: string[]; replicas: number; logDir: string; registry: "kv" | "control" }): CloudProcess {
  return spawnLogged(opts.nodeId, opts.logDir, [bin, "cloud", "--node-id", opts.nodeId, "--roles", opts.roles.join(","),
    "--nats-servers", opts.servers.join(","), "--replicas", String(opts.replicas), "--http-port", "0", "--registry", opts.registry]);
}

/** One Raft replica of the control plane (cloud/controlplane/main.ts). */
export function spawnControlReplica(opts: { id: number; peers: number[]; servers: string[]; dataDir: string; logDir: string }): CloudProcess {
  return spawnLogged(`control-${opts.id}`, opts.logDir, ["--import", "tsx", controlMain, "--id", String(opts.id),
    "--peers", opts.peers.join(","), "--data-dir", opts.dataDir, "--nats", opts.servers.join(",")]);
}

/** SIGTERM, then wait for a graceful exit; SIGKILL after `graceMs`. */
export async function stopCloudNode(p: CloudProcess, graceMs = 20_000): Promise<number | null> {
  const c = p.child;
  if (c.exitCode !== null || c.signalCode !== null) return c.exitCode;
  const exited = new Promise<number | null>((resolve) => c.once("exit", (code) => resolve(code)));
  c.kill("SIGTERM");
  const timer = setTimeout(() => c.kill("SIGKILL"), graceMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}
