// `xsfleet up` (= `npm start`): the whole system on one machine — broker,
// control plane, cloud nodes, a simulated fleet running the real firmware
// code, the dashboard — with a live status line.
//
// Stopping: Ctrl-C or SIGTERM stops, in this order, the fleet (clean MQTT
// disconnects), the cloud nodes (graceful drain), the control-plane
// replicas, then the broker; each stage is bounded and escalates to SIGKILL,
// and the whole stop takes at most stopBudgetMs. The children run in their
// own process groups, so a terminal's Ctrl-C reaches only this process, and
// get SIGTERM from the kernel if this process dies (cloud/infra/owned-child).
// A second Ctrl-C forces: everything is killed at once.
//
// While running, cloud nodes and replicas that exit by themselves are logged
// with their exit code or signal, shown as down, and restarted with bounded
// exponential backoff (cloud-processes.ts).
import type { NatsConnection } from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startLocalNats, freePort, isPortOpen, type LocalNats } from "../infra";
import { startNatsDashboard, type DashboardEventListener, type DashboardHandle, type ProcessRow } from "../dashboard";
import { startSimFleet, fleetDevicesMax, simFleetIds, type SimFleet } from "../../firmware/host/sim-fleet";
import { startStarFleet, starFleetIds, starGatewaysMax, starProcessingIds, type StarFleet } from "../../firmware/host/star-fleet";
import { meshPeersMax, startMeshFleet, type MeshFleet } from "../../firmware/host/mesh-fleet";
import { storedCredentialIn } from "../../firmware/host/sim-device";
import { ApiClient, ApiEndpoint } from "../api";
import type { CloudRole } from "../base";
import { connectNats, type NatsSettings } from "../nats";
import { CredentialIssuer, decodeJwt, devicePermissions, localTlsHostsDefault } from "../security";
import { intOption, numberOption, parseCommand, stringOption, UsageError, type CommandSpec } from "./args";
import {
  cloudNodeProcess, controlReplicaProcess, describeExits, stackRestartConfig, type ProcessEvent, type StackProcess,
} from "./cloud-processes";
import { FleetProbe } from "./fleet-probe";
import { startPaxosAcceptors } from "./paxos-acceptors";
import { moddableDevicesMax, startModdableFleet, type ModdableFleet } from "./moddable-fleet";
import { liveStatus, RateMeter, statusLine } from "./live-status";
import { stopRequests } from "./signals";
import { describeExit } from "../infra";
import { startMetricsEndpoint, type MetricsEndpoint } from "../metrics";
import { createStackMetrics, type StackMetrics } from "./stack-metrics";
import { startPrometheus, type LocalPrometheus } from "./prometheus";
import { otlpTracesPath, otlpTracesUrl } from "../tracing";
import { cloudNodeSecurityArgs, controlReplicaSecurityArgs, integratorHint, paxosAcceptorSecurityArgs, prepareStackSecurity, stackPartitions, type StackSecurity } from "./stack-security";
import { uplinkPartitionMappings } from "../subjects";
import { DataSet, replicationProblem, ReplicationMode } from "../replication";

export const upSpec: CommandSpec = {
  name: "up",
  summary: "Run the local stack: nats-server with JetStream and MQTT (data in --state-dir), cloud nodes, and a simulated fleet running the real firmware code, with a live status line.",
  usage: "xsfleet up [options]   (npm start runs the same)",
  options: {
    devices: { type: "string", value: "N", description: `simulated devices (0-${fleetDevicesMax})`, default: "36" },
    actuators: { type: "string", value: "N", description: "how many of them are actuators (default: 4; one per 9 devices in smaller fleets)" },
    topology: { type: "string", value: "direct|star|mesh|mixed", description: "direct: every device on the broker; star: the devices sit behind gateways (8 children each) with no broker access; mesh: the devices are mesh peers on UDP converging their counters, two of them reporting to the cloud; mixed (the default): the direct fleet plus one gateway and one processing node with 4 children each (an aggregate and a rules edge job placed on them by the orchestrator) and a mesh of 8 peers (docs/edge.md)", default: "mixed" },
    moddable: { type: "string", value: "N", description: `more devices (0-${moddableDevicesMax}) running the Moddable-built firmware in the SDK's simulator (mcsim; builds the SDK once)`, default: "0" },
    "cloud-nodes": { type: "string", value: "N", description: "cloud node processes (roles ingest, api, commands, orchestration, cache)", default: "3" },
    registry: { type: "string", value: "kv|control", description: "device registry: control = Raft control plane (3 replicas), kv = NATS KV", default: "control" },
    "nats-nodes": { type: "string", value: "N", description: "nats-server processes to start: 1 or 3 (a cluster)", default: "1" },
    nats: { type: "string", value: "URL", description: "use this NATS instead of starting one (then --mqtt is required)" },
    mqtt: { type: "string", value: "URL", description: "MQTT URL of that NATS (its mqtt listener)" },
    "state-dir": { type: "string", value: "DIR", description: "where broker data, device flash and logs live", default: ".state" },
    "base-port": { type: "string", value: "PORT", description: "first local port (client; MQTT +1, monitor +2, routes +3)", default: "4333" },
    speedup: { type: "string", value: "X", description: "trace replay speed factor", default: "30" },
    "heartbeat-ms": { type: "string", value: "MS", description: "device heartbeat interval", default: "5000" },
    "dashboard-port": { type: "string", value: "PORT", description: "web dashboard port (0 = off; a free one when busy)", default: "8090" },
    "backup-interval": { type: "string", value: "S", description: "scheduled backups of the control plane and KV buckets into <state-dir>/backups every S seconds, by whichever cloud node holds the backup singleton (0 = off; needs --registry control)", default: "300" },
    "backup-retain": { type: "string", value: "N", description: "scheduled backups kept", default: "6" },
    "history-replication": { type: "string", value: "sync|semi-sync|async", description: "replication of the telemetry history with --nats-nodes 3 (docs/data-plane.md \"Replication\")", default: "sync" },
    "out-replication": { type: "string", value: "sync|semi-sync|async", description: "replication of the integrator outputs XSF_OUT with --nats-nodes 3", default: "sync" },
    duration: { type: "string", value: "S", description: "stop after S seconds (default: until Ctrl-C)" },
    insecure: { type: "boolean", description: "no authentication at all (the open broker of earlier versions); default: operator/JWT mode, credentials in <state-dir>/secrets" },
    tls: { type: "boolean", description: "TLS on the NATS and MQTT listeners with a local CA (<state-dir>/secrets/tls); devices and services verify it" },
    bind: { type: "string", value: "ADDR", description: "address the broker's listeners bind; 0.0.0.0 lets devices on the LAN connect (use with the secured stack, ideally --tls)", default: "127.0.0.1" },
    prometheus: { type: "boolean", description: "also start Debian's prometheus scraping every process of the stack (targets in <state-dir>/prometheus/targets.json, written in any case)" },
    "prometheus-port": { type: "string", value: "PORT", description: "Prometheus UI/API port with --prometheus (a free one when busy)", default: "9090" },
    "tls-host": { type: "string", value: "HOST", description: "another name or IP the server certificate must carry (devices on the LAN dial it); repeatable", multiple: true },
    "otlp-endpoint": { type: "string", value: "URL|off", description: "where every cloud node exports its spans (OTLP/HTTP); default: the dashboard's POST /v1/traces (off without a dashboard)" },
    "trace-ratio": { type: "string", value: "R", description: "share of traces kept, 0..1 (parent-based on the trace id: every process keeps the same ones)", default: "1" },
  },
  examples: [
    "npm start", "xsfleet up --devices 200 --nats-nodes 3", "xsfleet up --prometheus", "xsfleet up --tls --tls-host 192.168.1.10",
    "xsfleet up --insecure --nats nats://127.0.0.1:4222 --mqtt mqtt://127.0.0.1:1883",
  ],
};

