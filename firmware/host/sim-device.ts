// A simulated device on Node: the real firmware runtime (firmware/device)
// over the host port (Node timers, the `mqtt` npm package, file storage in a
// state directory, a room-climate trace replay as its sensor).
//
// API (stable; used by the cloud tests, `xsfleet sim` and `npm start`):
//
//   const dev = await startSimDevice({ deviceId: "dev-1", brokerUrl: "mqtt://127.0.0.1:1883", stateDir });
//   dev.on("connected" | "disconnected" | "published" | "acked" | "confirmed" | "rejected" | "command" | "config" | "dropped", ev => ...)
//   dev.stats()            // published, acked (PUBACKs), confirmed (receipts), outboxDepth, dropped, connected, ...
//   await dev.waitFor("connected")
//   dev.cutNetwork(); dev.restoreNetwork();
//   dev.crash();           // no DISCONNECT: the broker publishes the retained OFFLINE will
//   await dev.stop();      // retained OFFLINE, flush, clean DISCONNECT
//
// Restarting a device with the same stateDir resumes its outbox, seq, counters
// and remembered command ids, as a power cycle would on the ESP32.
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import path from "node:path";
import type { CommandHandler } from "../device/commands";
import type { DeviceLocation, FirmwareRole } from "../device/options";
import { DeviceRuntime, type RuntimeEvent, type RuntimeStats } from "../device/runtime";
import type { BackoffPolicy } from "../device/backoff";
import type { OutboxLimits } from "../device/outbox";
import { LogLevel, fixedResources, type Log, type Platform, type Random, type SensorSource } from "../platform";
import { ReplaySource, roomClimateChannels, type TraceRow } from "../sim/replay-source";
import { SeededRandom } from "../sim/sim-clock";
import { FileStorage } from "./file-storage";
import { connectWith, type HostTls } from "./mqtt-js";
import { startWithCredential, storedCredential, type DeviceProvisioner, type ProvisioningEvent } from "../device/provisioning";
import { loadRoomClimateFile, roomClimateFiles } from "./room-climate";
import { hostTimers } from "./timer";
import { Gateway } from "../edge/gateway";
import { linkMqttConnect } from "../edge/link-client";
import { tcpLinks } from "./net-links";
import type { Counter } from "../../shared/proto/xsfleet.gen";


export interface SimTrace {
  /** A room-climate CSV file name (default: the first one). */
  file?: string;
  /** NodeID within the file (default: derived from the device id). */
  nodeId?: number;
  /** Explicit rows instead of a file (values: temperature, humidity, light1, light2). */
  rows?: TraceRow[];
  /** Start over when the trace ends (default true). */
  loop?: boolean;
}

export interface SimDeviceOptions {
  deviceId: string;
  /** One URL or several (tried in turn on reconnect). */
  brokerUrl: string | string[];
  /** Where this device's "flash" lives (created if missing). */
  stateDir: string;
  role?: FirmwareRole;
  trace?: SimTrace;
  /** Replay speed factor for the trace (default 1 = real time). */
  speedup?: number;
  heartbeatIntervalMs?: number;
  sampleIntervalMs?: number;
  batchPointsMax?: number;
  batchAgeMaxMs?: number;
  keepaliveS?: number;
  connectTimeoutMs?: number;
  backoff?: Partial<BackoffPolicy>;
  outbox?: Partial<OutboxLimits>;
  username?: string;
  password?: string;
  /**
   * A one-time claim token ("<claimId>.<JWT>"): on first start the device
   * exchanges it for its own credential and keeps that in its state dir;
   * later starts use the stored credential (docs/security.md).
   */
  claim?: string;
  /** How long a first start may take to provision before startSimDevice fails (default 60 s). */
  provisionTimeoutMs?: number;
  /** CA for mqtts:// brokers (the device's manifest carries it on an ESP32). */
  tls?: HostTls;
  location?: DeviceLocation;
  firmwareVersion?: string;
  commandHandlers?: Record<string, CommandHandler>;
  /** Counters sent beside the device's own (a mesh peer's merged counters, docs/edge.md). */
  extraCounters?: () => readonly Counter[];
  /** Seed for trace ids and backoff jitter (default: random). */
  seed?: number;
  /** fsync every storage write (default true; false for big fleets). */
  fsync?: boolean;
  freeHeapBytes?: number;
  /**
   * A child of a star: the device reaches no broker; `brokerUrl` is ignored
   * and it joins the gateway at host:port over a TCP link (docs/edge.md).
   * Several gateways: the session tries them in turn on reconnect, so the
   * child fails over to the next when its gateway dies (each must list it).
   */
  viaGateway?: GatewayAddress | readonly GatewayAddress[];
  /**
   * Run as a gateway (role "gateway", or "processing" when `role` says so):
   * listen for children on `port` (TCP) and relay for those on `children`
   * (until desired config says otherwise); edge jobs come by desired config.
   */
  relay?: { port: number; children: readonly string[]; rejoinGraceMs?: number };
  log?: (level: "debug" | "info" | "warn" | "error", message: string) => void;
}

