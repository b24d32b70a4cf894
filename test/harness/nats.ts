// Real nats-server processes for integration tests: a single node or a
// cluster, each with JetStream and the MQTT listener, on free loopback ports,
// with state in a temporary directory. Nothing here is mocked.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  freePort, natsServerConfig, spawnNatsServer, waitForPort, waitJetStreamReady,
} from "../../cloud/infra/nats-server";

export { freePort, waitForPort };

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

/** Starts `size` nats-server processes (1 = single node) with JetStream and MQTT. */
export async function startNats(opts: { size?: number; replicas?: number } = {}): Promise<NatsCluster> {
  const size = opts.size ?? 1;
  const replicas = opts.replicas ?? size;
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
  for (const node of nodes) {
    const routes = size > 1 ? nodes.filter((p) => p !== node).map((p) => `nats-route://127.0.0.1:${p.clusterPort}`) : [];
    writeFileSync(path.join(root, `${node.name}.conf`), natsServerConfig({ ...node, host: "127.0.0.1", routes, replicas }));
  }

  const startNode = async (i: number): Promise<void> => {
    const node = nodes[i]!;
    const child = spawnNatsServer(path.join(root, `${node.name}.conf`), (code, log) => {
      if (node.process === child && code !== 0) console.error(`nats-server ${node.name} exited ${code}:\n${log}`);
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
  const monitor = (n: NatsNode): string => `http://127.0.0.1:${n.monitorPort}`;
  await Promise.all(nodes.map((_, i) => startNode(i)));
  await Promise.all(nodes.map((n) => waitJetStreamReady(monitor(n))));
  return {
    nodes,
    servers: nodes.map((n) => n.natsUrl),
    startNode: async (i) => { await startNode(i); await waitJetStreamReady(monitor(nodes[i]!)); },
    stopNode,
    stop: async () => {
      await Promise.all(nodes.map((_, i) => stopNode(i)));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
