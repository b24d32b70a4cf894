// Starting real nats-server processes (JetStream + MQTT listener): used by
// `xsfleet up` for the local stack and by the integration-test harness.
//
// Ports without a race: a port given as -1 is picked by nats-server itself
// when it binds, and read back once it listens — client and monitor from its
// ports file (`ports_file_dir`), MQTT and routes from its log. Nothing is
// chosen by binding port 0, releasing it and hoping it is still free. A
// cluster whose route ports are picked this way starts one seed node first
// (JetStream in a cluster needs a route in its configuration: a placeholder
// until the others are up), then the others routed to it, then reloads the
// seed with the real routes. When a server does not come up, the error
// carries its own log.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { createServer, connect as netConnect } from "node:net";
import path from "node:path";
import { findNatsServer } from "./nats-binary";
import { spawnOwnedChild, stopChild } from "./owned-child";

/** A port nats-server picks itself. */
export const anyPort = -1;

export interface NatsServerSpec {
  name: string;
  host: string;
  /** Ports; anyPort (-1) lets nats-server pick. */
  clientPort: number;
  mqttPort: number;
  monitorPort: number;
  /** Route listener; null for a server outside a cluster. */
  clusterPort: number | null;
  routes: string[];
  storeDir: string;
  /** mqtt.stream_replicas: must be explicit in a cluster on 2.9. */
  replicas: number;
  /** Where nats-server writes its ports file. */
  portsFileDir: string;
  /** Operator (JWT) mode with the full resolver; absent = no authentication at all. */
  operator?: NatsOperatorConfig;
  /** TLS on the client and MQTT listeners; absent = plain TCP. */
  tls?: NatsTlsConfig;
  /**
   * Subject mappings (from → to, e.g. cloud/subjects uplinkPartitionMappings)
   * written as the config's `mappings` — open mode only: in operator mode
   * accounts come from JWTs and config mappings do not apply; the FLEET
   * account JWT carries them (cloud/security trust.ts).
   */
  mappings?: Readonly<Record<string, string>>;
  /** Go pprof listener (`prof_port`, /debug/pprof/heap…) for benchmarks that profile the broker; absent: none. */
  profPort?: number;
}

/**
 * Operator mode: accounts and users are JWTs; the full resolver keeps
 * account JWTs in `resolverDir` and takes updates pushed on
 * `$SYS.REQ.CLAIMS.UPDATE` without a reload (docs/security.md).
 */
export interface NatsOperatorConfig {
  operatorJwt: string;
  systemAccount: string;
  resolverDir: string;
  /** Account public key → account JWT, stored in the resolver when newer than what it has. */
  preload: Readonly<Record<string, string>>;
}

export interface NatsTlsConfig {
  certFile: string;
  keyFile: string;
}

export interface NatsServerPorts {
  client: number;
  mqtt: number;
  monitor: number;
  cluster: number | null;
}

export interface NatsServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly ports: NatsServerPorts;
  /** The last 4 KiB of its log. */
  log(): string;
  /** Re-reads the configuration file (SIGHUP). */
  reload(): void;
  /** Signals it (SIGTERM by default), SIGKILL after graceMs; resolves once it exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Grace before a stopping server is killed. */
const stopGraceDefaultMs = 10_000;

/** How long a server may take to listen. */
export const natsStartTimeoutMs = 30_000;
const logTailBytes = 4096;
/** The route a cluster seed starts with until its peers are known (nothing listens on port 1). */
const placeholderRoute = "nats-route://127.0.0.1:1";

/** Longest protocol line (CONNECT with its JWT) the server accepts; its default is 4 KiB. */
const maxControlLineBytes = 32 * 1024;

/** How long a TLS handshake may take (s); nats-server's default of 0.5 s is short on a loaded 2-core box. */
const tlsTimeoutS = 5;

/** The placement tag every server carries (`server_tags`): lets a stream be
 *  put on a chosen server, e.g. a mirror away from its primary (cloud/replication). */
export function serverPlacementTag(serverName: string): string {
  return `xsf-server:${serverName}`;
}