export interface GatewayAddress {
  host: string;
  port: number;
}

export interface SimDeviceStats extends RuntimeStats {
  /** Trace rows replayed so far (sensors). */
  replayed: number;
}

export type SimDeviceEvent = RuntimeEvent["type"];

export interface SimDevice {
  readonly deviceId: string;
  readonly stateDir: string;
  readonly role: FirmwareRole;
  readonly runtime: DeviceRuntime;
  /** The gateway core, when started with `relay`. */
  readonly gateway: Gateway | undefined;
  /** Runtime events, by their `type` ("connected", "published", ...). */
  readonly events: EventEmitter;
  on<T extends SimDeviceEvent>(type: T, listener: (e: Extract<RuntimeEvent, { type: T }>) => void): this;
  off<T extends SimDeviceEvent>(type: T, listener: (e: Extract<RuntimeEvent, { type: T }>) => void): this;
  /** Resolves on the next event of `type` (or rejects after timeoutMs, default 30 s). */
  waitFor<T extends SimDeviceEvent>(type: T, timeoutMs?: number): Promise<Extract<RuntimeEvent, { type: T }>>;
  stats(): SimDeviceStats;
  /** Clean shutdown: retained OFFLINE status, then DISCONNECT. */
  stop(): Promise<void>;
  /** Power loss: no DISCONNECT, so the broker publishes the will (OFFLINE). */
  crash(): void;
  /** Ends the socket abruptly and blocks reconnects until restoreNetwork(). */
  cutNetwork(): void;
  restoreNetwork(): void;
}

const levelNames = ["debug", "info", "warn", "error"] as const;

function mathRandom(): Random {
  return { u32: () => Math.floor(Math.random() * 4294967296) >>> 0 };
}

function traceSource(opts: SimDeviceOptions, startMs: number): { source: SensorSource; replay: ReplaySource } {
  const t = opts.trace ?? {};
  let rows = t.rows;
  if (rows === undefined) {
    const file = t.file ?? roomClimateFiles()[0]!;
    const byNode = loadRoomClimateFile(file);
    const nodes = [...byNode.keys()].sort((a, b) => a - b);
    const nodeId = t.nodeId ?? nodes[hashString(opts.deviceId) % nodes.length]!;
    rows = byNode.get(nodeId);
    if (rows === undefined) throw new Error(`trace ${file} has no NodeID ${nodeId} (has ${nodes.join(", ")})`);
  }
  const replay = new ReplaySource(roomClimateChannels, rows, { startMs, speedup: opts.speedup ?? 1, loop: t.loop ?? true });
  return { source: replay, replay };
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Builds the host platform for one device. */
export function hostPlatform(opts: SimDeviceOptions): { platform: Platform; replay: ReplaySource | undefined } {
  const role = opts.role ?? "sensor";
  const bootMs = performance.now();
  const log: Log = (level: LogLevel, message: string) => opts.log?.(levelNames[level], `[${opts.deviceId}] ${message}`);
  const r = role === "sensor" ? traceSource(opts, Date.now()) : undefined;
  const platform: Platform = {
    timers: hostTimers,
    clock: { uptimeMs: () => performance.now() - bootMs, wallMs: () => Date.now() },
    storage: new FileStorage(path.resolve(opts.stateDir), { fsync: opts.fsync ?? true }),
    random: opts.seed !== undefined ? new SeededRandom(opts.seed) : mathRandom(),
    log,
    resources: fixedResources(opts.freeHeapBytes ?? 96 * 1024),
    mqttConnect: connectWith(opts.tls),
    ...(r !== undefined ? { sensor: r.source } : {}),
  };
  return { platform, replay: r?.replay };
}

/** The credential a device keeps in its state dir (its "flash"), if it was provisioned; with `claimId`, only one from that claim. */
export function storedCredentialIn(stateDir: string, claimId?: string): string | undefined {
  return storedCredential(new FileStorage(path.resolve(stateDir), { fsync: false }), claimId);
}

/** A claim was refused for good (used, expired, revoked, for another device) or provisioning timed out. */
export class ProvisioningFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProvisioningFailed";
  }
}

