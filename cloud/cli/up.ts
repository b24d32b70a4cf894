// `xsfleet up` (= `npm start`): the whole system on one machine — broker,
// cloud nodes, a simulated fleet running the real firmware code — with a
// live status line. Ctrl-C stops everything in reverse order.
import { connect } from "@nats-io/transport-node";
import path from "node:path";
import { startLocalNats, type LocalNats } from "../infra/local-nats";
import { freePort, isPortOpen } from "../infra/nats-server";
import { startNatsDashboard } from "../dashboard/standalone";
import type { DashboardHandle } from "../dashboard/types";
import { startSimFleet, fleetDevicesMax, type SimFleet } from "../../firmware/host/sim-fleet";
import { ApiClient } from "../api/client";
import { intOption, numberOption, parseCommand, stringOption, UsageError, type CommandSpec } from "./args";
import { spawnCloudNode, spawnControlReplica, stopCloudNode, type CloudProcess } from "./cloud-processes";
import { FleetProbe } from "./fleet-probe";
import { moddableDevicesMax, startModdableFleet, type ModdableFleet } from "./moddable-fleet";
import { fmtRate, liveStatus, RateMeter } from "./live-status";
import { waitForSignalOrTimeout } from "./signals";

export const upSpec: CommandSpec = {
  name: "up",
  summary: "Run the local stack: nats-server with JetStream and MQTT (data in --state-dir), cloud nodes, and a simulated fleet running the real firmware code, with a live status line.",
  usage: "xsfleet up [options]   (npm start runs the same)",
  options: {
    devices: { type: "string", value: "N", description: `simulated devices (0-${fleetDevicesMax})`, default: "36" },
    actuators: { type: "string", value: "N", description: "how many of them are actuators", default: "4" },
    moddable: { type: "string", value: "N", description: `more devices (0-${moddableDevicesMax}) running the Moddable-built firmware in the SDK's simulator (mcsim; builds the SDK once)`, default: "0" },
    "cloud-nodes": { type: "string", value: "N", description: "cloud node processes (roles ingest, api, commands)", default: "3" },
    registry: { type: "string", value: "kv|control", description: "device registry: control = Raft control plane (3 replicas), kv = NATS KV", default: "control" },
    "nats-nodes": { type: "string", value: "N", description: "nats-server processes to start: 1 or 3 (a cluster)", default: "1" },
    nats: { type: "string", value: "URL", description: "use this NATS instead of starting one (then --mqtt is required)" },
    mqtt: { type: "string", value: "URL", description: "MQTT URL of that NATS (its mqtt listener)" },
    "state-dir": { type: "string", value: "DIR", description: "where broker data, device flash and logs live", default: ".state" },
    "base-port": { type: "string", value: "PORT", description: "first local port (client; MQTT +1, monitor +2, routes +3)", default: "4333" },
    speedup: { type: "string", value: "X", description: "trace replay speed factor", default: "30" },
    "heartbeat-ms": { type: "string", value: "MS", description: "device heartbeat interval", default: "5000" },
    "dashboard-port": { type: "string", value: "PORT", description: "web dashboard port (0 = off; a free one when busy)", default: "8090" },
    duration: { type: "string", value: "S", description: "stop after S seconds (default: until Ctrl-C)" },
  },
  examples: ["npm start", "xsfleet up --devices 200 --nats-nodes 3", "xsfleet up --nats nats://127.0.0.1:4222 --mqtt mqtt://127.0.0.1:1883"],
};

interface Stack {
  nats: LocalNats | null;
  dashboard: DashboardHandle | null;
  servers: string[];
  mqttUrls: string[];
  cloud: CloudProcess[];
  control: CloudProcess[];
  fleet: SimFleet | null;
  moddable: ModdableFleet | null;
}

