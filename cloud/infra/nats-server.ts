// Starting real nats-server processes (JetStream + MQTT listener): used by
// `xsfleet up` for the local stack and by the integration-test harness.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect as netConnect } from "node:net";
import { findNatsServer } from "./nats-binary";
import { spawnOwnedChild } from "./owned-child";

export interface NatsServerSpec {
  name: string;
  host: string;
  clientPort: number;
  mqttPort: number;
  monitorPort: number;
  /** Cluster route port; only used when `routes` is non-empty. */
  clusterPort: number;
  routes: string[];
  storeDir: string;
  /** mqtt.stream_replicas: must be explicit in a cluster on 2.9. */
  replicas: number;
}

export function natsServerConfig(s: NatsServerSpec): string {
  const lines = [
    `server_name: ${s.name}`,
    `listen: ${s.host}:${s.clientPort}`,
    `http: ${s.host}:${s.monitorPort}`,
    `max_payload: 1048576`,
    `jetstream { store_dir: "${s.storeDir}", max_memory_store: 268435456, max_file_store: 4294967296 }`,
    `mqtt { listen: ${s.host}:${s.mqttPort}, stream_replicas: ${s.replicas}, consumer_replicas: ${s.replicas}, max_ack_pending: 1024 }`,
  ];
  if (s.routes.length > 0) {
    lines.push(`cluster { name: xsfleet, listen: ${s.host}:${s.clusterPort}, routes: [${s.routes.join(", ")}] }`);
  }
  return lines.join("\n") + "\n";
}

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

export function isPortOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = netConnect(port, host);
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

export async function waitForPort(port: number, timeoutMs = 30_000, host = "127.0.0.1"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isPortOpen(port, host))) {
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
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

/** Spawns nats-server with a config file; stderr is kept for error reports.
 *  `owned`: in its own process group with a parent-death signal (owned-child.ts), for the local stack. */
export function spawnNatsServer(configPath: string, onExit?: (code: number | null, log: string) => void, opts: { owned?: boolean } = {}): ChildProcess {
  const stdio: ["ignore", "ignore", "pipe"] = ["ignore", "ignore", "pipe"];
  const child = opts.owned ? spawnOwnedChild(findNatsServer(), ["-c", configPath], { stdio }) : spawn(findNatsServer(), ["-c", configPath], { stdio });
  let log = "";
  child.stderr!.on("data", (d: Buffer) => { log = (log + d.toString()).slice(-4000); });
  child.on("exit", (code, sig) => { if (sig === null) onExit?.(code, log); });
  return child;
}
