// npm run test:containers — the cloud tier in containers, checked end to end
// on this machine with Debian's podman and podman-compose:
//
//   1. tools: podman, podman-compose, runc, debootstrap (installed when missing)
//   2. base images: node:20 stand-ins from debootstrap + this machine's Node.js
//      (scripts/containers/local-base.sh; cached), unless XSFLEET_BUILD_BASE,
//      XSFLEET_RUNTIME_BASE and XSFLEET_DEBIAN_BASE name images to use
//   3. build: the xsfleet image (Dockerfile) and the NATS image (deploy/nats)
//   4. start deploy/docker-compose.yml stage by stage (depends_on order),
//      each stage's healthchecks passing before the next starts
//   5. register devices through the API, run `xsfleet sim` from the same
//      image against the stack's MQTT ports, and check through the API: the
//      Raft registry, device state, telemetry history, a command acked by an
//      actuator, and the dashboard's view of the fleet
//   6. tear down — always, also on failure or Ctrl-C: `podman stop` in
//      reverse start order (each image's stop signal; every process must exit
//      0), then `podman-compose down -v` removes containers and volumes
//
// Options: --devices N (default 6), --keep (leave the stack running; then
// --down removes it), --help. Logs: .state/containers/run.log.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ApiClient } from "../cloud/api/client";
import { readComposeModel, type ComposeModel } from "./containers/compose-model";
import { isPortOpen, Podman, Shell, sleep } from "./containers/podman";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const project = "xsfleet-check";
const composeFile = path.join(root, "deploy", "docker-compose.yml");
const image = "xsfleet:latest";
const natsImage = "xsfleet-nats:latest";
const simName = `${project}-sim`;
const devicePrefix = "ctr-";
const stageTimeoutMs = 180_000;
const fleetTimeoutMs = 120_000;
const stopGraceS = 30;

const started = Date.now();
/** Aborted on SIGINT/SIGTERM: waits end early and the stack is torn down. */
const abort = new AbortController();
const timings: [string, number][] = [];
const checks: string[] = [];
const say = (m: string): void => { process.stdout.write(`[containers] ${m}\n`); };
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Sleeps, or throws once the run was interrupted. */
async function tick(ms = 1_000): Promise<void> {
  if (abort.signal.aborted) throw new Error("interrupted");
  await sleep(ms);
}

/** A timed step with progress; `teardown` steps run even after an interrupt. */
async function step<T>(name: string, fn: () => Promise<T>, kind: "work" | "teardown" = "work"): Promise<T> {
  if (kind === "work" && abort.signal.aborted) throw new Error("interrupted");
  const t0 = Date.now();
  say(`${name} …`);
  const out = await fn();
  timings.push([name, Date.now() - t0]);
  say(`  done: ${name} (${secs(Date.now() - t0)})`);
  return out;
}

function check(what: string): void {
  checks.push(what);
  say(`  ✓ ${what}`);
}

interface Args { devices: number; keep: boolean; down: boolean }

function parseArgs(argv: string[]): Args | null {
  const a: Args = { devices: 6, keep: false, down: false };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    if (f === "--help" || f === "-h") return null;
    else if (f === "--keep") a.keep = true;
    else if (f === "--down") a.down = true;
    else if (f === "--devices") {
      a.devices = Number(argv[++i]);
      if (!Number.isInteger(a.devices) || a.devices < 2 || a.devices > 200) throw new Error("--devices must be 2..200");
    } else throw new Error(`unknown option ${f} (see --help)`);
  }
  return a;
}

/** The Python podman-compose runs on (its shebang), for our wrapper and the YAML reader. */
function composePython(): string {
  const which = ["/usr/bin/podman-compose", "/usr/local/bin/podman-compose"].find((p) => { try { readFileSync(p); return true; } catch { return false; } });
  if (!which) throw new Error("podman-compose not found; install it: apt-get install podman-compose");
  const first = readFileSync(which, "utf8").split("\n")[0] ?? "";
  return first.startsWith("#!") ? first.slice(2).trim().split(/\s+/)[0]! : "/usr/bin/python3";
}

class Stack {
  readonly sh: Shell;
  readonly podman: Podman;
  readonly python: string;
  model!: ComposeModel;

  constructor(sh: Shell, python: string) {
    this.sh = sh;
    this.podman = new Podman(sh, project, abort.signal);
    this.python = python;
  }

  compose(args: string[], what: string) {
    return this.sh.ok(this.python, [path.join(root, "scripts", "containers", "podman-compose.py"), "-p", project, "-f", composeFile, ...args], what);
  }