export function natsServerConfig(s: NatsServerSpec): string {
  const tls = s.tls ? ` tls { cert_file: ${JSON.stringify(s.tls.certFile)}, key_file: ${JSON.stringify(s.tls.keyFile)}, timeout: ${tlsTimeoutS} }` : "";
  const lines = [
    `server_name: ${s.name}`,
    `server_tags: [${JSON.stringify(serverPlacementTag(s.name))}]`,
    `listen: ${s.host}:${s.clientPort}`,
    `http: ${s.host}:${s.monitorPort}`,
    `ports_file_dir: ${JSON.stringify(s.portsFileDir)}`,
    `max_payload: 1048576`,
    // A CONNECT carries the user JWT; a cloud node running several roles has one of ~5-7 KB (its permissions).
    `max_control_line: ${maxControlLineBytes}`,
    `jetstream { store_dir: ${JSON.stringify(s.storeDir)}, max_memory_store: 268435456, max_file_store: 4294967296 }`,
    `mqtt { listen: ${s.host}:${s.mqttPort}, stream_replicas: ${s.replicas}, consumer_replicas: ${s.replicas}, max_ack_pending: 1024${tls ? `,${tls}` : ""} }`,
  ];
  if (s.tls) lines.push(tls.trim());
  if (s.profPort !== undefined) lines.push(`prof_port: ${s.profPort}`);
  if (s.operator) lines.push(...operatorConfigLines(s.operator));
  else if (s.mappings && Object.keys(s.mappings).length > 0) lines.push(...mappingConfigLines(s.mappings));
  if (s.clusterPort !== null) {
    lines.push(`cluster { name: xsfleet, listen: ${s.host}:${s.clusterPort}, routes: [${s.routes.join(", ")}] }`);
  }
  return lines.join("\n") + "\n";
}

/** `mappings { … }` of an open-mode configuration (the global account's subject mappings). */
export function mappingConfigLines(m: Readonly<Record<string, string>>): string[] {
  return ["mappings {", ...Object.entries(m).map(([from, to]) => `  ${JSON.stringify(from)}: ${JSON.stringify(to)}`), "}"];
}

/** The operator-mode lines of a nats-server configuration (also written as an include file for deploy/). */
export function operatorConfigLines(o: NatsOperatorConfig): string[] {
  return [
    `operator: ${o.operatorJwt}`,
    `system_account: ${o.systemAccount}`,
    `resolver: { type: full, dir: ${JSON.stringify(o.resolverDir)}, allow_delete: false, interval: "2m" }`,
    `resolver_preload: { ${Object.entries(o.preload).map(([k, v]) => `${k}: ${v}`).join(", ")} }`,
  ];
}

/** Reads back what a started server listens on; undefined until all are known. */
function listeningPorts(spec: NatsServerSpec, pid: number, mqttPort: number | undefined): NatsServerPorts | undefined {
  let file: { nats?: string[]; monitoring?: string[]; cluster?: string[] } | undefined;
  try {
    const name = readdirSync(spec.portsFileDir).find((f) => f.endsWith(`_${pid}.ports`));
    if (name) file = JSON.parse(readFileSync(path.join(spec.portsFileDir, name), "utf8")) as typeof file;
  } catch {
    return undefined; // not written yet, or written halfway
  }
  const portOf = (url: string | undefined): number | undefined => (url ? Number(new URL(url).port) : undefined);
  const client = portOf(file?.nats?.[0]);
  const monitor = portOf(file?.monitoring?.[0]);
  const cluster = spec.clusterPort === null ? null : portOf(file?.cluster?.[0]);
  if (client === undefined || monitor === undefined || cluster === undefined || mqttPort === undefined) return undefined;
  return { client, mqtt: mqttPort, monitor, cluster };
}

export interface StartNatsOptions {
  timeoutMs?: number;
  /** In its own process group with a parent-death signal (owned-child.ts): for the local stack. */
  owned?: boolean;
  /** Append the server's whole log here too (the local stack's .state/logs), besides the in-memory tail. */
  logFile?: (spec: NatsServerSpec) => string;
}