/** The MQTT login to run with: the stored or newly provisioned credential, or the options' own. */
function credentialFor(opts: SimDeviceOptions, platform: Platform, urls: string[]): Promise<{ username?: string; password?: string }> {
  const own = { ...(opts.username !== undefined ? { username: opts.username } : {}), ...(opts.password !== undefined ? { password: opts.password } : {}) };
  return new Promise((resolve, reject) => {
    let provisioner: DeviceProvisioner | null = null;
    const timer = setTimeout(() => {
      provisioner?.stop();
      reject(new ProvisioningFailed(`${opts.deviceId}: not provisioned within ${opts.provisionTimeoutMs ?? 60_000} ms (${provisioner?.stats().lastError || "no answer"})`));
    }, opts.provisionTimeoutMs ?? 60_000);
    const onEvent = (e: ProvisioningEvent): void => {
      if (e.type !== "provisioning-failed") return;
      clearTimeout(timer);
      reject(new ProvisioningFailed(`${opts.deviceId}: claim ${e.claimId} refused (${e.code}): ${e.message}`));
    };
    try {
      provisioner = startWithCredential(platform, { deviceId: opts.deviceId, brokerUrls: urls, ...(opts.claim !== undefined ? { claim: opts.claim } : {}),
        ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
        backoff: { baseMs: 200, capMs: 5_000, ...opts.backoff } }, (auth) => {
        clearTimeout(timer);
        resolve(auth ?? own);
      }, onEvent);
    } catch (e) {
      clearTimeout(timer);
      reject(e);
    }
  });
}

