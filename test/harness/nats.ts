// Real nats-server processes for integration tests: a single node or a
// cluster, each with JetStream and the MQTT listener on loopback ports that
// nats-server picks itself (no bind-and-release race between parallel test
// files), with state in a temporary directory. A node stopped and started
// again comes back on the same ports, so clients reconnect to the URLs they
// have. Nothing here is mocked.
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  anyPort, startNatsCluster, startNatsServer, waitJetStreamReady, type NatsServerProcess, type NatsServerSpec,
} from "../../cloud/infra";
import {
  ensureLocalTls, ensureTrust, natsOperatorConfig, principalPermissions, rolesPermissions, rolesPrincipalName, seedFleetAccount, TrustFile,
  writeServiceCreds, ConnectionType, type FullTrust, type LocalTls, type ServicePrincipal,
} from "../../cloud/security";
import type { CloudRole } from "../../cloud/base";
import { uplinkPartitionMappings } from "../../cloud/subjects";

export interface NatsNode {
  name: string;
  clientPort: number;
  mqttPort: number;
  /** 0 for a single node (no routes). */
  clusterPort: number;
  monitorPort: number;
  natsUrl: string;
  mqttUrl: string;
  storeDir: string;
  process: NatsServerProcess | null;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** All client URLs, for clients that should fail over between nodes. */
  servers: string[];
  /** Operator mode (secure: true): the deployment's keys, in a trust dir under the cluster's temp dir. */
  trust: FullTrust | null;
  /** TLS listeners (tls: true): the local CA and the server certificate. */
  tls: LocalTls | null;
  /** Writes a creds file for a service principal, or for a cloud node with these roles; returns its path. */
  creds(who: ServicePrincipal | readonly CloudRole[]): string;
  /** The system account's sys-push creds (account pushes). */
  sysCreds(): string;
  /** A test-only user allowed everything in FLEET: watches what really reaches NATS. */
  observerCreds(): string;
  stopNode(i: number, signal?: NodeJS.Signals): Promise<void>;
  startNode(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StartNatsOptions {
  size?: number;
  replicas?: number;
  /** Operator (JWT) mode with the full resolver, as `xsfleet up` runs it; `partitions` maps uplinks (default null: unmapped). */
  secure?: boolean | { partitions?: number | null };
  /** Open mode: map device uplinks into this many partitions (config `mappings`, as `xsfleet up --insecure`
   *  with ingest's default 16). Default unmapped: tests that play the cloud themselves subscribe to the
   *  subjects devices publish; anything with cloud/commands or ingest needs the mapping (acks reach
   *  commands through XSF_UP). */
  partitions?: number;
  /** TLS on the client and MQTT listeners, with a local CA (tests verify with `tls.caFile`). */
  tls?: boolean;
  /** Go pprof listener of the first server (benchmarks profiling the broker). */
  profPort?: number;
}

/** Starts `size` nats-server processes (1 = single node) with JetStream and MQTT; insecure unless asked. */
export async function startNats(opts: StartNatsOptions = {}): Promise<NatsCluster> {
  const size = opts.size ?? 1;
  const replicas = opts.replicas ?? size;
  const root = mkdtempSync(path.join(tmpdir(), "xsfleet-nats-"));
  const secure = opts.secure === true ? {} : opts.secure || null;
  const openPartitions = opts.partitions ?? 0;
  const trust = secure ? ensureTrust(path.join(root, "secrets"), { partitions: secure.partitions ?? null }) : null;
  const tls = opts.tls ? ensureLocalTls(path.join(root, "secrets", "tls")) : null;
  const specs: NatsServerSpec[] = Array.from({ length: size }, (_, i) => {
    const storeDir = path.join(root, `n${i}`);
    mkdirSync(storeDir, { recursive: true });
    const resolverDir = path.join(root, `jwt-n${i}`);
    if (trust) seedFleetAccount(trust, resolverDir);
    return {
      name: `n${i}`, host: "127.0.0.1", storeDir, replicas, routes: [], portsFileDir: root,
      clientPort: anyPort, mqttPort: anyPort, monitorPort: anyPort, clusterPort: size > 1 ? anyPort : null,
      ...(trust ? { operator: { ...natsOperatorConfig(trust), resolverDir } } : {}),
      ...(tls ? { tls: { certFile: tls.certFile, keyFile: tls.keyFile } } : {}),
      ...(!trust && openPartitions > 0 ? { mappings: uplinkPartitionMappings(openPartitions) } : {}),
      ...(i === 0 && opts.profPort !== undefined ? { profPort: opts.profPort } : {}),
    };
  });
  const confOf = (s: NatsServerSpec): string => path.join(root, `${s.name}.conf`);
  let started: NatsServerProcess[];
  try {
    started = await startNatsCluster(specs, confOf);
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const nodes: NatsNode[] = started.map((p, i) => ({
    name: p.name, clientPort: p.ports.client, mqttPort: p.ports.mqtt, clusterPort: p.ports.cluster ?? 0, monitorPort: p.ports.monitor,
    natsUrl: `nats://127.0.0.1:${p.ports.client}`, mqttUrl: `${tls ? "mqtts" : "mqtt"}://127.0.0.1:${p.ports.mqtt}`, storeDir: specs[i]!.storeDir, process: p,
  }));
  const monitor = (n: NatsNode): string => `http://127.0.0.1:${n.monitorPort}`;
  const ready = async (n: NatsNode): Promise<void> => {
    try {
      await waitJetStreamReady(monitor(n));
    } catch (err) {
      throw new Error(`${(err as Error).message}; log of ${n.name}:\n${n.process?.log() ?? "(not running)"}`);
    }
  };

  // A restart keeps the node's ports; routes go to the other nodes' route ports.
  const startNode = async (i: number): Promise<void> => {
    const node = nodes[i]!;
    if (node.process) return;
    const routes = size > 1 ? nodes.filter((p) => p !== node).map((p) => `nats-route://127.0.0.1:${p.clusterPort}`) : [];
    node.process = await startNatsServer({
      ...specs[i]!, routes, clientPort: node.clientPort, mqttPort: node.mqttPort, monitorPort: node.monitorPort,
      clusterPort: size > 1 ? node.clusterPort : null,
    }, confOf(specs[i]!));
  };
  const stopNode = async (i: number, signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    const node = nodes[i]!;
    const p = node.process;
    if (!p) return;
    node.process = null;
    await p.stop(signal);
  };
  try {
    await Promise.all(nodes.map(ready));
  } catch (err) {
    await Promise.all(nodes.map((_, i) => stopNode(i, "SIGKILL")));
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const creds = (who: ServicePrincipal | readonly CloudRole[]): string => {
    if (!trust) throw new Error("creds: this cluster was started without secure: true");
    return typeof who === "string" ? writeServiceCreds(trust, who, principalPermissions(who)) : writeServiceCreds(trust, rolesPrincipalName(who), rolesPermissions(who));
  };
  return {
    nodes,
    servers: nodes.map((n) => n.natsUrl),
    trust,
    tls,
    creds,
    observerCreds: () => {
      if (!trust) throw new Error("observerCreds: this cluster was started without secure: true");
      return writeServiceCreds(trust, "observer", { pub: { allow: [">"] }, sub: { allow: [">"] }, responds: true, connectionTypes: [ConnectionType.Standard] });
    },
    sysCreds: () => {
      if (!trust) throw new Error("sysCreds: this cluster was started without secure: true");
      return path.join(trust.dir, TrustFile.SysPush);
    },
    startNode: async (i) => { await startNode(i); await ready(nodes[i]!); },
    stopNode,
    stop: async () => {
      await Promise.all(nodes.map((_, i) => stopNode(i)));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
