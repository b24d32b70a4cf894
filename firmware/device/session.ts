// The MQTT session: one client per connection attempt, our own reconnect
// (exponential backoff, full jitter, cap; the client's built-in reconnect is
// off), a retained last will, and resubscription to the device's command,
// config and receipt topics at QoS 0 on every connect (nats-server 2.9 delivers
// NATS-originated messages at QoS 0 anyway and each QoS 1 subscription costs
// a JetStream consumer; command and delivery reliability are end to end).
//
// States: Idle -> Connecting -> Connected -> Waiting (backoff) -> Connecting…
// Stopped is final. Events from an abandoned client are ignored: every
// client's handlers carry the generation they were made for.
import { Downlink, Uplink, deviceTopic } from "../../shared/topics";
import type { MqttClient, MqttPublishCallback, MqttQoS, Platform, TimerId } from "../platform";
import { LogLevel } from "../platform";
import { Backoff, type BackoffPolicy } from "./backoff";
import { exactArrayBuffer as toArrayBuffer } from "./bytes";

export const SessionState = Object.freeze({ Idle: 0, Connecting: 1, Connected: 2, Waiting: 3, Stopped: 4 } as const);
export type SessionState = (typeof SessionState)[keyof typeof SessionState];

export interface SessionOptions {
  deviceId: string;
  brokerUrls: readonly string[];
  username?: string;
  password?: string;
  keepaliveS: number;
  connectTimeoutMs: number;
  backoff: BackoffPolicy;
}

export interface SessionHandler {
  /** CONNACK received and subscriptions requested. */
  connected(): void;
  /** The connection (or attempt) ended; `wasConnected` tells which. */
  disconnected(wasConnected: boolean): void;
  /** A message on the command, config or receipt topic. */
  message(kind: Downlink, payload: Uint8Array): void;
  /** Encoded Status OFFLINE envelope for the will of the next attempt. */
  will(): Uint8Array;
}

export interface SessionStats {
  state: SessionState;
  attempts: number;
  connects: number;
  /** Delay chosen for the current wait, ms (for tests and status). */
  lastBackoffMs: number;
  url: string;
}

export class MqttSession {
  readonly #platform: Platform;
  readonly #opts: SessionOptions;
  readonly #handler: SessionHandler;
  readonly #backoff: Backoff;
  readonly #commandTopic: string;
  readonly #configTopic: string;
  readonly #receiptTopic: string;
  readonly #statusTopic: string;
  #state: SessionState = SessionState.Idle;
  #client: MqttClient | undefined;
  #gen = 0;
  #timer: TimerId | undefined;
  #urlIndex = 0;
  #attempts = 0;
  #connects = 0;
  #lastBackoffMs = 0;
  /** When true, new attempts wait (simulated network cut). */
  #blocked = false;

  constructor(platform: Platform, opts: SessionOptions, handler: SessionHandler) {
    this.#platform = platform;
    this.#opts = opts;
    this.#handler = handler;
    this.#backoff = new Backoff(opts.backoff, platform.random);
    this.#commandTopic = deviceTopic(opts.deviceId, Downlink.Command);
    this.#configTopic = deviceTopic(opts.deviceId, Downlink.Config);
    this.#receiptTopic = deviceTopic(opts.deviceId, Downlink.Receipt);
    this.#statusTopic = deviceTopic(opts.deviceId, Uplink.Status);
  }

