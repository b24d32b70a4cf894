// The seam between the device runtime and whatever it runs on. The runtime
// imports only these interfaces and shared/; an ESP32 build fills them from
// Moddable modules (firmware/boot.ts with the board of firmware/esp32 or
// firmware/lin, chosen by the manifest), the Node host port from Node APIs
// (firmware/host/), and the simulator from a fake clock and an in-memory
// broker (firmware/sim/). Nothing here may touch a platform API.

/** Opaque timer handle (a Moddable Timer on the device, a number in sims). */
export type TimerId = unknown;

/** Moddable `timer`-shaped scheduling: callbacks run on the event loop. */
export interface Timers {
  /** Runs `cb` once after `delayMs` (0 = next turn). */
  set(cb: () => void, delayMs: number): TimerId;
  /** Runs `cb` every `intervalMs`. */
  repeat(cb: () => void, intervalMs: number): TimerId;
  clear(id: TimerId): void;
}

export interface Clock {
  /** Milliseconds since boot, monotonic. */
  uptimeMs(): number;
  /** Milliseconds since the Unix epoch; the device's best idea (SNTP on ESP32). */
  wallMs(): number;
}

/**
 * Key → bytes, synchronous like Moddable's `preference` and `file`. Keys are
 * short ASCII ([a-z0-9_]{1,15}: the NVS key limit on ESP32). A `write` is
 * durable when it returns (host: temp + fsync + rename).
 */
export interface Storage {
  read(key: string): Uint8Array | undefined;
  write(key: string, bytes: Uint8Array): void;
  remove(key: string): void;
  /** Keys that start with `prefix`, in no particular order. */
  keys(prefix: string): string[];
}

export interface ChannelSpec {
  name: string;
  unit: string;
  /** Smallest step the sensor reports; telemetry is lossless at it. */
  resolution: number;
}

/** A sampled sensor. `next` is polled every sample interval. */
export interface SensorSource {
  readonly channels: readonly ChannelSpec[];
  /**
   * Writes the next reading taken at or before `wallMs` into `values` (one
   * per channel) and returns its timestamp (epoch ms), or -1 when there is
   * none yet. The runtime calls it until it returns -1.
   */
  next(wallMs: number, values: Float64Array): number;
}

/** Injected randomness: the simulator seeds it, the device uses its RNG. */
export interface Random {
  /** Uniform integer in [0, 2^32). */
  u32(): number;
}

export const LogLevel = Object.freeze({ Debug: 0, Info: 1, Warn: 2, Error: 3 } as const);
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];
export type Log = (level: LogLevel, message: string) => void;

/** What the device knows about its own resources (Instrumentation, Wi-Fi). */
export interface ResourceProbe {
  freeHeapBytes(): number;
  flashTotalBytes(): number;
  flashFreeBytes(): number;
  cpuMhz(): number;
  /** CPU load since the previous call, percent × 100 (0..10000); 0 when unknown. */
  cpuLoadCentiPct(): number;
  /** Received signal strength, dBm; 0 when unknown. */
  rssiDbm(): number;
}

/** An actuator's output stage (relay, fan, valve): the value the "set" command commands. */
export interface ActuatorOutput {
  /** Drives the output; `value` is what the command gave (0/1 for on/off). Throws when out of range. */
  write(value: number): void;
}

// ---- MQTT, the MQTT.js-shaped subset of Moddable's `mqtt/js` we rely on ----

export type MqttQoS = 0 | 1;

export interface MqttWill {
  topic: string;
  payload: ArrayBuffer;
  qos: MqttQoS;
  retain: boolean;
}

export interface MqttOptions {
  clientId: string;
  /** Seconds, as in MQTT.js. */
  keepalive: number;
  clean: boolean;
  /** Always 0: the runtime owns reconnection (backoff with jitter). */
  reconnectPeriod: number;
  connectTimeout: number;
  username?: string;
  password?: string;
  will?: MqttWill;
}

export type MqttPublishCallback = (error?: Error) => void;