  async baseImages(): Promise<Record<string, string>> {
    const given = { BUILD_BASE: process.env.XSFLEET_BUILD_BASE, RUNTIME_BASE: process.env.XSFLEET_RUNTIME_BASE, DEBIAN_BASE: process.env.XSFLEET_DEBIAN_BASE };
    if (given.BUILD_BASE && given.RUNTIME_BASE && given.DEBIAN_BASE) {
      say(`  using the given bases: ${given.BUILD_BASE}, ${given.RUNTIME_BASE}, ${given.DEBIAN_BASE}`);
      return given as Record<string, string>;
    }
    const r = await this.sh.ok("bash", [path.join(root, "scripts", "containers", "local-base.sh")], "building the local base images",
      { onLine: (l) => { if (l.startsWith("[containers]")) say(`  ${l.slice(13)}`); } });
    const out = Object.fromEntries(r.stdout.split("\n").filter((l) => l.includes("=")).map((l) => l.split("=", 2) as [string, string]));
    if (!out.BUILD_BASE || !out.RUNTIME_BASE || !out.DEBIAN_BASE) throw new Error(`local-base.sh printed no base image names; see ${this.sh.logFile}`);
    return out;
  }

  async build(bases: Record<string, string>): Promise<void> {
    // RUN steps are the slow ones; show those that are not taken from the cache.
    let pending: string | null = null;
    const progress = (l: string): void => {
      if (pending !== null && !l.startsWith("--> Using cache")) say(`  ${pending.replace(/\s+/g, " ").slice(0, 110)}`);
      pending = /STEP \d+\/\d+: RUN /.test(l) ? l : null;
    };
    await this.sh.ok("podman", ["build", "--network", "host", "--format", "docker", "-t", image,
      "--build-arg", `BUILD_BASE=${bases.BUILD_BASE}`, "--build-arg", `RUNTIME_BASE=${bases.RUNTIME_BASE}`, "-f", path.join(root, "Dockerfile"), root],
    `podman build ${image}`, { onLine: progress, timeoutMs: 1_200_000 });
    await this.sh.ok("podman", ["build", "--network", "host", "--format", "docker", "-t", natsImage,
      "--build-arg", `BASE=${bases.DEBIAN_BASE}`, path.join(root, "deploy", "nats")], `podman build ${natsImage}`, { onLine: progress });
  }

  async portsFree(): Promise<void> {
    const busy = [];
    for (const p of this.model.ports) if (await isPortOpen(p.port)) busy.push(`${p.port} (${p.service} ${p.what})`);
    if (busy.length > 0) {
      throw new Error(`ports in use on this machine: ${busy.join(", ")}. The stack uses host networking with the ports in deploy/docker-compose.yml; ` +
        "stop what listens there (a stack left by --keep: npm run test:containers -- --down).");
    }
  }

  /**
   * podman-compose creates every container (its translation of the compose
   * file is what runs); they are started here stage by stage, each stage's
   * healthchecks passing first — what `depends_on: condition:
   * service_healthy` does under Docker Compose, which podman-compose 1.0.3
   * does not implement.
   */
  async up(): Promise<void> {
    await step("podman-compose up --no-start (create the containers)", () =>
      this.compose(["up", "--no-start", "--no-build"], "podman-compose up --no-start"));
    for (const services of this.model.stages) {
      await step(`start ${services.join(", ")}`, async () => {
        const names = await Promise.all(services.map((s) => this.podman.container(s)));
        await this.sh.ok("podman", ["start", ...names], `podman start ${names.join(" ")}`);
        await this.podman.waitHealthy(services, stageTimeoutMs, (n) => say(`  ${n}/${services.length} healthy`));
      });
    }
    check(`stack healthy: ${this.model.stages.flat().length} containers (${this.model.stages.map((s) => s.join("+")).join(" → ")})`);
  }

  /** Stops everything in reverse start order; returns "name: exit code" of each unclean exit. */
  async down(): Promise<string[]> {
    const unclean: string[] = [];
    const sim = (await this.sh.run("podman", ["container", "exists", simName])).code === 0;
    if (sim) {
      const code = await this.podman.stop(simName, stopGraceS);
      if (code !== 0) unclean.push(`${simName}: exit ${code}`);
      await this.sh.run("podman", ["rm", "-f", simName]);
    }
    const stages = this.model ? [...this.model.stages].reverse() : [];
    for (const services of stages) {
      const names = (await Promise.all(services.map((s) => this.podman.containers(s)))).flat();
      const codes = await Promise.all(names.map(async (n) => [n, await this.podman.stop(n, stopGraceS)] as const));
      for (const [n, c] of codes) if (c !== 0) unclean.push(`${n}: exit ${c}`);
    }
    await this.compose(["down", "-v", "-t", String(stopGraceS)], "podman-compose down");
    const left = await this.podman.containers();
    if (left.length > 0) throw new Error(`containers left after podman-compose down: ${left.join(", ")}`);
    await this.sh.run("podman", ["network", "rm", `${project}_default`]);
    return unclean;
  }
}