/** Longest stop, Ctrl-C to exit; the stages' bounds below add up to less. */
export const stopBudgetMs = 14_000;
const fleetStopMs = 3_000;
const dashboardStopMs = 1_000;
/** Cloud nodes get this as shutdownTimeoutMs, and SIGKILL 1.5 s after it. */
const cloudShutdownMs = 4_000;
const cloudKillMs = cloudShutdownMs + 1_500;
const controlKillMs = 2_500;
const brokerKillMs = 2_000;

interface Stack {
  nats: LocalNats | null;
  dashboard: DashboardHandle | null;
  servers: string[];
  mqttUrls: string[];
  cloud: StackProcess[];
  /** The analytics role runs and its example rules are stored (the status line counts alerts). */
  analytics?: boolean;
  control: StackProcess[];
  fleet: SimFleet | null;
  /** `--moddable N`: devices running the Moddable-built firmware in mcsim. */
  moddable: ModdableFleet | null;
  /** `--topology star|mixed`: gateways and the children behind them. */
  star: StarFleet | null;
  /** `--topology mesh|mixed`: mesh peers on UDP, some reporting to the cloud. */
  mesh: MeshFleet | null;
  probe: FleetProbe | null;
  /** Set when a stop began: startup steps still in flight undo what they made. */
  stopping: boolean;
  /** The dashboard's live feed of process exits and restarts. */
  eventListeners: Set<DashboardEventListener>;
  /** Credentials, operator mode and TLS; null with --insecure. */
  security: StackSecurity | null;
  /** /metrics ports of every process and the fleet's metrics (stack-metrics.ts). */
  metrics: StackMetrics | null;
  /** The up process's own /metrics endpoint when there is no dashboard to serve it. */
  upEndpoint: MetricsEndpoint | null;
  prometheus: LocalPrometheus | null;
}

/** A NATS connection of `up` itself (the fleet tooling's user when secured). */
function stackConnect(stack: Pick<Stack, "servers" | "security">, name: string, extra: Partial<NatsSettings> = {}): Promise<NatsConnection> {
  const s = stack.security;
  return connectNats({
    servers: stack.servers, name, ...extra,
    ...(s ? { credsFile: s.creds.fleet } : {}), ...(s?.tls ? { tls: { caFile: s.tls.caFile } } : {}),
  });
}

class Aborted extends Error {}

async function resolveBroker(p: ReturnType<typeof parseCommand> & object, stateDir: string, security: StackSecurity | null, log: (m: string) => void): Promise<Pick<Stack, "nats" | "servers" | "mqttUrls">> {
  const natsUrl = stringOption(p, "nats");
  if (natsUrl) {
    const mqttUrl = stringOption(p, "mqtt");
    if (!mqttUrl) throw new UsageError("--nats needs --mqtt too: devices connect to the NATS server's MQTT listener", "up");
    if (security) throw new UsageError("--nats uses a NATS server that xsfleet does not configure, so it cannot hold xsfleet's operator and accounts: add --insecure, or drop --nats", "up");
    const u = new URL(natsUrl);
    if (!(await isPortOpen(Number(u.port || 4222), u.hostname))) {
      throw new Error(`no NATS answers at ${natsUrl}. Start one, or drop --nats to let xsfleet start its own nats-server.`);
    }
    log(`broker: using NATS at ${natsUrl}, MQTT at ${mqttUrl}`);
    return { nats: null, servers: [natsUrl], mqttUrls: [mqttUrl] };
  }
  const size = intOption(p, "nats-nodes", 1, 3);
  const mode = security ? `operator/JWT mode${security.tls ? " with TLS" : ""}` : "no authentication (--insecure)";
  log(`broker: starting ${size} nats-server process(es) with JetStream and MQTT, ${mode}, data in ${path.join(stateDir, "nats")} …`);
  const bind = stringOption(p, "bind") ?? "127.0.0.1";
  if (!/^[0-9a-fA-F.:]+$/.test(bind)) throw new UsageError(`--bind takes an IP address, got ${JSON.stringify(bind)}`, "up");
  if (bind !== "127.0.0.1" && !security) log("warning: --bind with --insecure: anyone who reaches this address can publish for any device");
  // Device uplinks into ingest's partitions (docs/delivery.md): config mappings when open, the FLEET account JWT when secured.
  const nats = await startLocalNats({
    stateDir, size, basePort: intOption(p, "base-port", 1024, 65000), host: bind, ...(security ? security.broker : { mappings: uplinkPartitionMappings(stackPartitions) }),
  });
  log(`broker: NATS ${nats.servers.join(", ")} | MQTT ${nats.mqttUrls.join(", ")} | monitor ${nats.monitorUrls[0]}`);
  return { nats, servers: nats.servers, mqttUrls: nats.mqttUrls };
}