async function resolveBroker(p: ReturnType<typeof parseCommand> & object, stateDir: string, log: (m: string) => void): Promise<Pick<Stack, "nats" | "servers" | "mqttUrls">> {
  const natsUrl = stringOption(p, "nats");
  if (natsUrl) {
    const mqttUrl = stringOption(p, "mqtt");
    if (!mqttUrl) throw new UsageError("--nats needs --mqtt too: devices connect to the NATS server's MQTT listener", "up");
    const u = new URL(natsUrl);
    if (!(await isPortOpen(Number(u.port || 4222), u.hostname))) {
      throw new Error(`no NATS answers at ${natsUrl}. Start one, or drop --nats to let xsfleet start its own nats-server.`);
    }
    log(`broker: using NATS at ${natsUrl}, MQTT at ${mqttUrl}`);
    return { nats: null, servers: [natsUrl], mqttUrls: [mqttUrl] };
  }
  const size = intOption(p, "nats-nodes", 1, 3);
  log(`broker: starting ${size} nats-server process(es) with JetStream and MQTT, data in ${path.join(stateDir, "nats")} …`);
  const nats = await startLocalNats({ stateDir, size, basePort: intOption(p, "base-port", 1024, 65000) });
  log(`broker: NATS ${nats.servers.join(", ")} | MQTT ${nats.mqttUrls.join(", ")} | monitor ${nats.monitorUrls[0]}`);
  return { nats, servers: nats.servers, mqttUrls: nats.mqttUrls };
}

