// Mesh peers in one process on real UDP (docs/edge.md): `peers` MeshNodes on
// 127.0.0.1 (node:dgram), each counting its own events into the mesh
// counter "events" every `countEveryMs`; the first `reporters` of them also
// run the device runtime on the broker and send the merged counters (as
// `mesh-events`) on connect and every `reportEveryMs`. Used by `xsfleet up
// --topology mesh|mixed` and the mesh test against nats-server.
import dgram from "node:dgram";
import { performance } from "node:perf_hooks";
import path from "node:path";
import { MeshNode } from "../edge/mesh-node";
import { fixedResources, silentLog, type DatagramTransport, type Platform } from "../platform";
import { SeededRandom } from "../sim/sim-clock";
import { assertDeviceId } from "../../shared/topics";
import { udpDatagrams } from "./net-links";
import { hostTimers } from "./timer";
import { startSimDevice, type SimDevice, type SimDeviceOptions } from "./sim-device";
import { MemoryStorage } from "../sim/memory-storage";

export const meshPeersMax = 64;

export interface MeshFleetOptions extends Pick<SimDeviceOptions, "heartbeatIntervalMs" | "tls" | "log"> {
  peers: number;
  reporters: number;
  brokerUrl: string | string[];
  stateDir: string;
  idPrefix?: string;
  gossipIntervalMs?: number;
  countEveryMs?: number;
  reportEveryMs?: number;
  /** MQTT login of a reporter (the secured stack's device credential); none when open. */
  reporterAuth?: (deviceId: string) => { username: string; password: string };
  seed?: number;
  /** Share of datagrams a peer's UDP drops on send (seeded; tests of a lossy LAN). Default 0. */
  lossRate?: number;
}

export interface MeshFleet {
  readonly nodes: MeshNode[];
  readonly reporters: SimDevice[];
  /** Events counted by all peers so far (what every converged peer's "events" equals). */
  counted(): number;
  /** Stops counting (the mesh keeps gossiping): for tests that wait for convergence. */
  pauseCounting(): void;
  /** Peers whose "events" equals counted(). */
  converged(): number;
  /** Peers (by index) in different groups drop each other's datagrams until heal(); unlisted peers form one more group. */
  partition(groups: ReadonlyArray<readonly number[]>): void;
  heal(): void;
  /** Datagrams dropped by the loss and the partition so far. */
  dropped(): number;
  stop(): Promise<void>;
  crashAll(): void;
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    s.on("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

export async function startMeshFleet(o: MeshFleetOptions): Promise<MeshFleet> {
  if (!(Number.isSafeInteger(o.peers) && o.peers >= 2 && o.peers <= meshPeersMax)) throw new Error(`peers must be 2..${meshPeersMax}`);
  if (!(Number.isSafeInteger(o.reporters) && o.reporters >= 0 && o.reporters <= o.peers)) throw new Error(`reporters must be 0..${o.peers}`);
  const ids = Array.from({ length: o.peers }, (_, i) => assertDeviceId(`${o.idPrefix ?? "mesh-"}${i}`));
  const ports: number[] = [];
  for (let i = 0; i < o.peers; i++) ports.push(await freeUdpPort());
  const bootMs = performance.now();
  const seed = o.seed ?? 1;
  const lossRate = o.lossRate ?? 0;
  if (!(lossRate >= 0 && lossRate < 1)) throw new Error(`lossRate must be in [0, 1), got ${lossRate}`);
  // Partition group by port (a peer's address is 127.0.0.1:<port>); all 0 when whole.
  const groupOfPort = new Map<number, number>();
  let dropped = 0;
  const lossy = (i: number): DatagramTransport => {
    const inner = udpDatagrams();
    const random = new SeededRandom((seed * 7919 + i) ^ 0x1055);
    return {
      open: (port, receive) => {
        const sock = inner.open(port, receive);
        return {
          get port() { return sock.port; },
          send: (to, bytes) => {
            const toPort = Number(to.slice(to.lastIndexOf(":") + 1));
            if ((groupOfPort.get(ports[i]!) ?? 0) !== (groupOfPort.get(toPort) ?? 0) || (lossRate > 0 && random.u32() / 4294967296 < lossRate)) {
              dropped++;
              return true; // lost on the way, as UDP does: the sender cannot tell
            }
            return sock.send(to, bytes);
          },
          close: () => sock.close(),
        };
      },
    };
  };
  const nodes = ids.map((id, i) => {
    const platform: Platform = {
      timers: hostTimers, clock: { uptimeMs: () => performance.now() - bootMs, wallMs: () => Date.now() }, storage: new MemoryStorage(),
      random: new SeededRandom(seed + i), log: silentLog, resources: fixedResources(),
      mqttConnect: () => { throw new Error("a mesh peer without a reporter has no broker"); },
      datagrams: lossy(i),
    };
    const peers = ports.filter((_, k) => k !== i).map((p) => `127.0.0.1:${p}`);
    return new MeshNode(platform, { id, peers, port: ports[i]!, gossipIntervalMs: o.gossipIntervalMs ?? 500 });
  });
  for (const n of nodes) n.start();
  let counted = 0;
  let counting = true;
  const countTimer = setInterval(() => {
    if (!counting) return;
    for (const n of nodes) {
      n.peer.add("events", 1);
      counted++;
    }
  }, o.countEveryMs ?? 2_000);
  const reporters: SimDevice[] = [];
  try {
    for (let i = 0; i < o.reporters; i++) {
      const node = nodes[i]!;
      reporters.push(await startSimDevice({
        deviceId: ids[i]!, role: "actuator", brokerUrl: o.brokerUrl, stateDir: path.join(o.stateDir, ids[i]!), fsync: false,
        extraCounters: () => node.counterState(),
        ...(o.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: o.heartbeatIntervalMs } : {}),
        ...(o.tls !== undefined ? { tls: o.tls } : {}), ...(o.log !== undefined ? { log: o.log } : {}),
        ...(o.reporterAuth ? o.reporterAuth(ids[i]!) : {}),
      }));
    }
  } catch (e) {
    clearInterval(countTimer);
    for (const n of nodes) n.stop();
    for (const r of reporters) r.crash();
    throw e;
  }
  const reportTimer = setInterval(() => { for (const r of reporters) if (r.stats().connected) r.runtime.publishCounters(); }, o.reportEveryMs ?? 5_000);
  const halt = (): void => {
    clearInterval(countTimer);
    clearInterval(reportTimer);
    for (const n of nodes) n.stop();
  };
  return {
    nodes, reporters,
    counted: () => counted,
    pauseCounting: () => { counting = false; },
    converged: () => nodes.filter((n) => n.peer.value("events") === counted).length,
    partition: (groups) => {
      groupOfPort.clear();
      for (const p of ports) groupOfPort.set(p, groups.length + 1);
      groups.forEach((g, k) => { for (const i of g) groupOfPort.set(ports[i]!, k + 1); });
    },
    heal: () => groupOfPort.clear(),
    dropped: () => dropped,
    stop: async () => {
      halt();
      await Promise.all(reporters.map((r) => r.stop()));
    },
    crashAll: () => {
      halt();
      for (const r of reporters) r.crash();
    },
  };
}