async function waitForApi(stack: Stack, timeoutMs = 90_000): Promise<void> {
  const nc = await stackConnect(stack, "xsfleet-up");
  try {
    const api = new ApiClient(nc, { timeoutMs: 2_000 });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (stack.stopping) throw new Aborted("stopping");
      const failed = [...stack.cloud, ...stack.control].find((c) => c.state === "failed");
      if (failed) throw new Error(`${failed.kind} ${failed.name} ${failed.snapshot().lastExit?.text ?? "exited"} repeatedly; see ${failed.logFile}`);
      try {
        await api.list({ limit: 1 });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`cloud nodes did not answer within ${timeoutMs / 1000} s; see logs in ${path.dirname(stack.cloud[0]!.logFile)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await nc.close();
  }
}

/** Insecure stack: registers the simulated devices (ids as sim-fleet names them) so the registry holds the fleet. */
async function registerFleet(stack: Stack, devices: number, backend: string, log: (m: string) => void): Promise<void> {
  const created = await registerIds(stack, simFleetIds(devices));
  log(`registry: ${devices} devices registered (${created} new) in the ${backend === "control" ? "Raft control plane" : "NATS KV"} registry`);
}

/** Registers these devices through the API; returns how many were new. */
async function registerIds(stack: Stack, ids: readonly string[]): Promise<number> {
  const nc = await stackConnect(stack, "xsfleet-up");
  try {
    const api = new ApiClient(nc, { timeoutMs: 15_000 });
    let created = 0;
    for (const id of ids) {
      try {
        await api.register(id, { source: "xsfleet-up" });
        created++;
      } catch (e) {
        if ((e as { code?: string }).code !== "already_exists") throw e;
      }
    }
    return created;
  } finally {
    await nc.close();
  }
}

/**
 * Secured stack: a one-time claim for every simulated device that holds no
 * credential of this trust in its flash; the devices provision themselves
 * with them (and get registered by the provisioning role). A device whose
 * stored credential was signed by another trust (the secrets were made
 * anew) gets a claim too and provisions again.
 */
async function claimsForFleet(stack: Stack, devicesDir: string, devices: number, log: (m: string) => void): Promise<Map<string, string>> {
  const { fleet: fleetAccount, partitions } = stack.security!.trust.info;
  const need = simFleetIds(devices).filter((id) => !credentialOfTrust(path.join(devicesDir, id), id, fleetAccount, partitions));
  const claims = new Map<string, string>();
  if (need.length === 0) {
    log(`fleet: all ${devices} simulated devices hold credentials from an earlier run`);
    return claims;
  }
  for (const [id, token] of await claimsFor(stack, need, "xsfleet up: simulated fleet")) claims.set(id, token);
  log(`fleet: ${claims.size} one-time claims created; ${devices - claims.size} devices already hold credentials`);
  return claims;
}

/** One-time claims for these devices (device id → claim token). */
async function claimsFor(stack: Stack, ids: readonly string[], note: string): Promise<Map<string, string>> {
  const claims = new Map<string, string>();
  const nc = await stackConnect(stack, "xsfleet-up");
  try {
    const api = new ApiClient(nc, { timeoutMs: 30_000 });
    for (let i = 0; i < ids.length; i += claimsPerCallMax) {
      for (const c of await api.createClaims({ deviceIds: ids.slice(i, i + claimsPerCallMax), note })) claims.set(c.deviceId!, c.token);
    }
  } finally {
    await nc.close();
  }
  return claims;
}

/** Devices of the simulated fleet that get the example desired shadow field. */
const shadowExampleDevicesMax = 4;

/**
 * The local stack's example of the causal device shadow (docs/shadow.md): a
 * desired field written with the context read (so a restart of `up` replaces
 * its own value instead of adding a sibling); the devices apply the delta and
 * report it back, and the dashboard's device detail shows both documents.
 */
async function seedDesiredShadow(stack: Stack, ids: readonly string[], log: (m: string) => void): Promise<void> {
  const nc = await stackConnect(stack, "xsfleet-up");
  try {
    const api = new ApiClient(nc, { timeoutMs: 10_000 });
    for (const deviceId of ids) {
      const { shadow } = await api.call(ApiEndpoint.ShadowGet, { deviceId });
      const context = shadow.desired.fields[shadowExampleField]?.context;
      await api.call(ApiEndpoint.ShadowPut, { deviceId, field: shadowExampleField, value: "auto", actor: "xsfleet-up", ...(context ? { context } : {}) });
    }
    log(`shadow: desired ${shadowExampleField}=auto for ${ids.join(", ")} (the devices report it back; dashboard: a device's detail)`);
  } catch (e) {
    log(`shadow: example desired field not written: ${(e as Error).message}`);
  } finally {
    await nc.close();
  }
}

const shadowExampleField = "mode";

/** The example rules of the local stack (docs/analytics.md "Example rules"): the room-climate humidity of the first
 *  sensors drives the first actuator's output (set {on}) — above 44.5 % for 30 s → on, below 43.5 % for 30 s → off
 *  (the replayed traces cross these within minutes at the default speed-up) — and a sensor silent for 60 s raises an event. */
export function exampleRules(ids: readonly string[], actuators: number): object[] {
  const sensors = ids.slice(0, Math.max(0, ids.length - actuators)).slice(0, 8);
  const actuator = actuators > 0 ? ids[ids.length - actuators] : undefined;
  if (sensors.length === 0) return [];
  return [
    {
      id: "humidity-fan", name: "humidity above 44.5 % for 30 s → fan on; below 43.5 % for 30 s → fan off", severity: "warning",
      match: { devices: sensors, channel: "humidity" }, when: { kind: "threshold", above: 44.5, clearBelow: 43.5 }, raiseForMs: 30_000, clearForMs: 30_000,
      actions: [
        ...(actuator ? [{ kind: "command", device: actuator, command: "set", args: { on: true }, on: "raise" }, { kind: "command", device: actuator, command: "set", args: { on: false }, on: "clear" }] : []),
        { kind: "event", on: "raise" },
      ],
    },
    {
      id: "sensor-silent", name: "no humidity for 60 s", severity: "critical",
      match: { devices: sensors, channel: "humidity" }, when: { kind: "absence", forMs: 60_000 }, actions: [{ kind: "event", on: "raise" }],
    },
  ];
}

async function seedExampleRules(stack: Stack, ids: readonly string[], actuators: number, log: (m: string) => void): Promise<void> {
  const nc = await stackConnect(stack, "xsfleet-up");
  try {
    const api = new ApiClient(nc, { timeoutMs: 10_000 });
    const stored: string[] = [];
    for (const rule of exampleRules(ids, actuators)) stored.push((await api.call(ApiEndpoint.RulesPut, { rule })).rule.id);
    stack.analytics = true;
    log(`analytics: example rules ${stored.join(", ")} (xsfleet rules list; alerts on the status line and the dashboard)`);
  } catch (e) {
    log(`analytics: example rules not stored: ${(e as Error).message}`);
  } finally {
    await nc.close();
  }
}

/** Claims one claims.create call asks for (within the provisioning role's default claimsPerRequestMax). */
const claimsPerCallMax = 250;

/** True when the device's flash holds a credential issued under this FLEET
 *  account for the current partitioning (a credential from before the uplinks
 *  were partitioned may publish only unmapped subjects: the broker checks the
 *  mapped one and would drop everything it sends). */
function credentialOfTrust(deviceDir: string, deviceId: string, fleetAccount: string, partitions: number | null): boolean {
  const jwt = storedCredentialIn(deviceDir);
  if (jwt === undefined) return false;
  try {
    const body = decodeJwt(jwt);
    const exp = body.exp ?? Infinity;
    const allowed = (body.nats.pub as { allow?: unknown } | undefined)?.allow;
    const want = devicePermissions(deviceId, partitions).pub.allow ?? [];
    const samePermissions = Array.isArray(allowed) && want.every((subject) => allowed.includes(subject));
    return body.nats.issuer_account === fleetAccount && exp > Date.now() / 1000 + 60 && samePermissions;
  } catch {
    return false;
  }
}

/** One log line per exit, restart and give-up of a supervised process. */
function processEventLine(e: ProcessEvent): string {
  const p = e.process;
  switch (e.type) {
    case "exited":
      return `${p.kind} ${p.name} ${describeExit(e.exit)}; restarting in ${(e.delayMs / 1000).toFixed(1)} s (attempt ${e.attempt} of ${stackRestartConfig.attemptsMax}; log ${p.logFile})`;
    case "restarted":
      return `${p.kind} ${p.name} restarted (pid ${e.pid}, restart ${e.restarts})`;
    case "gave-up":
      return `${p.kind} ${p.name} ${e.exit ? describeExit(e.exit) : "failed"} ${e.attempts + 1} times in a row; not restarting it (log ${p.logFile})`;
  }
}

interface UpSettings {
  devices: number;
  topology: "direct" | "star" | "mesh" | "mixed";
  /** Mesh peers with --topology mesh (from --devices). */
  meshPeers: number;
  moddable: number;
  actuators: number;
  cloudNodes: number;
  speedup: number;
  heartbeatMs: number;
  stateDir: string;
  registry: "kv" | "control";
  dashPort: number;
  /** 0 = no scheduled backups. */
  backupIntervalS: number;
  backupRetain: number;
  /** Replication modes of history and out (cloud/replication), passed to every cloud node. */
  historyReplication: ReplicationMode;
  outReplication: ReplicationMode;
  /** Operator/JWT mode (default); false with --insecure. */
  secure: boolean;
  tls: boolean;
  tlsHosts: string[];
  /** 0 = no Prometheus. */
  prometheusPort: number;
  /** Explicit OTLP endpoint ("off" = no tracing); undefined: the dashboard. */
  otlpEndpoint: string | undefined;
  traceRatio: number;
}

/** Brings the stack up into `stack`; throws Aborted when a stop request came first. */
async function startStack(
  p: ReturnType<typeof parseCommand> & object, o: UpSettings, stack: Stack, log: (m: string) => void, onEvent: (e: ProcessEvent) => void,
): Promise<void> {
  const check = (): void => { if (stack.stopping) throw new Aborted("stopping"); };
  if (o.secure) {
    stack.security = prepareStackSecurity(o.stateDir, { tls: o.tls, tlsHosts: o.tlsHosts });
    log(`security: operator/JWT mode; keys and credentials in ${stack.security.trust.dir} (0600)${stack.security.tls ? `; TLS with the local CA ${stack.security.tls.caFile}` : ""}`);
  }
  const sec = stack.security;
  const metrics = (stack.metrics = createStackMetrics(o.stateDir, () => stack.fleet));
  const broker = await resolveBroker(p, o.stateDir, sec, log);
  if (stack.stopping) {
    await broker.nats?.stop(0);
    throw new Aborted("stopping");
  }
  Object.assign(stack, broker);
  const replicas = stack.servers.length >= 3 ? 3 : 1;
  const logDir = path.join(o.stateDir, "logs");
  // The dashboard's port is chosen now: every process exports its spans there (it starts after them; spans of the first seconds may be lost).
  const dashPort = o.dashPort > 0 ? ((await isPortOpen(o.dashPort)) ? await freePort() : o.dashPort) : 0;
  const traceArgs = stackTracingArgs(o.otlpEndpoint, o.traceRatio, dashPort);
  if (traceArgs.length > 0) log(`tracing: cloud nodes and control replicas export spans to ${traceArgs[1]} (ratio ${o.traceRatio})`);
  // Always: ingest's partition leases live there, whatever the registry backend.
  {
    log(`control plane: starting 3 Raft replicas (WAL in ${path.join(o.stateDir, "control")}) …`);
    for (const id of [1, 2, 3]) {
      const r = controlReplicaProcess({
        id, peers: [1, 2, 3], servers: stack.servers, dataDir: path.join(o.stateDir, "control", `n${id}`), logDir, onEvent,
        extraArgs: [...(sec ? controlReplicaSecurityArgs(sec) : []), "--metrics-port", String(await metrics.portFor("control-replica", `control-${id}`)), ...traceArgs],
      });
      stack.control.push(r);
      await r.start();
    }
  }
  stack.control.push(...(await startPaxosAcceptors({
    servers: stack.servers, stateDir: o.stateDir, logDir, log, onEvent, metricsPort: (id) => metrics.portFor("paxos-acceptor", `paxos-${id}`),
    ...(sec ? { security: { acceptorArgs: paxosAcceptorSecurityArgs(sec), probe: { credsFile: sec.creds.admin, ...(sec.tls ? { tls: { caFile: sec.tls.caFile } } : {}) } } } : {}),
  })));
  // Every node runs the cache role: the ring is the nodes' SWIM view (orchestration), reads of the API and ingest's registry gate go through it.
  // Analytics needs the Raft control plane (partition leases, the rules table): with --registry control only.
  const roles: CloudRole[] = ["ingest", "api", "commands", "orchestration", "cache", ...(o.registry === "control" ? ["analytics" as const] : [])];
  if (sec) roles.push("provisioning");
  const backups = o.registry === "control" && o.backupIntervalS > 0;
  const backupDir = path.join(o.stateDir, "backups");
  const backupArgs = backups ? ["--backup-dir", backupDir, "--backup-interval-ms", String(o.backupIntervalS * 1000), "--backup-retain", String(o.backupRetain)] : [];
  const edge = roles.includes("orchestration") ? edgeJobsOf(o) : [];
  const edgeArgs = edge.length > 0 ? ["--edge-jobs", JSON.stringify(edge)] : [];
  if (edge.length > 0) log(`edge: ${edge.length} edge jobs for the orchestrator to place (${edge.map((j) => j.id).join(", ")}); see them with xsfleet.v1.api.edge.jobs`);
  log(`cloud: starting ${o.cloudNodes} cloud node(s) with roles ${roles.join(", ")} (logs in ${logDir}) …`);
  if (backups) log(`backups: every ${o.backupIntervalS} s into ${backupDir} (newest ${o.backupRetain} kept), taken by the node holding the backup singleton`);
  for (let i = 1; i <= o.cloudNodes; i++) {
    check();
    const c = cloudNodeProcess({
      nodeId: `cloud-${i}`, roles, servers: stack.servers, replicas, logDir, registry: o.registry, shutdownTimeoutMs: cloudShutdownMs, onEvent,
      httpPort: await metrics.portFor("cloud-node", `cloud-${i}`),
      extraArgs: [...backupArgs, ...edgeArgs, ...(sec ? cloudNodeSecurityArgs(sec, roles) : []), ...traceArgs,
        "--history-replication", o.historyReplication, "--out-replication", o.outReplication],
    });
    stack.cloud.push(c);
    await c.start();
  }
  await waitForApi(stack);
  log("cloud: API answering");
  check();
  if (dashPort > 0) {
    const port = dashPort;
    const processes = (): ProcessRow[] => [...stack.cloud, ...stack.control].map((c) => processRow(c));
    const hostEvents = (l: DashboardEventListener): (() => void) => {
      stack.eventListeners.add(l);
      return () => stack.eventListeners.delete(l);
    };
    stack.dashboard = await startNatsDashboard({
      servers: stack.servers, monitorUrls: stack.nats?.monitorUrls ?? [], port, processes, hostEvents, metrics: metrics.up,
      meshLocal: () => (stack.mesh ? { peers: stack.mesh.nodes.length, converged: stack.mesh.converged(), events: stack.mesh.counted() } : null),
      ...(sec ? { credsFile: sec.creds.dashboard } : {}), ...(sec?.tls ? { tlsCaFile: sec.tls.caFile } : {}),
    });
    log(`dashboard: ${stack.dashboard.url}`);
    metrics.targets.push({ job: "up", name: "up", port: Number(new URL(stack.dashboard.url).port) });
  } else {
    stack.upEndpoint = await startMetricsEndpoint({ host: "127.0.0.1", port: 0, metrics: metrics.up.registry });
    metrics.targets.push({ job: "up", name: "up", port: stack.upEndpoint.port });
  }
  const targetsFile = metrics.writeTargets();
  if (o.prometheusPort > 0) {
    const port = (await isPortOpen(o.prometheusPort)) ? await freePort() : o.prometheusPort;
    stack.prometheus = await startPrometheus({ stateDir: o.stateDir, targetsFile, port, logDir });
    log(`prometheus: ${stack.prometheus.url} scraping ${metrics.targets.length} processes every 5 s (targets in ${targetsFile})`);
  } else {
    log(`metrics: ${metrics.targets.length} processes serve /metrics; Prometheus file_sd targets in ${targetsFile} (or add --prometheus)`);
  }
  check();
  if (o.devices > 0) {
    const devicesDir = path.join(o.stateDir, "devices");
    const claims = sec ? await claimsForFleet(stack, devicesDir, o.devices, log) : (await registerFleet(stack, o.devices, o.registry, log), null);
    check();
    log(`fleet: starting ${o.devices} simulated devices (${o.actuators} actuators)${claims?.size ? `, ${claims.size} provisioning themselves with their claims` : ""}, replaying room-climate traces at ${o.speedup}x …`);
    const fleet = await startSimFleet({
      devices: o.devices, actuators: o.actuators, brokerUrl: stack.mqttUrls, stateDir: devicesDir, speedup: o.speedup,
      heartbeatIntervalMs: o.heartbeatMs, rampMs: Math.min(5_000, o.devices * 25), fsync: false, idPrefix: "sim-",
      ...(claims ? { claims } : {}), ...(sec?.tls ? { tls: { ca: readFileSync(sec.tls.caFile) } } : {}),
    });
    if (stack.stopping) {
      fleet.crashAll();
      throw new Aborted("stopping");
    }
    stack.fleet = fleet;
    await seedDesiredShadow(stack, simFleetIds(o.devices).slice(0, shadowExampleDevicesMax), log); // the fleet's own ids (their width follows the fleet size)
    if (roles.includes("analytics")) await seedExampleRules(stack, simFleetIds(o.devices), o.actuators, log);
  }
  check();
  if (o.topology === "star" || o.topology === "mixed") await startStar(stack, o, log);
  check();
  if (o.topology === "mesh" || o.topology === "mixed") await startMesh(stack, o, log);
  check();
  if (o.moddable > 0) {
    stack.moddable = await startModdableFleet({
      count: o.moddable, mqttUrl: stack.mqttUrls[0]!, stateDir: path.join(o.stateDir, "moddable"), speedup: o.speedup, heartbeatIntervalMs: o.heartbeatMs, log,
      // Secured: a fresh one-time claim per device (one that already holds a credential of the same claim skips it); open: registered.
      admit: (ids) => (sec ? claimsFor(stack, ids, "xsfleet up: Moddable-built devices") : registerIds(stack, ids).then(() => null)),
    });
  }
  const nc = await stackConnect(stack, "xsfleet-up-status");
  stack.probe = new FleetProbe(nc);
  if (stack.stopping) throw new Aborted("stopping");
  stack.probe.watchOutput();
  stack.probe.watchAlerts();
  if (sec) for (const line of integratorHint(sec, stack.servers)) log(line);
}

/**
 * The star part of the fleet: gateways on the broker, children behind them
 * over TCP links. Secured: each gateway gets a credential keyed by its
 * children (CredentialIssuer.gateway, issued here with the stack's signing
 * key); the gateway and its children are registered like any device.
 */
/** The star's shape: `star` scales with --devices; `mixed` is one gateway and one processing node, 4 children each. */
function starShape(o: UpSettings): { gateways: number; childrenPerGateway: number; processing: number } {
  if (o.topology !== "star") return { gateways: 2, childrenPerGateway: 4, processing: 1 };
  const gateways = Math.max(1, Math.min(starGatewaysMax, Math.ceil(o.devices / 8)));
  return { gateways, childrenPerGateway: Math.max(1, Math.min(8, Math.ceil(o.devices / gateways))), processing: 0 };
}

/**
 * The edge jobs of the mixed topology (docs/edge.md, "Edge scheduling"): an
 * aggregate job per plain gateway (its children as sources, so placement
 * puts it there) and a rules job per processing node (temperature above
 * 24 °C sets its actuator child when the cloud is unreachable).
 */
function edgeJobsOf(o: UpSettings): { id: string; spec: string; sources: string[] }[] {
  if (o.topology !== "mixed") return [];
  const s = starShape(o);
  const topology = starFleetIds(s.gateways, s.childrenPerGateway, "edge-");
  const processing = new Set(starProcessingIds(topology, s.processing));
  return [...topology].map(([gw, kids], i) => processing.has(gw)
    ? { id: `rules-${i}`, spec: `rules;ch=temperature;gt=24;act=${kids[kids.length - 1]}:1`, sources: kids.slice(0, -1) }
    : { id: `agg-${i}`, spec: "aggregate;w=10000;ch=temperature,humidity", sources: kids });
}

async function startStar(stack: Stack, o: UpSettings, log: (m: string) => void): Promise<void> {
  const { gateways, childrenPerGateway, processing } = starShape(o);
  const ids = [...starFleetIds(gateways, childrenPerGateway, "edge-")].flatMap(([gw, kids]) => [gw, ...kids]);
  const created = await registerIds(stack, ids);
  log(`star: ${gateways} gateway(s)${processing ? ` (${processing} of them processing nodes with an actuator child)` : ""} with ${childrenPerGateway} children each (${created} newly registered); children reach the broker only through their gateway`);
  const sec = stack.security;
  const issuer = sec ? new CredentialIssuer(sec.trust) : null;
  const fleet = await startStarFleet({
    gateways, childrenPerGateway, processing, brokerUrl: stack.mqttUrls, stateDir: path.join(o.stateDir, "devices"), idPrefix: "edge-",
    speedup: o.speedup, heartbeatIntervalMs: o.heartbeatMs, fsync: false, ...(sec?.tls ? { tls: { ca: readFileSync(sec.tls.caFile) } } : {}),
    ...(issuer ? { gatewayAuth: (gw: string, kids: readonly string[]) => ({ username: gw, password: issuer.gateway(gw, kids, 30 * 86_400).jwt }) } : {}),
  });
  if (stack.stopping) {
    fleet.crashAll();
    throw new Aborted("stopping");
  }
  stack.star = fleet;
}

/**
 * Mesh peers on UDP (127.0.0.1): they count events and converge with no
 * cloud; the reporters (devices with their own credential when secured)
 * send the merged counter "mesh-events".
 */
async function startMesh(stack: Stack, o: UpSettings, log: (m: string) => void): Promise<void> {
  const peers = o.topology === "mesh" ? Math.max(2, Math.min(meshPeersMax, o.meshPeers)) : 8;
  const reporters = Math.min(2, peers);
  const ids = Array.from({ length: reporters }, (_, i) => `mesh-${i}`);
  const created = await registerIds(stack, ids);
  log(`mesh: ${peers} peers gossiping on UDP, ${reporters} of them reporting the merged counters (${created} newly registered)`);
  const sec = stack.security;
  const issuer = sec ? new CredentialIssuer(sec.trust) : null;
  const fleet = await startMeshFleet({
    peers, reporters, brokerUrl: stack.mqttUrls, stateDir: path.join(o.stateDir, "devices"), heartbeatIntervalMs: o.heartbeatMs,
    ...(sec?.tls ? { tls: { ca: readFileSync(sec.tls.caFile) } } : {}),
    ...(issuer ? { reporterAuth: (id: string) => ({ username: id, password: issuer.device(id, 30 * 86_400).jwt }) } : {}),
  });
  if (stack.stopping) {
    fleet.crashAll();
    throw new Aborted("stopping");
  }
  stack.mesh = fleet;
}

/** The dashboard's view of a supervised process. */
function processRow(c: StackProcess): ProcessRow {
  const s = c.snapshot();
  return {
    name: s.name, kind: s.kind, state: s.state, running: s.state === "running" || s.state === "starting", pid: s.pid,
    restarts: s.restarts, lastExit: s.lastExit?.text ?? null, lastExitMs: s.lastExit?.atMs ?? null,
  };
}

/** The resolved promise's value, or false when it did not settle within ms. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | false> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ordered, bounded stop: fleet → dashboard → cloud nodes → control plane → broker. */
async function stopStack(stack: Stack, log: (m: string) => void): Promise<void> {
  stack.stopping = true;
  if (stack.fleet) {
    log("fleet: clean disconnects …");
    if ((await within(stack.fleet.stop().then(() => true), fleetStopMs)) === false) {
      stack.fleet.crashAll();
      log(`fleet: devices did not disconnect within ${fleetStopMs / 1000} s; connections dropped`);
    }
  }
  if (stack.mesh) {
    log("mesh: peers stop, reporters disconnect …");
    if ((await within(stack.mesh.stop().then(() => true), fleetStopMs)) === false) stack.mesh.crashAll();
  }
  if (stack.star) {
    log("star: children and gateways disconnect …");
    if ((await within(stack.star.stop().then(() => true), fleetStopMs)) === false) stack.star.crashAll();
  }
  if (stack.moddable) {
    log("moddable: stopping the simulators …");
    await within(stack.moddable.stop(), fleetStopMs);
  }
  if (stack.dashboard) await within(stack.dashboard.stop(), dashboardStopMs);
  if (stack.upEndpoint) await within(stack.upEndpoint.close(), dashboardStopMs);
  if (stack.prometheus) await within(stack.prometheus.stop(dashboardStopMs), dashboardStopMs + 500);
  if (stack.probe) {
    stack.probe.stop();
    await within(stack.probe.nc.close(), dashboardStopMs);
  }
  if (stack.cloud.length > 0) {
    log("cloud: SIGTERM, waiting for in-flight work …");
    const exits = await Promise.all(stack.cloud.map(async (c) => ({ name: c.name, exit: await c.stop(cloudKillMs) })));
    log(`cloud: ${describeExits(exits)}`);
  }
  if (stack.control.length > 0) {
    log("control plane: stopping replicas …");
    const exits = await Promise.all(stack.control.map(async (c) => ({ name: c.name, exit: await c.stop(controlKillMs) })));
    log(`control plane: ${describeExits(exits)}`);
  }
  if (stack.nats) {
    log("broker: stopping nats-server …");
    await stack.nats.stop(brokerKillMs);
  }
}

/** Second Ctrl-C or the stop budget ran out: kill everything now. */
function killStack(stack: Stack): void {
  stack.stopping = true;
  stack.fleet?.crashAll();
  stack.star?.crashAll();
  stack.mesh?.crashAll();
  void stack.moddable?.stop();
  for (const c of [...stack.cloud, ...stack.control]) c.kill();
  void stack.prometheus?.stop(0);
  void stack.nats?.stop(0);
}

export async function runUp(argv: string[]): Promise<number> {
  const p = parseCommand(upSpec, argv);
  if (!p) return 0;
  const devices = intOption(p, "devices", 0, fleetDevicesMax);
  const registry = stringOption(p, "registry");
  if (registry !== "kv" && registry !== "control") throw new UsageError(`--registry must be kv or control, got ${JSON.stringify(registry)}`, "up");
  const topology = stringOption(p, "topology") ?? "mixed";
  if (topology !== "direct" && topology !== "star" && topology !== "mesh" && topology !== "mixed") throw new UsageError(`--topology must be direct, star, mesh or mixed, got ${JSON.stringify(topology)}`, "up");
  const o: UpSettings = {
    devices: topology === "star" || topology === "mesh" ? 0 : devices,
    meshPeers: devices,
    topology,
    moddable: intOption(p, "moddable", 0, moddableDevicesMax),
    actuators: stringOption(p, "actuators") !== undefined ? intOption(p, "actuators", 0, devices) : Math.min(4, Math.floor(devices / 9)),
    cloudNodes: intOption(p, "cloud-nodes", 1, 9),
    speedup: numberOption(p, "speedup", 0.1, 10_000),
    heartbeatMs: intOption(p, "heartbeat-ms", 100, 3_600_000),
    stateDir: path.resolve(stringOption(p, "state-dir") ?? ".state"),
    registry,
    dashPort: intOption(p, "dashboard-port", 0, 65535),
    backupIntervalS: intOption(p, "backup-interval", 0, 7 * 86_400),
    backupRetain: intOption(p, "backup-retain", 1, 1000),
    historyReplication: replicationOption(p, "history-replication", DataSet.History),
    outReplication: replicationOption(p, "out-replication", DataSet.Analytics),
    secure: p.insecure !== true,
    tls: p.tls === true,
    tlsHosts: [...new Set([...localTlsHostsDefault, ...((p["tls-host"] as string[] | undefined) ?? [])])],
    prometheusPort: p.prometheus === true ? intOption(p, "prometheus-port", 1, 65535) : 0,
    otlpEndpoint: stringOption(p, "otlp-endpoint"),
    traceRatio: numberOption(p, "trace-ratio", 0, 1),
  };
  if (o.tls && !o.secure) throw new UsageError("--tls needs the secured stack: drop --insecure", "up");
  const durationS = stringOption(p, "duration") !== undefined ? numberOption(p, "duration", 1, 86_400 * 365) : undefined;
  const status = liveStatus();
  const log = (m: string): void => status.log(`[xsfleet up] ${m}`);
  const stack: Stack = {
    nats: null, dashboard: null, servers: [], mqttUrls: [], cloud: [], control: [], fleet: null, moddable: null, star: null, mesh: null, probe: null, stopping: false, eventListeners: new Set(), security: null, metrics: null, upEndpoint: null, prometheus: null,
  };
  const requests = stopRequests(durationS);
  requests.onRepeat((sig) => {
    log(`${sig} again: killing everything now`);
    killStack(stack);
  });
  let statusTimer: StatusTimer | undefined;
  let failure: unknown = null;
  // An exit or restart is logged and redrawn on the status line at once (not at the next tick).
  const onEvent = (e: ProcessEvent): void => {
    const line = processEventLine(e);
    log(line);
    statusTimer?.refresh(true);
    const event = { timeMs: Date.now(), kind: `process-${e.type}`, deviceId: "", summary: line.replace(/ \(.*\)$/, ""), detail: e.process.snapshot() };
    for (const l of stack.eventListeners) l(event);
  };
  const startup = startStack(p, o, stack, log, onEvent);
  try {
    const first = await Promise.race([startup.then(() => null, (e: unknown) => ({ error: e })), requests.first.then((why) => ({ why }))]);
    if (first && "error" in first) {
      failure = first.error;
    } else if (first && "why" in first) {
      log(`stopping (${first.why}) during startup …`);
    } else {
      log("running — Ctrl-C to stop");
      statusTimer = startStatusTimer(stack, status);
      log(`stopping (${await requests.first}) …`);
    }
  } finally {
    statusTimer?.stop();
    statusTimer = undefined;
    const startedMs = Date.now();
    const watchdog = setTimeout(() => {
      log(`not stopped within ${stopBudgetMs / 1000} s: killing what is left`);
      killStack(stack);
    }, stopBudgetMs);
    await stopStack(stack, log);
    // A startup step still in flight (e.g. waiting for a port) ends once it sees `stopping`.
    await within(startup.catch(() => undefined), 2_000);
    clearTimeout(watchdog);
    requests.dispose();
    log(`stopped in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
    status.stop();
  }
  if (failure !== null && !(failure instanceof Aborted)) throw failure;
  return 0;
}

function replicationOption(p: ReturnType<typeof parseCommand> & object, name: string, dataSet: DataSet): ReplicationMode {
  const v = stringOption(p, name) ?? ReplicationMode.Sync;
  const problem = replicationProblem(`--${name}`, dataSet, v);
  if (problem) throw new UsageError(problem, "up");
  return v as ReplicationMode;
}

interface StatusTimer {
  /** Redraw now (force: print even off a terminal). */
  refresh(force: boolean): void;
  stop(): void;
}

function startStatusTimer(stack: Stack, status: ReturnType<typeof liveStatus>): StatusTimer {
  const rates = new RateMeter();
  let busy = false;
  let again = false;
  const refresh = (force: boolean): void => {
    const probe = stack.probe;
    if (!probe) return;
    if (busy) { again ||= force; return; }
    busy = true;
    // Process states as of now: an exit is shown even if the restart is done by the time NATS answers.
    const cloud = stack.cloud.map((c) => c.snapshot());
    const control = stack.control.map((c) => c.snapshot());
    probe.snapshot().then((s) => {
      status.update(statusLine({
        devicesOnline: s.devicesOnline, devicesKnown: s.devicesKnown, fleet: stack.fleet?.stats() ?? null,
        mesh: stack.mesh ? { peers: stack.mesh.nodes.length, converged: stack.mesh.converged(), events: stack.mesh.counted() } : null,
        star: stack.star ? { gateways: stack.star.gateways.length, children: stack.star.children.length, connected: stack.star.connected() } : null,
        moddable: stack.moddable ? { connected: stack.moddable.connected(), devices: stack.moddable.ids.length } : null,
        batchesPerSec: rates.rate("msgs", probe.outputBatches), pointsPerSec: rates.rate("pts", probe.outputPoints),
        consumerLag: s.consumerLag, deadLetters: s.deadLetters, alerts: stack.analytics ? { ...probe.alerts } : null,
        cloud, control, members: s.members, singletons: s.singletons, cache: s.cache, replication: s.replication, edgeJobs: s.edgeJobs,
      }), force);
    }).catch((e: unknown) => status.update(`status unavailable: ${(e as Error).message}`)).finally(() => {
      busy = false;
      if (again && !stack.stopping) { again = false; refresh(true); }
    });
  };
  const timer = setInterval(() => refresh(false), 1_000);
  return { refresh, stop: () => clearInterval(timer) };
}

/** The tracing flags of the stack's cloud nodes: the dashboard's receiver unless told otherwise; none when off. */
export function stackTracingArgs(otlpEndpoint: string | undefined, ratio: number, dashPort: number): string[] {
  const endpoint = otlpEndpoint ?? (dashPort > 0 ? `http://127.0.0.1:${dashPort}${otlpTracesPath}` : "off");
  if (endpoint === "off" || endpoint === "") return [];
  return ["--otlp-endpoint", otlpTracesUrl(endpoint, "--otlp-endpoint"), "--trace-ratio", String(ratio)];
}
