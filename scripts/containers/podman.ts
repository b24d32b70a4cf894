// The podman side of the container check (scripts/test-containers.ts): run
// commands with their output in a log file, find a compose service's
// container, wait for its healthcheck, stop it and read its exit code.
//
// Healthchecks are run with `podman healthcheck run` from here: without
// systemd, podman has no timer to run them by itself, and podman-compose
// 1.0.3 does not wait on `depends_on: condition: service_healthy` — so the
// check starts the stack stage by stage in the compose file's order and waits
// on each stage's healthchecks, as Docker Compose does by itself.
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { connect as netConnect } from "node:net";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Called with each output line as it arrives (progress). */
  onLine?: (line: string) => void;
  /** Kill the command after this long (default 10 min). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Output kept in memory per stream; the log file has all of it. */
const outputCharsMax = 1 << 20;

export class Shell {
  readonly logFile: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(logFile: string, env: NodeJS.ProcessEnv) {
    this.logFile = logFile;
    this.env = env;
  }

  log(text: string): void {
    appendFileSync(this.logFile, text.endsWith("\n") ? text : `${text}\n`);
  }

  /** Runs a command; never throws for a non-zero exit (the caller decides). */
  run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    this.log(`\n$ ${cmd} ${args.join(" ")}`);
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { env: opts.env ?? this.env, stdio: ["ignore", "pipe", "pipe"] });
      const out = { stdout: "", stderr: "" };
      let partial = "";
      const take = (key: "stdout" | "stderr") => (chunk: Buffer): void => {
        const text = chunk.toString();
        appendFileSync(this.logFile, text);
        if (out[key].length < outputCharsMax) out[key] += text;
        if (opts.onLine) {
          const lines = (partial + text).split("\n");
          partial = lines.pop() ?? "";
          for (const l of lines) opts.onLine(l);
        }
      };
      child.stdout.on("data", take("stdout"));
      child.stderr.on("data", take("stderr"));
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 600_000);
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ${cmd}: ${e.message}`));
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        this.log(`[exit ${code ?? signal}]`);
        resolve({ code: code ?? 128, ...out });
      });
    });
  }

  /** Runs a command and throws with its output's tail when it fails. */
  async ok(cmd: string, args: readonly string[], what: string, opts: RunOptions = {}): Promise<RunResult> {
    const r = await this.run(cmd, args, opts);
    if (r.code !== 0) {
      const tail = (r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n");
      throw new Error(`${what} failed (exit ${r.code}):\n${tail}\n(full output: ${this.logFile})`);
    }
    return r;
  }
}

export interface ContainerState {
  status: string;
  exitCode: number;
  restarts: number;
}

/** podman commands about the containers of one compose project. */
export class Podman {
  readonly #sh: Shell;
  readonly #signal: AbortSignal | undefined;
  readonly project: string;

  /** `signal` ends waits early (Ctrl-C: the caller tears down). */
  constructor(sh: Shell, project: string, signal?: AbortSignal) {
    this.#sh = sh;
    this.project = project;
    this.#signal = signal;
  }

  /** Names of the project's containers (running or not), optionally of one service. */
  async containers(service?: string): Promise<string[]> {
    const args = ["ps", "-a", "--filter", `label=com.docker.compose.project=${this.project}`,
      ...(service ? ["--filter", `label=com.docker.compose.service=${service}`] : []), "--format", "{{.Names}}"];
    const r = await this.#sh.ok("podman", args, "podman ps");
    return r.stdout.split("\n").map((s) => s.trim()).filter(Boolean);
  }

  async container(service: string): Promise<string> {
    const [name] = await this.containers(service);
    if (!name) throw new Error(`no container for service ${service} (podman-compose did not create it; see ${this.#sh.logFile})`);
    return name;
  }

  async state(name: string): Promise<ContainerState> {
    const r = await this.#sh.ok("podman", ["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", name], `podman inspect ${name}`);
    const [status = "unknown", exitCode = "0", restarts = "0"] = r.stdout.trim().split(/\s+/);
    return { status, exitCode: Number(exitCode), restarts: Number(restarts) };
  }

  /** One healthcheck run: true when healthy. */
  async healthy(name: string): Promise<boolean> {
    return (await this.#sh.run("podman", ["healthcheck", "run", name], { timeoutMs: 30_000 })).code === 0;
  }

  async logsTail(name: string, lines = 25): Promise<string> {
    const r = await this.#sh.run("podman", ["logs", "--tail", String(lines), name]);
    return (r.stdout + r.stderr).trim();
  }

  /**
   * Waits until every container of `services` passes its healthcheck. Fails
   * at once when one has exited, and at the deadline with its last log lines.
   */
  async waitHealthy(services: readonly string[], timeoutMs: number, onProgress: (healthy: number) => void): Promise<void> {
    const names = await Promise.all(services.map((s) => this.container(s)));
    const deadline = Date.now() + timeoutMs;
    const done = new Set<string>();
    while (done.size < names.length) {
      if (this.#signal?.aborted) throw new Error("interrupted");
      for (const name of names) {
        if (done.has(name)) continue;
        const st = await this.state(name);
        if (st.status === "exited" || st.status === "stopped") {
          throw new Error(`container ${name} exited with code ${st.exitCode}. Its last log lines:\n${await this.logsTail(name)}`);
        }
        if (st.status === "running" && (await this.healthy(name))) {
          done.add(name);
          onProgress(done.size);
        }
      }
      if (done.size === names.length) return;
      if (Date.now() > deadline) {
        const late = names.filter((n) => !done.has(n));
        const logs = await Promise.all(late.map(async (n) => `--- ${n}:\n${await this.logsTail(n)}`));
        throw new Error(`not healthy within ${timeoutMs / 1000} s: ${late.join(", ")}. Last log lines:\n${logs.join("\n")}`);
      }
      await sleep(1_000);
    }
  }

  /** SIGTERM, up to `graceS` seconds, then SIGKILL; returns the exit code. */
  async stop(name: string, graceS: number): Promise<number> {
    await this.#sh.run("podman", ["stop", "-t", String(graceS), name], { timeoutMs: (graceS + 30) * 1000 });
    return (await this.state(name)).exitCode;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function isPortOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, host);
    s.setTimeout(1_000, () => { s.destroy(); resolve(false); });
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}