/** The client surface used by firmware/device/session.ts. */
export interface MqttClient {
  on(event: "connect", cb: () => void): unknown;
  on(event: "message", cb: (topic: string, payload: ArrayBuffer) => void): unknown;
  on(event: "error", cb: (error: Error) => void): unknown;
  on(event: "close" | "offline" | "end", cb: () => void): unknown;
  publish(topic: string, message: ArrayBuffer, opts: { qos: MqttQoS; retain: boolean }, cb?: MqttPublishCallback): unknown;
  subscribe(topic: string, opts: { qos: MqttQoS }, cb?: (error: Error | null | undefined) => void): unknown;
  /** `force` closes the socket without waiting (and without DISCONNECT). */
  end(force?: boolean, opts?: object, cb?: () => void): unknown;
}

export type MqttConnect = (url: string, options: MqttOptions) => MqttClient;

// ---- local links: node-to-node traffic on the LAN (docs/edge.md) ----
// The same Envelope bytes as the uplink travel in frames (firmware/edge/
// frame.ts: length-prefixed, bounded, parsed by one pure reader for every
// implementation). Filled by Moddable's `Socket`/`Listener` on the device,
// `node:net`/`node:dgram` in firmware/host, and an in-memory network with
// seeded faults in firmware/sim. Callbacks only queue or parse; they never
// block, and a send that does not fit closes the link rather than buffer.

/** Events of one stream link; `closed` comes once, after which nothing does. */
export interface StreamLinkHandler {
  /** The connection is up (connect side; an accepted link is up at once). */
  opened(): void;
  /** Bytes in arrival order, in chunks of any size (not frame boundaries). */
  data(chunk: Uint8Array): void;
  closed(reason: string): void;
}

/** A reliable, ordered byte stream to one other node (TCP on a LAN). */
export interface StreamLink {
  /** "host:port" of the other end (for logs and counts only; not an identity). */
  readonly remote: string;
  /**
   * Queues `bytes` whole; false when the link is closed or its send buffer
   * would pass the implementation's bound (the caller then closes the link).
   */
  send(bytes: Uint8Array): boolean;
  /** Closes now; `closed` follows on a later turn. Idempotent. */
  close(): void;
}

export interface StreamListener {
  readonly port: number;
  close(): void;
}

export interface StreamTransport {
  /**
   * Accepts links on `port` (0: any free port; see `StreamListener.port`).
   * `accept` returns the handler for each new link, which is already open.
   * `failed` hears (once, on a later turn) that the port could not be
   * bound; the listener is then closed.
   */
  listen(port: number, accept: (link: StreamLink) => StreamLinkHandler, failed?: (reason: string) => void): StreamListener;
  /** Opens a link to `host:port`; the handler hears `opened` or `closed`. */
  connect(host: string, port: number, handler: StreamLinkHandler): StreamLink;
}

/** A datagram endpoint (UDP on a LAN): unordered, unreliable, bounded size. */
export interface DatagramSocket {
  readonly port: number;
  /** Sends one datagram to "host:port"; false when it was not sent (too big, closed). */
  send(to: string, bytes: Uint8Array): boolean;
  close(): void;
}

export interface DatagramTransport {
  /** Binds `port` (0: any); `receive` gets each datagram whole with its sender's "host:port". */
  open(port: number, receive: (from: string, bytes: Uint8Array) => void): DatagramSocket;
}

/** Everything the runtime needs from the platform. */
export interface Platform {
  timers: Timers;
  clock: Clock;
  storage: Storage;
  random: Random;
  log: Log;
  resources: ResourceProbe;
  mqttConnect: MqttConnect;
  /** Absent on an actuator without sensors. */
  sensor?: SensorSource;
  /** Absent on sensors; an actuator without one only records the value. */
  actuator?: ActuatorOutput;
  /** Local stream links (gateways and their children); absent when the node has none. */
  links?: StreamTransport;
  /** Local datagrams (mesh peers); absent when the node has none. */
  datagrams?: DatagramTransport;
}

/** A Log that drops everything (default in tests). */
export function silentLog(_level: LogLevel, _message: string): void {}

/** A ResourceProbe with fixed numbers (simulators). */
export function fixedResources(freeHeapBytes = 65536): ResourceProbe {
  return {
    freeHeapBytes: () => freeHeapBytes,
    flashTotalBytes: () => 4 * 1024 * 1024,
    flashFreeBytes: () => 1024 * 1024,
    cpuMhz: () => 240,
    cpuLoadCentiPct: () => 0,
    rssiDbm: () => -60,
  };
}
