// A raw MQTT 3.1.1 client for the security tests (the `mqtt` npm package,
// as the host port uses): connect and see the CONNACK refusal, publish and
// see the PUBACK, subscribe and see the SUBACK return codes — what a device
// would see, with none of the firmware's retrying in the way.
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";

export interface Probe {
  client: MqttClient;
  /** Topics and payloads received, in order. */
  received: { topic: string; payload: string }[];
  /** Resolves once the connection closed (by the server or the network). */
  closed: Promise<void>;
  publish(topic: string, payload: string, qos?: 0 | 1, retain?: boolean): Promise<void>;
  /** The granted QoS per topic; 128 = refused. */
  subscribe(topic: string, qos?: 0 | 1): Promise<number>;
  end(): Promise<void>;
}

/** Connects or rejects with the broker's refusal ("Not authorized", a TLS error, …). */
export function mqttProbe(url: string, o: { clientId: string; username?: string; password?: string; ca?: Buffer | string }): Promise<Probe> {
  const opts: IClientOptions = {
    protocolVersion: 4, clientId: o.clientId, clean: true, reconnectPeriod: 0, connectTimeout: 10_000,
    ...(o.username !== undefined ? { username: o.username } : {}), ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.ca !== undefined ? { ca: o.ca, rejectUnauthorized: true } : {}),
  };
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, opts);
    const received: Probe["received"] = [];
    let onClose: () => void = () => undefined;
    const closed = new Promise<void>((r) => (onClose = r));
    client.on("close", () => onClose());
    client.on("message", (topic, payload) => received.push({ topic, payload: payload.toString() }));
    client.once("error", (e) => { client.end(true); reject(e); });
    client.once("close", () => reject(new Error("closed before CONNACK")));
    client.once("connect", () => {
      resolve({
        client, received, closed,
        publish: (topic, payload, qos = 1, retain = false) => new Promise((res, rej) => client.publish(topic, payload, { qos, retain }, (e) => (e ? rej(e) : res()))),
        subscribe: (topic, qos = 0) => new Promise((res, rej) => {
          // mqtt.js reports a refused topic (SUBACK 0x80) in the granted list; older versions as an error.
          client.subscribe(topic, { qos }, (e, granted) => (e ? (/128|refused|Unspecified|failure/i.test(e.message) ? res(128) : rej(e)) : res(granted?.[0]?.qos ?? -1)));
        }),
        end: () => new Promise((res) => client.end(true, {}, () => res())),
      });
    });
  });
}

/** True when `probe` rejects (the broker refused the connection). */
export async function refused(p: Promise<Probe>): Promise<string | null> {
  try {
    const c = await p;
    await c.end();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