/** Starts nats-server with `spec` written to `configPath`; resolves once it listens on every port. */
export async function startNatsServer(spec: NatsServerSpec, configPath: string, opts: StartNatsOptions = {}): Promise<NatsServerProcess> {
  const timeoutMs = opts.timeoutMs ?? natsStartTimeoutMs;
  writeFileSync(configPath, natsServerConfig(spec));
  const stdio: ["ignore", "ignore", "pipe"] = ["ignore", "ignore", "pipe"];
  const child = opts.owned ? spawnOwnedChild(findNatsServer(), ["-c", configPath], { stdio }) : spawn(findNatsServer(), ["-c", configPath], { stdio });
  let log = "";
  let mqttPort: number | undefined;
  const logFd = opts.logFile ? openSync(opts.logFile(spec), "a") : null;
  // Closed when the pipe is drained, not at "exit": the last chunks of the log may arrive after the exit event.
  if (logFd !== null) child.stderr!.once("close", () => closeSync(logFd));
  child.stderr!.on("data", (d: Buffer) => {
    if (logFd !== null) writeSync(logFd, d);
    const joined = log + d.toString();
    // The ports file does not list MQTT; its listener says where it is.
    mqttPort ??= Number(/Listening for MQTT clients on (?:mqtts?|tls):\/\/\S*:(\d+)/.exec(joined)?.[1]) || undefined;
    log = joined.slice(-logTailBytes);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((c) => { exitCode = c; });
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  let failed: Error | undefined;
  void spawnError.then((e) => { failed = e; });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (failed) throw new Error(`nats-server ${spec.name} could not be started: ${failed.message}`);
    if (exitCode !== undefined) throw new Error(`nats-server ${spec.name} exited with code ${exitCode} before it listened; its log:\n${log}`);
    const ports = child.pid === undefined ? undefined : listeningPorts(spec, child.pid, mqttPort);
    if (ports) {
      return {
        name: spec.name, child, ports,
        log: () => log,
        reload: () => { child.kill("SIGHUP"); },
        stop: async (signal = "SIGTERM", graceMs = stopGraceDefaultMs) => {
          await stopChild(child, graceMs, signal);
        },
      };
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await exited;
      throw new Error(`nats-server ${spec.name} did not listen within ${timeoutMs} ms; its log:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** True when a start failed only because a fixed port was taken. */
export function isPortInUse(err: unknown): boolean {
  return err instanceof Error && /address already in use/i.test(err.message);
}

/**
 * Starts the servers of a cluster (or one server: clusterPort null). Route
 * ports given as anyPort are picked by the servers (seed first, see the
 * header). `configPathOf` says where each server's configuration goes; it is
 * rewritten with the real routes once they are known.
 */
export async function startNatsCluster(specs: readonly NatsServerSpec[], configPathOf: (s: NatsServerSpec) => string, opts: StartNatsOptions = {}): Promise<NatsServerProcess[]> {
  if (specs.length === 1 && specs[0]!.clusterPort === null) return [await startNatsServer(specs[0]!, configPathOf(specs[0]!), opts)];
  const route = (port: number): string => `nats-route://127.0.0.1:${port}`;
  const started: NatsServerProcess[] = [];
  try {
    const seedSpec = specs[0]!;
    const known = specs.slice(1).filter((s) => s.clusterPort !== anyPort).map((s) => route(s.clusterPort!));
    const seed = await startNatsServer({ ...seedSpec, routes: known.length > 0 ? known : [placeholderRoute] }, configPathOf(seedSpec), opts);
    started.push(seed);
    const others = await Promise.all(specs.slice(1).map((s) => startNatsServer({ ...s, routes: [route(seed.ports.cluster!), ...known.filter((r) => r !== route(s.clusterPort!))] }, configPathOf(s), opts)));
    started.push(...others);
    if (known.length === 0) {
      // Only the route list changes: nats-server reloads routes, not listen ports.
      // In operator mode a reload closes every MQTT and JWT client and drops
      // retained MQTT messages (docs/research/nats29 A3): this one happens
      // before startNatsCluster returns, so no client can be connected yet; a
      // restarted operator cluster kept its retained messages (docs/security.md).
      // Nothing reloads a running server.
      writeFileSync(configPathOf(seedSpec), natsServerConfig({ ...seedSpec, routes: others.map((o) => route(o.ports.cluster!)) }));
      seed.reload();
    }
    return started;
  } catch (err) {
    await Promise.all(started.map((s) => s.stop("SIGKILL")));
    throw err;
  }
}

/** Waits until JetStream answers health checks and, in a cluster, has a meta leader. */
export async function waitJetStreamReady(monitorUrl: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${monitorUrl}/healthz?js-enabled-only=true`);
      if (res.ok) {
        const jsz = (await (await fetch(`${monitorUrl}/jsz`)).json()) as { meta_cluster?: { leader?: string } };
        if (!jsz.meta_cluster || jsz.meta_cluster.leader) return;
      }
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`JetStream at ${monitorUrl} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function isPortOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = netConnect(port, host);
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

/**
 * A port that was free a moment ago. Racy by nature (someone may bind it
 * before the caller does): only for servers that cannot pick their own port
 * and whose caller retries on a bind failure.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