interface DeviceStateView {
  presence?: { state?: string };
  readings?: Record<string, unknown>;
  telemetry?: { points?: number };
}

async function fleetChecks(stack: Stack, nc: NatsConnection, devices: number): Promise<void> {
  const api = new ApiClient(nc, { timeoutMs: 10_000 });
  const ids = Array.from({ length: devices }, (_, i) => `${devicePrefix}${String(i).padStart(String(devices - 1).length, "0")}`);
  await step(`register ${devices} devices through the API (xsfleet.v1.api.devices.register)`, async () => {
    for (const id of ids) await api.register(id, { source: "test:containers" });
    const rec = await api.get(ids[0]!);
    if (rec.lifecycle !== "registered") throw new Error(`devices.get ${ids[0]}: lifecycle ${rec.lifecycle}`);
    check(`${devices} devices registered in the Raft control-plane registry`);
  });

  await step(`run xsfleet sim (${devices} devices, 1 actuator) from ${image} against ${stack.model.mqttUrls.join(", ")}`, async () => {
    await stack.sh.ok("podman", ["run", "-d", "--name", simName, "--network", "host", "--no-healthcheck", image, "sim",
      ...stack.model.mqttUrls.flatMap((u) => ["--broker", u]), "--devices", String(devices), "--actuators", "1",
      "--prefix", devicePrefix, "--speedup", "60", "--heartbeat-ms", "1000"], "podman run (sim)");
    const deadline = Date.now() + fleetTimeoutMs;
    let ready = 0;
    for (;;) {
      const st = await stack.podman.state(simName);
      if (st.status !== "running") throw new Error(`the sim container exited (code ${st.exitCode}):\n${await stack.podman.logsTail(simName)}`);
      const states = await Promise.all(ids.map((id) => api.deviceState(id).catch(() => null) as Promise<DeviceStateView | null>));
      // The last device is the actuator: online, but it samples nothing.
      const now = states.filter((s, i) => s?.presence?.state === "online" &&
        (i === devices - 1 || ((s.telemetry?.points ?? 0) > 0 && Object.keys(s.readings ?? {}).length > 0))).length;
      if (now !== ready) say(`  ${now}/${devices} devices online (sensors with telemetry) in their state`);
      ready = now;
      if (ready === devices) break;
      if (Date.now() > deadline) throw new Error(`only ${ready}/${devices} devices reached state online (sensors with telemetry) within ${fleetTimeoutMs / 1000} s. Sim log:\n${await stack.podman.logsTail(simName)}`);
      await tick();
    }
    check(`devices.state: all ${devices} devices online; the ${devices - 1} sensors' readings and telemetry points ingested`);
  });

  await step("query telemetry history and send a command", async () => {
    const state = (await api.deviceState(ids[0]!)) as DeviceStateView;
    const channel = Object.keys(state.readings ?? {})[0]!;
    let points = 0;
    for (const deadline = Date.now() + 30_000; points === 0 && Date.now() < deadline; await tick()) {
      const result = (await api.queryTelemetry({ deviceId: ids[0]!, channel, fromMs: Date.now() - 3_600_000, toMs: Date.now() + 60_000, limit: 100 })) as { points?: unknown[] };
      points = result.points?.length ?? 0;
    }
    if (points === 0) throw new Error(`telemetry.query ${ids[0]} ${channel}: no points within 30 s`);
    check(`telemetry.query: ${points} points of ${ids[0]}/${channel} from history`);
    const actuator = ids[ids.length - 1]!;
    const { command } = await api.sendCommand({ deviceId: actuator, name: "set", args: { on: true }, timeoutMs: 30_000 });
    if (command.state !== "acked") throw new Error(`commands.send to ${actuator}: state ${command.state}, not acked`);
    check(`commands.send: actuator ${actuator} acked after ${command.attempts} attempt(s)`);
  });

  if (stack.model.dashboardUrl) {
    const url = `${stack.model.dashboardUrl}/api/fleet?limit=50`;
    await step(`dashboard ${stack.model.dashboardUrl}`, async () => {
      let online = 0;
      for (const deadline = Date.now() + 30_000; online < devices && Date.now() < deadline; await tick()) {
        const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
        online = ((await r.json()) as { totals?: { online?: number } }).totals?.online ?? 0;
      }
      if (online < devices) throw new Error(`dashboard ${url} shows ${online} devices online, expected ${devices}`);
      check(`dashboard /api/fleet: ${online} devices online`);
    });
  }
}

