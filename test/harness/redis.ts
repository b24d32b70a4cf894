// A real Redis for integration tests: the one at 127.0.0.1:6379 if it
// answers PING, otherwise a redis-server of our own on a free port, with no
// persistence (--save "" --appendonly no) in a temporary directory, stopped
// by stop(). Tests must namespace their keys with uniqueKeyPrefix(), since a
// shared Redis may hold other runs' keys. Nothing here is mocked.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../../cloud/infra";

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** True if this harness started the server (and stop() ends it). */
  readonly spawned: boolean;
  stop(): Promise<void>;
}

export const DEFAULT_REDIS_PORT = 6379;

/** Sends PING over a raw socket; true on +PONG (or a NOAUTH error: something Redis-like is there). */
export function pingRedis(port: number, host = "127.0.0.1", timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, host);
    let buf = "";
    const done = (ok: boolean): void => { clearTimeout(timer); s.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once("connect", () => s.write("PING\r\n"));
    s.on("data", (d: Buffer) => {
      buf += d.toString();
      if (buf.includes("\r\n")) done(buf.startsWith("+PONG"));
    });
    s.once("error", () => done(false));
  });
}

export function findRedisServer(): string {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean), "/usr/bin", "/usr/local/bin", "/usr/sbin"];
  for (const dir of dirs) {
    const candidate = path.join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new Error("redis-server not found on PATH or in /usr/bin: install it (Debian: sudo apt-get install redis-server) or run a Redis on 127.0.0.1:6379");
}

/**
 * Uses a Redis on 127.0.0.1:6379 when it answers; `spawn: true` (or
 * XSFLEET_REDIS_SPAWN=1 in the environment) always starts a private one.
 */
export async function startRedis(opts: { spawn?: boolean } = {}): Promise<RedisServer> {
  const spawnOwn = opts.spawn ?? process.env.XSFLEET_REDIS_SPAWN === "1";
  if (!spawnOwn && (await pingRedis(DEFAULT_REDIS_PORT))) {
    return { host: "127.0.0.1", port: DEFAULT_REDIS_PORT, spawned: false, stop: async () => {} };
  }
  return spawnRedis();
}

/** Attempts at a free port; another process may bind the chosen one first. */
const spawnAttemptsMax = 5;

async function spawnRedis(): Promise<RedisServer> {
  // redis-server cannot pick its own port (0 turns TCP off): choose one, and
  // choose again when it was taken before redis-server bound it.
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnRedisOn(await freePort());
    } catch (err) {
      if (attempt >= spawnAttemptsMax || !/address already in use/i.test((err as Error).message)) throw err;
    }
  }
}

async function spawnRedisOn(port: number): Promise<RedisServer> {
  const bin = findRedisServer();
  const dir = mkdtempSync(path.join(tmpdir(), "xsfleet-redis-"));
  const child: ChildProcess = spawn(bin, [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    "--dir", dir, "--daemonize", "no", "--loglevel", "warning",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (d: Buffer): void => { log = (log + d.toString()).slice(-4000); };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  const deadline = Date.now() + 30_000;
  while (!(await pingRedis(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      await exited;
      cleanup();
      throw new Error(`redis-server on port ${port} did not answer PING within 30 s (exit ${child.exitCode}); its log:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: "127.0.0.1",
    port,
    spawned: true,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      cleanup();
    },
  };
}

/** A key prefix no other test run shares: "xsfleet-test:<random>:". */
export function uniqueKeyPrefix(label = "test"): string {
  return `xsfleet-${label}:${randomBytes(6).toString("hex")}:`;
}