/** Starts one simulated device; resolves once it is running (not necessarily connected) — after provisioning when it has a claim. */
export async function startSimDevice(opts: SimDeviceOptions): Promise<SimDevice> {
  // A relaying node is a gateway, or a processing node (a gateway that also runs rule jobs).
  const role = opts.relay !== undefined ? (opts.role === "processing" ? "processing" : "gateway") : opts.role ?? "sensor";
  const { platform: base, replay } = hostPlatform({ ...opts, role });
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const child = opts.viaGateway;
  const gatewayList: readonly GatewayAddress[] | undefined = child === undefined ? undefined : "host" in child ? [child] : child;
  const urls = gatewayList !== undefined ? gatewayList.map((g) => `mqtt://${g.host}:${g.port}`) : Array.isArray(opts.brokerUrl) ? opts.brokerUrl : [opts.brokerUrl];
  // A child has no broker to provision against: its identity toward the cloud is the gateway's allow-list.
  const auth = child !== undefined ? {} : await credentialFor(opts, base, urls);
  let platform: Platform = base;
  let gateway: Gateway | undefined;
  if (child !== undefined) platform = { ...base, links: tcpLinks(), mqttConnect: linkMqttConnect(tcpLinks(), hostTimers, base.clock) };
  if (opts.relay !== undefined) {
    const links = tcpLinks();
    gateway = new Gateway({ ...base, links }, {
      gatewayId: opts.deviceId, port: opts.relay.port, allow: opts.relay.children,
      ...(opts.relay.rejoinGraceMs !== undefined ? { rejoinGraceMs: opts.relay.rejoinGraceMs } : {}),
    });
    platform = { ...base, links, mqttConnect: gateway.upstream(base.mqttConnect) };
  }
  const gw = gateway;
  const runtime = new DeviceRuntime(platform, {
    deviceId: opts.deviceId,
    brokerUrls: urls,
    role,
    ...(opts.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}),
    ...(opts.sampleIntervalMs !== undefined ? { sampleIntervalMs: opts.sampleIntervalMs } : {}),
    ...(opts.batchPointsMax !== undefined ? { batchPointsMax: opts.batchPointsMax } : {}),
    ...(opts.batchAgeMaxMs !== undefined ? { batchAgeMaxMs: opts.batchAgeMaxMs } : {}),
    ...(opts.keepaliveS !== undefined ? { keepaliveS: opts.keepaliveS } : {}),
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    ...(opts.backoff !== undefined ? { backoff: { baseMs: 500, capMs: 30_000, ...opts.backoff } } : {}),
    ...(opts.outbox !== undefined ? { outbox: opts.outbox } : {}),
    ...auth,
    ...(opts.location !== undefined ? { location: opts.location } : {}),
    ...(opts.firmwareVersion !== undefined ? { firmwareVersion: opts.firmwareVersion } : {}),
    ...(opts.commandHandlers !== undefined ? { commandHandlers: opts.commandHandlers } : {}),
    // A gateway/processing node also reports its rules jobs' raised alerts (G-counters "alerts-<job>").
    ...(opts.extraCounters !== undefined || gw !== undefined
      ? { extraCounters: () => [...(opts.extraCounters?.() ?? []), ...(gw?.alertCounters() ?? [])] } : {}),
  }, (e) => {
    if (gw !== undefined && e.type === "config" && e.settingsChanged) gw.applySettings(runtime.settings());
    events.emit(e.type, e);
  });
  if (gw !== undefined) {
    // The allow-list and edge jobs of the configuration the node persisted (its shadow), before children may join.
    gw.applySettings(runtime.settings());
    gw.start();
    // Alerts are reported at most once a second (a flapping rule must not flood the uplink).
    let due: NodeJS.Timeout | undefined;
    gw.onAlerts = () => { due ??= setTimeout(() => { due = undefined; runtime.publishCounters(); }, 1_000); };
  }
  runtime.start();
  let stopped = false;
  const dev: SimDevice = {
    deviceId: opts.deviceId,
    stateDir: opts.stateDir,
    role,
    runtime,
    gateway,
    events,
    on(type, listener) {
      events.on(type, listener as (e: unknown) => void);
      return dev;
    },
    off(type, listener) {
      events.off(type, listener as (e: unknown) => void);
      return dev;
    },
    waitFor(type, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          events.off(type, on);
          reject(new Error(`${opts.deviceId}: no ${type} event within ${timeoutMs} ms`));
        }, timeoutMs);
        const on = (e: Extract<RuntimeEvent, { type: typeof type }>): void => {
          clearTimeout(timer);
          resolve(e);
        };
        events.once(type, on);
      });
    },
    stats: () => ({ ...runtime.stats(), replayed: replay?.emitted ?? 0 }),
    stop: () => new Promise<void>((resolve) => {
      if (stopped) return resolve();
      stopped = true;
      // A clean end waits for inflight PUBACKs; do not hang forever on a dead broker.
      const guard = setTimeout(() => { runtime.crash(); resolve(); }, 5_000);
      runtime.stop(() => { clearTimeout(guard); gw?.stop(); resolve(); });
    }),
    crash: () => {
      stopped = true;
      runtime.crash();
      gw?.stop(); // its children's links drop with it
    },
    cutNetwork: () => runtime.cutNetwork(),
    restoreNetwork: () => runtime.restoreNetwork(),
  };
  return dev;
}