  get state(): SessionState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state === SessionState.Connected;
  }

  /** Changes on every connection attempt; publish callbacks compare it. */
  get generation(): number {
    return this.#gen;
  }

  stats(): SessionStats {
    return {
      state: this.#state, attempts: this.#attempts, connects: this.#connects, lastBackoffMs: this.#lastBackoffMs,
      url: this.#opts.brokerUrls[this.#urlIndex % this.#opts.brokerUrls.length]!,
    };
  }

  start(): void {
    if (this.#state !== SessionState.Idle) throw new Error("session already started");
    this.#attempt();
  }

  publish(topic: string, payload: Uint8Array, qos: MqttQoS, retain: boolean, cb?: MqttPublishCallback): boolean {
    const client = this.#client;
    if (this.#state !== SessionState.Connected || client === undefined) return false;
    client.publish(topic, toArrayBuffer(payload), { qos, retain }, cb);
    return true;
  }

  /**
   * Ends the session. `graceful`: wait for inflight publishes, then close
   * (the caller publishes its own OFFLINE status first). Otherwise the socket
   * is dropped without DISCONNECT, so the broker publishes the will.
   */
  stop(graceful: boolean, done?: () => void): void {
    const client = this.#client;
    const wasConnected = this.#state === SessionState.Connected;
    this.#clearTimer();
    this.#state = SessionState.Stopped;
    this.#gen++;
    this.#client = undefined;
    if (client === undefined) {
      if (done) done();
      return;
    }
    endClient(client, !(graceful && wasConnected), done);
  }

  /** Drops the current connection abruptly and keeps new attempts waiting until `unblock`. */
  cutNetwork(): void {
    this.#blocked = true;
    if (this.#state === SessionState.Connected || this.#state === SessionState.Connecting) this.#lost("network cut");
  }

  unblock(): void {
    this.#blocked = false;
  }

  #attempt(): void {
    this.#timer = undefined;
    if (this.#state === SessionState.Stopped) return;
    const gen = ++this.#gen;
    this.#attempts++;
    this.#state = SessionState.Connecting;
    if (this.#blocked) {
      // Behaves like an unreachable broker: the attempt fails after a timeout.
      this.#timer = this.#platform.timers.set(() => this.#onTimeout(gen), this.#opts.connectTimeoutMs);
      return;
    }
    const urls = this.#opts.brokerUrls;
    const url = urls[this.#urlIndex % urls.length]!;
    const o = this.#opts;
    const will = { topic: this.#statusTopic, payload: toArrayBuffer(this.#handler.will()), qos: 1 as const, retain: true };
    let client: MqttClient;
    try {
      client = this.#platform.mqttConnect(url, {
        clientId: o.deviceId, keepalive: o.keepaliveS, clean: true, reconnectPeriod: 0,
        connectTimeout: o.connectTimeoutMs, will,
        ...(o.username !== undefined ? { username: o.username } : {}),
        ...(o.password !== undefined ? { password: o.password } : {}),
      });
    } catch (e) {
      this.#platform.log(LogLevel.Warn, `mqtt connect to ${url} threw: ${String(e)}`);
      this.#lost("connect threw");
      return;
    }
    this.#client = client;
    client.on("connect", () => { if (gen === this.#gen) this.#onConnect(); });
    client.on("message", (topic: string, payload: ArrayBuffer) => { if (gen === this.#gen) this.#onMessage(topic, payload); });
    client.on("close", () => { if (gen === this.#gen) this.#lost("close"); });
    client.on("offline", () => { if (gen === this.#gen) this.#lost("offline"); });
    client.on("error", (e: Error) => {
      if (gen !== this.#gen) return;
      this.#platform.log(LogLevel.Warn, `mqtt ${url}: ${e?.message ?? e}`);
      if (this.#state === SessionState.Connecting) this.#lost("error");
    });
    this.#timer = this.#platform.timers.set(() => this.#onTimeout(gen), o.connectTimeoutMs);
  }

  #onTimeout(gen: number): void {
    if (gen !== this.#gen || this.#state !== SessionState.Connecting) return;
    this.#timer = undefined;
    this.#lost("connect timeout");
  }

  #onConnect(): void {
    if (this.#state !== SessionState.Connecting) return;
    this.#clearTimer();
    this.#state = SessionState.Connected;
    this.#connects++;
    this.#backoff.reset();
    const client = this.#client!;
    client.subscribe(this.#commandTopic, { qos: 0 });
    client.subscribe(this.#configTopic, { qos: 0 });
    client.subscribe(this.#receiptTopic, { qos: 0 });
    this.#handler.connected();
  }

  #onMessage(topic: string, payload: ArrayBuffer): void {
    if (this.#state !== SessionState.Connected) return;
    const kind = topic === this.#commandTopic ? Downlink.Command : topic === this.#configTopic ? Downlink.Config
      : topic === this.#receiptTopic ? Downlink.Receipt : undefined;
    if (kind === undefined) return;
    this.#handler.message(kind, new Uint8Array(payload));
  }

  #lost(reason: string): void {
    const state = this.#state;
    if (state !== SessionState.Connecting && state !== SessionState.Connected) return;
    this.#clearTimer();
    const client = this.#client;
    this.#client = undefined;
    this.#gen++; // anything the old client still reports is stale now
    if (client !== undefined) endClient(client, true);
    this.#state = SessionState.Waiting;
    this.#urlIndex++;
    const delay = this.#backoff.next();
    this.#lastBackoffMs = delay;
    this.#platform.log(LogLevel.Info, `mqtt ${reason}; retry in ${delay} ms`);
    this.#timer = this.#platform.timers.set(() => this.#attempt(), delay);
    this.#handler.disconnected(state === SessionState.Connected);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#platform.timers.clear(this.#timer);
    this.#timer = undefined;
  }
}

function endClient(client: MqttClient, force: boolean, done?: () => void): void {
  try {
    client.end(force, {}, done);
  } catch {
    // Moddable's mqtt/js throws when ending a client that is still connecting
    // (examples/io/tcp/mqtt/mqtt.js end()). End it once it connects: an
    // abandoned attempt must not linger, and with the same client id it would
    // take the session over from the next attempt.
    client.on("connect", () => endClient(client, true));
    if (done) done();
  }
}