async function main(): Promise<number> {
  let args: Args | null;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`test:containers: ${(e as Error).message}\n`);
    return 2;
  }
  if (!args) {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").filter((l) => l.startsWith("//")).map((l) => l.slice(3)).join("\n") + "\n");
    return 0;
  }
  const logDir = path.join(root, ".state", "containers");
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, "run.log");
  writeFileSync(logFile, `test:containers ${new Date().toISOString()}\n`);
  say(`log: ${path.relative(root, logFile)}`);

  const boot = new Shell(logFile, process.env);
  const conf = await step("container tools (podman, podman-compose, runc, debootstrap)", async () =>
    (await boot.ok("bash", [path.join(root, "scripts", "containers", "ensure-podman.sh")], "ensure-podman.sh")).stdout.trim().split("\n").pop()!);
  const env: NodeJS.ProcessEnv = {
    ...process.env, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? conf,
    // The compose file's variables, pinned to what this check builds and expects.
    XSFLEET_IMAGE: image, XSFLEET_NATS_IMAGE: natsImage, XSFLEET_BIND: "127.0.0.1",
  };
  const stack = new Stack(new Shell(logFile, env), composePython());
  stack.model = await readComposeModel(stack.sh, stack.python, composeFile);

  if ((await stack.podman.containers()).length > 0 || args.down) {
    await step(args.down ? "removing the check's stack" : "removing a stack left by an earlier run", () => stack.down(), "teardown");
    if (args.down) return 0;
  }

  let failure: Error | null = null;
  const onSignal = (sig: string): void => {
    if (abort.signal.aborted) {
      say(`${sig} again: exiting without finishing the teardown. Remove what is left: npm run test:containers -- --down`);
      process.exit(130);
    }
    abort.abort();
    say(`${sig}: tearing down before exiting (again to skip) …`);
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  let nc: NatsConnection | null = null;
  try {
    await stack.portsFree();
    const bases = await step("base images", () => stack.baseImages());
    await step(`build ${image} (Dockerfile) and ${natsImage} (deploy/nats)`, () => stack.build(bases));
    await stack.up();
    nc = await connect({ servers: stack.model.natsUrls, name: "xsfleet-test-containers", timeout: 10_000 });
    await fleetChecks(stack, nc, args.devices);
  } catch (e) {
    failure = e as Error;
  } finally {
    await nc?.close().catch(() => undefined);
  }

  let teardownError: Error | null = null;
  if (args.keep && !failure) {
    say(`stack left running (--keep): dashboard ${stack.model.dashboardUrl ?? "-"}, NATS ${stack.model.natsUrls[0]}, MQTT ${stack.model.mqttUrls[0]}. Remove it: npm run test:containers -- --down`);
  } else {
    try {
      const unclean = await step("tear down (podman stop in reverse start order, then podman-compose down -v)", () => stack.down(), "teardown");
      if (unclean.length > 0) throw new Error(`processes did not stop cleanly: ${unclean.join("; ")} (logs: ${logFile})`);
      check("every container exited 0 on its stop signal; containers and volumes removed");
    } catch (e) {
      teardownError = e as Error;
      if (failure) say(`teardown also failed: ${teardownError.message}`);
      failure ??= teardownError;
    }
  }

  timings.push(["total", Date.now() - started]);
  say(`timings: ${timings.map(([n, ms]) => `${n.split(" (")[0]} ${secs(ms)}`).join(" | ")}`);
  if (abort.signal.aborted) {
    say(teardownError ? `interrupted; the teardown failed too (${teardownError.message}): npm run test:containers -- --down` : "interrupted; the stack was removed");
    return 130;
  }
  if (failure) {
    say(`FAILED: ${failure.message}`);
    say(`full log: ${logFile}`);
    process.stdout.write(`test:containers: ${checks.length} passed, 1 failed\n`);
    return 1;
  }
  process.stdout.write(`test:containers: ${checks.length} passed, 0 failed\n`);
  return 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`test:containers: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
