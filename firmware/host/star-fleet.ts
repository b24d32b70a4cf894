// Stars of simulated devices in one process (docs/edge.md): `gateways`
// gateways (the device runtime in the gateway role on the broker, a TCP
// listener on 127.0.0.1) each with `childrenPerGateway` sensor children that
// reach no broker: they join their gateway over a TCP link. Used by
// `xsfleet up --topology star|mixed`.
//
// Gateway g is `${idPrefix}gw-<g>`, its children `${idPrefix}gw-<g>-c<i>`;
// their state lives in stateDir/<id> like any simulated device. The last
// `processing` gateways run in the processing role (they take rules jobs,
// docs/edge.md) and their last child is an actuator they can act on locally.
import net from "node:net";
import path from "node:path";
import { assertDeviceId } from "../../shared/topics";
import { roomClimateTraces } from "./room-climate";
import { startSimDevice, type SimDevice, type SimDeviceOptions } from "./sim-device";

/** Gateways and children a star fleet may run in one process. */
export const starGatewaysMax = 16;
export const starChildrenPerGatewayMax = 32;

export interface StarFleetOptions extends Pick<SimDeviceOptions, "speedup" | "heartbeatIntervalMs" | "tls" | "fsync" | "log"> {
  gateways: number;
  childrenPerGateway: number;
  /** The last this many gateways are processing nodes, each with an actuator as its last child (default 0). */
  processing?: number;
  brokerUrl: string | string[];
  stateDir: string;
  idPrefix?: string;
  /** The gateway's MQTT login (the secured stack issues one keyed by its children); none when open. */
  gatewayAuth?: (gatewayId: string, children: readonly string[]) => { username: string; password: string };
}

export interface StarFleet {
  readonly gateways: SimDevice[];
  readonly children: SimDevice[];
  /** Gateway id -> its children's ids. */
  readonly topology: ReadonlyMap<string, readonly string[]>;
  ids(): string[];
  connected(): number;
  stop(): Promise<void>;
  crashAll(): void;
}

/** Gateways that are processing nodes (the last `processing` ones), as startStarFleet runs them. */
export function starProcessingIds(topology: ReadonlyMap<string, readonly string[]>, processing: number): string[] {
  return [...topology.keys()].slice(Math.max(0, topology.size - processing));
}

/** Gateway and child ids of a star fleet, as startStarFleet names them. */
export function starFleetIds(gateways: number, childrenPerGateway: number, idPrefix = ""): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let g = 0; g < gateways; g++) {
    const gw = assertDeviceId(`${idPrefix}gw-${g}`);
    out.set(gw, Array.from({ length: childrenPerGateway }, (_, i) => assertDeviceId(`${gw}-c${i}`)));
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
    });
  });
}

export async function startStarFleet(o: StarFleetOptions): Promise<StarFleet> {
  if (!(Number.isSafeInteger(o.gateways) && o.gateways >= 1 && o.gateways <= starGatewaysMax)) throw new Error(`gateways must be 1..${starGatewaysMax}`);
  if (!(Number.isSafeInteger(o.childrenPerGateway) && o.childrenPerGateway >= 1 && o.childrenPerGateway <= starChildrenPerGatewayMax)) {
    throw new Error(`childrenPerGateway must be 1..${starChildrenPerGatewayMax}`);
  }
  const topology = starFleetIds(o.gateways, o.childrenPerGateway, o.idPrefix ?? "");
  const traces = roomClimateTraces();
  const common = {
    ...(o.speedup !== undefined ? { speedup: o.speedup } : {}), ...(o.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: o.heartbeatIntervalMs } : {}),
    ...(o.log !== undefined ? { log: o.log } : {}), fsync: o.fsync ?? false,
  };
  const processing = new Set(starProcessingIds(topology, o.processing ?? 0));
  const gateways: SimDevice[] = [];
  const children: SimDevice[] = [];
  try {
    let k = 0;
    for (const [gwId, kids] of topology) {
      const port = await freePort();
      const proc = processing.has(gwId);
      gateways.push(await startSimDevice({
        ...common, deviceId: gwId, brokerUrl: o.brokerUrl, stateDir: path.join(o.stateDir, gwId), relay: { port, children: kids },
        ...(proc ? { role: "processing" as const } : {}),
        ...(o.tls !== undefined ? { tls: o.tls } : {}), ...(o.gatewayAuth ? o.gatewayAuth(gwId, kids) : {}),
      }));
      for (const [i, id] of kids.entries()) {
        const trace = traces[k++ % traces.length]!;
        const actuator = proc && i === kids.length - 1;
        children.push(await startSimDevice({
          ...common, deviceId: id, brokerUrl: "mqtt://unused:1", viaGateway: { host: "127.0.0.1", port }, stateDir: path.join(o.stateDir, id),
          ...(actuator ? { role: "actuator" as const } : { trace: { rows: trace.rows, loop: true } }), backoff: { baseMs: 200, capMs: 5_000 },
        }));
      }
    }
  } catch (e) {
    for (const d of [...children, ...gateways]) d.crash();
    throw e;
  }
  const all = [...gateways, ...children];
  return {
    gateways, children, topology,
    ids: () => all.map((d) => d.deviceId),
    connected: () => all.filter((d) => d.stats().connected).length,
    stop: async () => {
      await Promise.all(children.map((d) => d.stop()));
      await Promise.all(gateways.map((d) => d.stop()));
    },
    crashAll: () => { for (const d of all) d.crash(); },
  };
}
