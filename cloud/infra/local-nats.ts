// The local stack's broker: use a reachable NATS when told to, else start
// nats-server processes (JetStream + MQTT) whose data lives in a state dir,
// so a restart of `xsfleet up` keeps streams, KV and retained messages.
// The preferred ports (--base-port and the next ones) are used when free;
// a busy one, or one taken between the check and the bind, is left to
// nats-server to pick (see nats-server.ts). The servers are owned children
// (owned-child.ts): Ctrl-C does not reach them directly, and they stop if
// their parent dies.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import {
  anyPort, isPortInUse, isPortOpen, startNatsCluster, waitJetStreamReady, type NatsOperatorConfig, type NatsServerProcess, type NatsServerSpec,
  type NatsTlsConfig,
} from "./nats-server";

export interface LocalNats {
  /** NATS client URLs of every node. */
  servers: string[];
  /** MQTT URLs of every node (devices connect here). */
  mqttUrls: string[];
  monitorUrls: string[];
  /** True when this process started the servers (and will stop them). */
  owned: boolean;
  /** SIGTERM, SIGKILL after graceMs (default stopGraceMs). */
  stop(graceMs?: number): Promise<void>;
}

/** nats-server flushes and exits on SIGTERM in well under a second; more means it is stuck. */
const stopGraceMs = 3_000;

export interface LocalNatsOptions {
  stateDir: string;
  /** Number of nats-server processes (1 or 3). */
  size: number;
  /** Preferred first client port; the others follow. Busy ports are replaced by free ones. */
  basePort: number;
  /** Operator (JWT) mode; each server gets its own resolver directory under the state dir. */
  operator?: Omit<NatsOperatorConfig, "resolverDir">;
  /** Called with each server's resolver directory before the servers start (to seed account JWTs). */
  prepareResolver?: (resolverDir: string) => void;
  /** TLS on the client and MQTT listeners. */
  tls?: NatsTlsConfig;
  /** Subject mappings of an open broker (device uplinks into partitions); in operator mode the FLEET account JWT carries them. */
  mappings?: Readonly<Record<string, string>>;
  /** Address the listeners bind (default 127.0.0.1; 0.0.0.0 lets devices on the LAN in). Clients here still dial 127.0.0.1. */
  host?: string;
  /** Go pprof listener of the first server (benchmarks profiling the broker's memory). */
  profPort?: number;
}

async function preferred(port: number): Promise<number> {
  return (await isPortOpen(port)) ? anyPort : port;
}

async function specs(opts: LocalNatsOptions, usePreferred: boolean): Promise<NatsServerSpec[]> {
  const natsDir = path.join(opts.stateDir, "nats");
  const out: NatsServerSpec[] = [];
  for (let i = 0; i < opts.size; i++) {
    const b = opts.basePort + i * 10;
    const pick = (p: number): Promise<number> => (usePreferred ? preferred(p) : Promise.resolve(anyPort));
    const storeDir = path.join(natsDir, `n${i}`);
    mkdirSync(storeDir, { recursive: true });
    const resolverDir = path.join(natsDir, `jwt-n${i}`);
    if (opts.operator) {
      mkdirSync(resolverDir, { recursive: true });
      opts.prepareResolver?.(resolverDir);
    }
    out.push({
      name: `xsfleet-n${i}`, host: opts.host ?? "127.0.0.1", storeDir, replicas: opts.size, routes: [], portsFileDir: natsDir,
      clientPort: await pick(b), mqttPort: await pick(b + 1), monitorPort: await pick(b + 2),
      clusterPort: opts.size > 1 ? await pick(b + 3) : null,
      ...(opts.operator ? { operator: { ...opts.operator, resolverDir } } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.mappings && !opts.operator ? { mappings: opts.mappings } : {}),
      ...(i === 0 && opts.profPort !== undefined ? { profPort: opts.profPort } : {}),
    });
  }
  return out;
}

export async function startLocalNats(opts: LocalNatsOptions): Promise<LocalNats> {
  if (opts.size !== 1 && opts.size !== 3) throw new Error(`--nats-nodes must be 1 or 3, got ${opts.size}`);
  const confOf = (s: NatsServerSpec): string => path.join(opts.stateDir, "nats", `${s.name}.conf`);
  // Ports files of servers that were killed (a clean exit removes its own).
  mkdirSync(path.join(opts.stateDir, "nats"), { recursive: true });
  for (const f of readdirSync(path.join(opts.stateDir, "nats"))) if (f.endsWith(".ports")) rmSync(path.join(opts.stateDir, "nats", f), { force: true });
  let servers: NatsServerProcess[];
  const logDir = path.join(opts.stateDir, "logs");
  mkdirSync(logDir, { recursive: true });
  const start = { owned: true, logFile: (s: NatsServerSpec) => path.join(logDir, `${s.name}.log`) };
  try {
    servers = await startNatsCluster(await specs(opts, true), confOf, start);
  } catch (err) {
    // A preferred port was taken between the check and the bind: let the servers pick.
    if (!isPortInUse(err)) throw err;
    servers = await startNatsCluster(await specs(opts, false), confOf, start);
  }
  const monitorUrls = servers.map((s) => `http://127.0.0.1:${s.ports.monitor}`);
  try {
    await Promise.all(monitorUrls.map((u) => waitJetStreamReady(u, 60_000)));
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop("SIGKILL")));
    throw new Error(`${(err as Error).message}; nats-server logs:\n${servers.map((s) => `--- ${s.name}\n${s.log()}`).join("\n")}`);
  }
  let stopping = false;
  for (const s of servers) {
    s.child.once("exit", (code, signal) => {
      if (!stopping && signal === null && code !== 0) console.error(`nats-server ${s.name} exited with code ${code}:\n${s.log()}`);
    });
  }
  return {
    servers: servers.map((s) => `nats://127.0.0.1:${s.ports.client}`),
    mqttUrls: servers.map((s) => `${opts.tls ? "mqtts" : "mqtt"}://127.0.0.1:${s.ports.mqtt}`),
    monitorUrls,
    owned: true,
    stop: async (graceMs = stopGraceMs) => {
      stopping = true;
      await Promise.all(servers.map((s) => s.stop("SIGTERM", graceMs)));
    },
  };
}
