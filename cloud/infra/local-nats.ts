// The local stack's broker: use a reachable NATS when told to, else start
// nats-server processes (JetStream + MQTT) whose data lives in a state dir,
// so a restart of `xsfleet up` keeps streams, KV and retained messages. The
// servers are owned children (owned-child.ts): Ctrl-C does not reach them
// directly, and they stop if their parent dies.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import { stopChild } from "./owned-child";
import { freePort, isPortOpen, natsServerConfig, spawnNatsServer, waitForPort, waitJetStreamReady } from "./nats-server";

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
}

async function pickPort(preferred: number): Promise<number> {
  return (await isPortOpen(preferred)) ? freePort() : preferred;
}

export async function startLocalNats(opts: LocalNatsOptions): Promise<LocalNats> {
  if (opts.size !== 1 && opts.size !== 3) throw new Error(`--nats-nodes must be 1 or 3, got ${opts.size}`);
  const specs = [];
  for (let i = 0; i < opts.size; i++) {
    const b = opts.basePort + i * 10;
    const storeDir = path.join(opts.stateDir, "nats", `n${i}`);
    mkdirSync(storeDir, { recursive: true });
    specs.push({
      name: `xsfleet-n${i}`, host: "127.0.0.1", storeDir, replicas: opts.size, routes: [] as string[],
      clientPort: await pickPort(b), mqttPort: await pickPort(b + 1), monitorPort: await pickPort(b + 2), clusterPort: await pickPort(b + 3),
    });
  }
  for (const s of specs) {
    if (opts.size > 1) s.routes = specs.filter((o) => o !== s).map((o) => `nats-route://127.0.0.1:${o.clusterPort}`);
  }
  const children: ChildProcess[] = [];
  let stopping = false;
  for (const s of specs) {
    const conf = path.join(opts.stateDir, "nats", `${s.name}.conf`);
    writeFileSync(conf, natsServerConfig(s));
    children.push(spawnNatsServer(conf, (code, log) => {
      if (!stopping && code !== 0) console.error(`nats-server ${s.name} exited with code ${code}:\n${log}`);
    }, { owned: true }));
  }
  const monitorUrls = specs.map((s) => `http://127.0.0.1:${s.monitorPort}`);
  try {
    await Promise.all(specs.flatMap((s) => [waitForPort(s.clientPort), waitForPort(s.mqttPort)]));
    await Promise.all(monitorUrls.map((u) => waitJetStreamReady(u, 60_000)));
  } catch (e) {
    stopping = true;
    await Promise.all(children.map((c) => stopChild(c, stopGraceMs)));
    throw e;
  }
  return {
    servers: specs.map((s) => `nats://127.0.0.1:${s.clientPort}`),
    mqttUrls: specs.map((s) => `mqtt://127.0.0.1:${s.mqttPort}`),
    monitorUrls,
    owned: true,
    stop: async (graceMs = stopGraceMs) => {
      stopping = true;
      await Promise.all(children.map((c) => stopChild(c, graceMs)));
    },
  };
}
