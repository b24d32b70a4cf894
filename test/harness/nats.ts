// Real nats-server processes for integration tests: a single node or a
// cluster, each with JetStream and the MQTT listener, on free loopback ports,
// with state in a temporary directory. Nothing here is mocked.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { findNatsServer } from "../../cloud/infra/nats-binary";

export interface NatsNode {
  name: string;
  clientPort: number;
  mqttPort: number;
  clusterPort: number;
  monitorPort: number;
  natsUrl: string;
  mqttUrl: string;
  storeDir: string;
  process: ChildProcess | null;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** All client URLs, for clients that should fail over between nodes. */
  servers: string[];
  stopNode(i: number, signal?: NodeJS.Signals): Promise<void>;
  startNode(i: number): Promise<void>;
  stop(): Promise<void>;
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

function configFor(node: NatsNode, peers: NatsNode[], replicas: number): string {
  const lines = [
    `server_name: ${node.name}`,
    `listen: 127.0.0.1:${node.clientPort}`,
    `http: 127.0.0.1:${node.monitorPort}`,
    `max_payload: 1048576`,
    `jetstream { store_dir: "${node.storeDir}", max_memory_store: 268435456, max_file_store: 2147483648 }`,
    `mqtt { listen: 127.0.0.1:${node.mqttPort}, stream_replicas: ${replicas}, consumer_replicas: ${replicas}, max_ack_pending: 1024 }`,
  ];
  if (peers.length > 1) {
    const routes = peers.filter((p) => p !== node).map((p) => `nats-route://127.0.0.1:${p.clusterPort}`);
    lines.push(`cluster { name: xsfleet-test, listen: 127.0.0.1:${node.clusterPort}, routes: [${routes.join(", ")}] }`);
  }
  return lines.join("\n") + "\n";
}

export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect(port, "127.0.0.1");
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the server reports JetStream ready (and, in a cluster, a meta leader). */
async function waitJetStreamReady(node: NatsNode, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${node.monitorPort}/healthz?js-enabled-only=true`);
      if (res.ok) {
        const jsz = await (await fetch(`http://127.0.0.1:${node.monitorPort}/jsz`)).json() as { meta_cluster?: { leader?: string } };
        if (!jsz.meta_cluster || jsz.meta_cluster.leader) return;
      }
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`JetStream on ${node.name} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts `size` nats-server processes (1 = single node) with JetStream and MQTT. */
export async function startNats(opts: { size?: number; replicas?: number } = {}): Promise<NatsCluster> {
  const size = opts.size ?? 1;
  const replicas = opts.replicas ?? size;
  const bin = findNatsServer();
  const root = mkdtempSync(path.join(tmpdir(), "xsfleet-nats-"));
  const nodes: NatsNode[] = [];
  for (let i = 0; i < size; i++) {
    const clientPort = await freePort();
    const mqttPort = await freePort();
    const storeDir = path.join(root, `n${i}`);
    mkdirSync(storeDir, { recursive: true });
    nodes.push({
      name: `n${i}`, clientPort, mqttPort, clusterPort: await freePort(), monitorPort: await freePort(),
      natsUrl: `nats://127.0.0.1:${clientPort}`, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, storeDir, process: null,
    });
  }
  for (const node of nodes) writeFileSync(path.join(root, `${node.name}.conf`), configFor(node, nodes, replicas));

  const startNode = async (i: number): Promise<void> => {
    const node = nodes[i]!;
    const child = spawn(bin, ["-c", path.join(root, `${node.name}.conf`)], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr!.on("data", (d: Buffer) => { log = (log + d.toString()).slice(-4000); });
    child.on("exit", (code, sig) => {
      if (node.process === child && code !== 0 && sig === null) console.error(`nats-server ${node.name} exited ${code}:\n${log}`);
    });
    node.process = child;
    await waitForPort(node.clientPort);
    await waitForPort(node.mqttPort);
  };
  const stopNode = async (i: number, signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    const node = nodes[i]!;
    const child = node.process;
    if (!child || child.exitCode !== null) return;
    node.process = null;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill(signal);
    await exited;
  };
  await Promise.all(nodes.map((_, i) => startNode(i)));
  await Promise.all(nodes.map((n) => waitJetStreamReady(n)));
  return {
    nodes,
    servers: nodes.map((n) => n.natsUrl),
    startNode: async (i) => { await startNode(i); await waitJetStreamReady(nodes[i]!); },
    stopNode,
    stop: async () => {
      await Promise.all(nodes.map((_, i) => stopNode(i)));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
