// Moddable's `mqtt/js` (an MQTT.js look-alike) on Node, backed by the real
// `mqtt` npm package at MQTT 3.1.1 (protocolVersion 4). Same event API;
// payloads in and out are ArrayBuffers as on the device.
import mqtt, { type IClientOptions, type MqttClient as NpmClient } from "mqtt";
import type { MqttClient, MqttConnect, MqttOptions, MqttPublishCallback, MqttQoS } from "../platform";

/** What the host adds to a connection that the device gets from its manifest: the CA that signs the broker's certificate. */
export interface HostTls {
  /** PEM of the CA; the broker's certificate must chain to it and name the host dialled. */
  ca: string | Buffer;
}

type Listener = (...args: never[]) => void;

export class Client implements MqttClient {
  readonly #c: NpmClient;

  constructor(url: string, options: Partial<MqttOptions> = {}, tls?: HostTls) {
    const o: IClientOptions = {
      protocolVersion: 4,
      clean: options.clean ?? true,
      keepalive: options.keepalive ?? 60,
      reconnectPeriod: options.reconnectPeriod ?? 1000,
      connectTimeout: options.connectTimeout ?? 30_000,
      resubscribe: false,
      ...(options.clientId !== undefined ? { clientId: options.clientId } : {}),
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
    };
    // mqtts:// verifies the broker (Node's default); with a CA, against that CA only.
    if (tls) Object.assign(o, { ca: tls.ca, rejectUnauthorized: true });
    const w = options.will;
    if (w !== undefined) o.will = { topic: w.topic, payload: Buffer.from(w.payload), qos: w.qos, retain: w.retain };
    this.#c = mqtt.connect(url, o);
    // Moddable's client never throws on an unheard error event; EventEmitter would.
    this.#c.on("error", () => {});
  }

  get connected(): boolean {
    return this.#c.connected;
  }

  get reconnecting(): boolean {
    return this.#c.reconnecting;
  }

  on(event: string, cb: Listener): this {
    const f = cb as unknown as (...a: unknown[]) => void;
    if (event === "message") this.#c.on("message", (topic: string, payload: Buffer) => f(topic, toArrayBuffer(payload)));
    else this.#c.on(event as "connect", (...args: unknown[]) => f(...args));
    return this;
  }

  publish(topic: string, message: string | ArrayBuffer | ArrayBufferView, opts: { qos?: MqttQoS; retain?: boolean } = {}, cb?: MqttPublishCallback): this {
    const payload = typeof message === "string" ? Buffer.from(message, "utf8")
      : message instanceof ArrayBuffer ? Buffer.from(message)
      : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    this.#c.publish(topic, payload, { qos: opts.qos ?? 0, retain: opts.retain ?? false }, (err) => { if (cb) cb(err ?? undefined); });
    return this;
  }

  subscribe(topic: string, opts: { qos: MqttQoS }, cb?: (error: Error | null | undefined) => void): this {
    this.#c.subscribe(topic, { qos: opts.qos }, (err) => { if (cb) cb(err ?? null); });
    return this;
  }

  /** force = true drops the socket without DISCONNECT (the broker sends the will). */
  end(force?: boolean, opts?: object, cb?: () => void): this {
    this.#c.end(force ?? false, opts ?? {}, () => { if (cb) cb(); });
    return this;
  }

  reconnect(): this {
    this.#c.reconnect();
    return this;
  }

  getLastMessageId(): number {
    return this.#c.getLastMessageId() ?? 0;
  }
}

export function connect(url: string, options?: Partial<MqttOptions>): Client {
  return new Client(url, options);
}

/** `connect` for the platform seam, verifying TLS brokers with `tls.ca`. */
export function connectWith(tls: HostTls | undefined): MqttConnect {
  return (url, options) => new Client(url, options, tls);
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return (b.buffer as ArrayBuffer).slice(b.byteOffset, b.byteOffset + b.byteLength);
}