async function waitForApi(servers: string[], cloud: CloudProcess[], timeoutMs = 90_000): Promise<void> {
  const nc = await connect({ servers });
  try {
    const api = new ApiClient(nc, { timeoutMs: 2_000 });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = cloud.find((c) => c.child.exitCode !== null);
      if (dead) throw new Error(`cloud node ${dead.nodeId} exited with code ${dead.child.exitCode}; see ${dead.logFile}`);
      try {
        await api.list({ limit: 1 });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`cloud nodes did not answer within ${timeoutMs / 1000} s; see logs in ${path.dirname(cloud[0]!.logFile)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await nc.close();
  }
}

/** Registers the simulated devices (ids as sim-fleet names them) so the registry holds the fleet. */
async function registerFleet(servers: string[], devices: number, backend: string, log: (m: string) => void): Promise<void> {
  const nc = await connect({ servers });
  try {
    const api = new ApiClient(nc, { timeoutMs: 15_000 });
    const width = String(devices - 1).length;
    let created = 0;
    for (let i = 0; i < devices; i++) {
      try {
        await api.register(`sim-${String(i).padStart(width, "0")}`, { source: "xsfleet-up" });
        created++;
      } catch (e) {
        if ((e as { code?: string }).code !== "already_exists") throw e;
      }
    }
    log(`registry: ${devices} devices registered (${created} new) in the ${backend === "control" ? "Raft control plane" : "NATS KV"} registry`);
  } finally {
    await nc.close();
  }
}

export async function runUp(argv: string[]): Promise<number> {
  const p = parseCommand(upSpec, argv);
  if (!p) return 0;
  const devices = intOption(p, "devices", 0, fleetDevicesMax);
  const actuators = intOption(p, "actuators", 0, devices);
  const cloudNodes = intOption(p, "cloud-nodes", 1, 9);
  const durationS = stringOption(p, "duration") !== undefined ? numberOption(p, "duration", 1, 86_400 * 365) : undefined;
  const speedup = numberOption(p, "speedup", 0.1, 10_000);
  const heartbeatMs = intOption(p, "heartbeat-ms", 100, 3_600_000);
  const stateDir = path.resolve(stringOption(p, "state-dir") ?? ".state");
  const status = liveStatus();
  const log = (m: string): void => status.log(`[xsfleet up] ${m}`);
  const moddableCount = intOption(p, "moddable", 0, moddableDevicesMax);
  const stack: Stack = { nats: null, dashboard: null, servers: [], mqttUrls: [], cloud: [], control: [], fleet: null, moddable: null };
  let probe: FleetProbe | null = null;
  let timer: NodeJS.Timeout | undefined;
  const stopped = waitForSignalOrTimeout(durationS);
  try {
    Object.assign(stack, await resolveBroker(p, stateDir, log));
    const replicas = stack.servers.length >= 3 ? 3 : 1;
    const registry = stringOption(p, "registry");
    if (registry !== "kv" && registry !== "control") throw new UsageError(`--registry must be kv or control, got ${JSON.stringify(registry)}`, "up");
    if (registry === "control") {
      log(`control plane: starting 3 Raft replicas (WAL in ${path.join(stateDir, "control")}) …`);
      for (const id of [1, 2, 3]) {
        stack.control.push(spawnControlReplica({ id, peers: [1, 2, 3], servers: stack.servers, dataDir: path.join(stateDir, "control", `n${id}`), logDir: path.join(stateDir, "logs") }));
      }
    }
    log(`cloud: starting ${cloudNodes} cloud node(s) with roles ingest, api, commands${registry === "control" ? ", orchestration" : ""} (logs in ${path.join(stateDir, "logs")}) …`);
    for (let i = 1; i <= cloudNodes; i++) {
      stack.cloud.push(spawnCloudNode({ nodeId: `cloud-${i}`, roles: registry === "control" ? ["ingest", "api", "commands", "orchestration"] : ["ingest", "api", "commands"], servers: stack.servers, replicas, logDir: path.join(stateDir, "logs"), registry }));
    }
    await waitForApi(stack.servers, [...stack.cloud, ...stack.control]);
    log("cloud: API answering");
    const dashPort = intOption(p, "dashboard-port", 0, 65535);
    if (dashPort > 0) {
      const port = (await isPortOpen(dashPort)) ? await freePort() : dashPort;
      stack.dashboard = await startNatsDashboard({ servers: stack.servers, monitorUrls: stack.nats?.monitorUrls ?? [], port });
      log(`dashboard: ${stack.dashboard.url}`);
    }
    if (devices > 0) {
      await registerFleet(stack.servers, devices, registry, log);
      log(`fleet: starting ${devices} simulated devices (${actuators} actuators), replaying room-climate traces at ${speedup}x …`);
      stack.fleet = await startSimFleet({
        devices, actuators, brokerUrl: stack.mqttUrls, stateDir: path.join(stateDir, "devices"), speedup,
        heartbeatIntervalMs: heartbeatMs, rampMs: Math.min(5_000, devices * 25), fsync: false, idPrefix: "sim-",
      });
    }
    if (moddableCount > 0) {
      stack.moddable = await startModdableFleet({ count: moddableCount, servers: stack.servers, mqttUrl: stack.mqttUrls[0]!, stateDir: path.join(stateDir, "moddable"), speedup, heartbeatIntervalMs: heartbeatMs, log });
    }
    const nc = await connect({ servers: stack.servers, maxReconnectAttempts: -1 });
    probe = new FleetProbe(nc);
    probe.watchOutput();
    log("running — Ctrl-C to stop");
    const rates = new RateMeter();
    let busy = false;
    timer = setInterval(() => {
      if (busy || !probe) return;
      busy = true;
      probe.snapshot().then((s) => {
        const fleet = stack.fleet?.stats();
        const up = stack.cloud.filter((c) => c.child.exitCode === null).length;
        const cpUp = stack.control.filter((c) => c.child.exitCode === null).length;
        status.update(`devices ${s.devicesOnline}/${s.devicesKnown} online` +
          (fleet ? ` (${fleet.connected}/${fleet.devices} connected)` : "") +
          (stack.moddable ? ` | mcsim ${stack.moddable.connected()}/${stack.moddable.ids.length}` : "") +
          ` | ${fmtRate(rates.rate("msgs", probe!.outputBatches))} batches/s | ${fmtRate(rates.rate("pts", probe!.outputPoints))} points/s` +
          ` | lag ${s.consumerLag} | dead letters ${s.deadLetters} | cloud ${up}/${stack.cloud.length} up` +
          (stack.control.length ? ` | raft ${cpUp}/${stack.control.length}` : "") +
          (s.members ? ` | members ${s.members.up} up${s.members.suspect ? `, ${s.members.suspect} suspect` : ""}${s.members.down ? `, ${s.members.down} down` : ""}` : ""));
      }).catch((e: unknown) => status.update(`status unavailable: ${(e as Error).message}`)).finally(() => { busy = false; });
    }, 1_000);
    const why = await stopped;
    log(`stopping (${why}) …`);
    return 0;
  } finally {
    if (timer) clearInterval(timer);
    if (stack.fleet) {
      log("fleet: clean disconnects …");
      await stack.fleet.stop();
    }
    if (stack.moddable) {
      log("moddable: stopping the simulators …");
      await stack.moddable.stop();
    }
    if (stack.dashboard) await stack.dashboard.stop();
    if (probe) {
      probe.stop();
      await probe.nc.close();
    }
    if (stack.cloud.length > 0) {
      log("cloud: SIGTERM, waiting for in-flight work …");
      const codes = await Promise.all(stack.cloud.map((c) => stopCloudNode(c)));
      if (codes.some((c) => c !== 0)) log(`cloud: exit codes ${codes.join(", ")} (see logs)`);
    }
    if (stack.control.length > 0) {
      log("control plane: stopping replicas …");
      await Promise.all(stack.control.map((c) => stopCloudNode(c)));
    }
    if (stack.nats) {
      log("broker: stopping nats-server …");
      await stack.nats.stop();
    }
    status.stop();
  }
}
