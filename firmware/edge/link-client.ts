// The child's side of a local stream link: an MqttClient (firmware/platform
// .ts) that speaks link frames (frame.ts) to a gateway instead of MQTT to a
// broker. A child runs the unchanged device runtime over it, so it keeps its
// own outbox, seqs, receipts and will; only the transport differs
// (docs/edge.md).
//
// Mapping: CONNECT -> Join (client id, keepalive, will payload); CONNACK ->
// Accept (the gateway admits only allow-listed children, and only while its
// own uplink is up); PUBLISH QoS 1 -> Publish with a 16-bit packet id, whose
// callback runs on the gateway's PubAck (its broker PUBACK); QoS 0 needs no
// ack; SUBSCRIBE is implicit (the gateway routes the child's downlinks);
// DISCONNECT -> Bye; a dropped link makes the gateway publish the will.
// Keepalive: a Ping every keepalive/2; the gateway echoes it; silence for
// 1.5 keepalive closes the link (the session reconnects with backoff).
//
// Bounds: `clientInflightMax` QoS 1 publishes awaiting PubAck (more are
// refused with an error callback: the runtime's window is smaller); one
// frame reader (frame.ts). A bad frame from the gateway closes the link and
// is counted in `LinkClientStats.badFrames`.
import { deviceTopic } from "../../shared/topics";
import type { MqttClient, MqttConnect, MqttOptions, MqttPublishCallback, MqttQoS, StreamLink, StreamTransport, TimerId, Timers, Clock } from "../platform";
import { FrameReader, FrameType, encodeFrame, type Frame } from "./frame";
import { downlinkKinds, uplinkKinds } from "./kinds";

export const clientInflightMax = 64;

export interface LinkClientStats {
  badFrames: number;
  refused: number;
  sendFailures: number;
}

type Listener = (...args: never[]) => void;
const LinkState = Object.freeze({ Connecting: 0, Joining: 1, Accepted: 2, Closed: 3 } as const);
type LinkState = (typeof LinkState)[keyof typeof LinkState];

/** An MqttConnect whose URLs (mqtt://host:port) name gateways on the local link. */
export function linkMqttConnect(links: StreamTransport, timers: Timers, clock: Clock, stats?: LinkClientStats): MqttConnect {
  const s = stats ?? { badFrames: 0, refused: 0, sendFailures: 0 };
  return (url: string, options: MqttOptions) => new LinkMqttClient(links, timers, clock, s, url, options);
}

class LinkMqttClient implements MqttClient {
  readonly #timers: Timers;
  readonly #clock: Clock;
  readonly #stats: LinkClientStats;
  readonly #opts: MqttOptions;
  readonly #link: StreamLink;
  readonly #reader = new FrameReader();
  readonly #listeners: Record<string, Listener[]> = { connect: [], message: [], error: [], close: [], offline: [], end: [] };
  readonly #pending = new Map<number, MqttPublishCallback>();
  readonly #downTopics: string[];
  #state: LinkState = LinkState.Connecting;
  #nextPacketId = 1;
  #pingTimer: TimerId | undefined;
  #lastHeardMs = 0;

  constructor(links: StreamTransport, timers: Timers, clock: Clock, stats: LinkClientStats, url: string, options: MqttOptions) {
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.#opts = options;
    this.#downTopics = downlinkKinds.map((k) => deviceTopic(options.clientId, k));
    const m = /^mqtts?:\/\/([^/:\s]+):([0-9]{1,5})$/.exec(url);
    if (m === null) throw new Error(`gateway URL must look like mqtt://host:port, got ${JSON.stringify(url)}`);
    this.#link = links.connect(m[1]!, Number(m[2]), {
      opened: () => this.#onOpened(),
      data: (chunk) => this.#onData(chunk),
      closed: () => this.#onClosed(),
    });
  }

  on(event: string, cb: Listener): this {
    const l = this.#listeners[event];
    if (l === undefined) throw new Error(`no such event ${event}`);
    l.push(cb);
    return this;
  }

  publish(topic: string, message: ArrayBuffer, opts: { qos: MqttQoS; retain: boolean }, cb?: MqttPublishCallback): this {
    const kind = uplinkKinds.indexOf(topic.slice(topic.lastIndexOf("/") + 1) as (typeof uplinkKinds)[number]);
    const fail = (why: string): this => {
      if (cb !== undefined) this.#timers.set(() => cb(new Error(why)), 0);
      return this;
    };
    if (this.#state !== LinkState.Accepted) return fail("not connected");
    if (kind < 0 || topic !== deviceTopic(this.#opts.clientId, uplinkKinds[kind]!)) return fail(`not an uplink topic of ${this.#opts.clientId}: ${topic}`);
    if (opts.qos === 1 && this.#pending.size >= clientInflightMax) return fail(`more than ${clientInflightMax} publishes awaiting PubAck`);
    const packetId = opts.qos === 1 ? this.#takePacketId() : 0;
    if (!this.#send({ type: FrameType.Publish, kind, retain: opts.retain, packetId, envelope: new Uint8Array(message) })) return fail("link send failed");
    if (cb !== undefined) {
      if (opts.qos === 1) this.#pending.set(packetId, cb);
      else this.#timers.set(() => cb(), 0);
    }
    return this;
  }

  subscribe(_topic: string, _opts: { qos: MqttQoS }, cb?: (error: Error | null | undefined) => void): this {
    // The gateway routes this child's downlinks to it once admitted.
    if (cb !== undefined) this.#timers.set(() => cb(null), 0);
    return this;
  }

  end(force?: boolean, _opts?: object, cb?: () => void): this {
    if (this.#state === LinkState.Accepted && force !== true) this.#send({ type: FrameType.Bye });
    this.#closeNow();
    this.#emit("end");
    if (cb !== undefined) cb();
    return this;
  }

  #takePacketId(): number {
    for (;;) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id === 0xffff ? 1 : id + 1;
      if (!this.#pending.has(id)) return id;
    }
  }

  #send(f: Frame): boolean {
    if (this.#link.send(encodeFrame(f))) return true;
    this.#stats.sendFailures++;
    this.#closeNow();
    return false;
  }

  #onOpened(): void {
    if (this.#state !== LinkState.Connecting) return;
    this.#state = LinkState.Joining;
    this.#lastHeardMs = this.#clock.uptimeMs();
    const will = this.#opts.will !== undefined ? new Uint8Array(this.#opts.will.payload) : new Uint8Array(0);
    if (!this.#send({ type: FrameType.Join, deviceId: this.#opts.clientId, keepaliveS: this.#opts.keepalive, will })) return;
    const everyMs = Math.max(100, Math.floor((this.#opts.keepalive * 1000) / 2));
    this.#pingTimer = this.#timers.repeat(() => this.#onPingTick(), everyMs);
  }

  #onPingTick(): void {
    if (this.#state === LinkState.Closed) return;
    if (this.#clock.uptimeMs() - this.#lastHeardMs > this.#opts.keepalive * 1500) {
      this.#closeNow();
      return;
    }
    this.#send({ type: FrameType.Ping });
  }

  #onData(chunk: Uint8Array): void {
    if (this.#state === LinkState.Closed) return;
    const frames = this.#reader.push(chunk);
    if (typeof frames === "string") {
      this.#stats.badFrames++;
      this.#emit("error", new Error(`bad frame from gateway: ${frames}`));
      this.#closeNow();
      return;
    }
    this.#lastHeardMs = this.#clock.uptimeMs();
    for (const f of frames) {
      if ((this.#state as LinkState) === LinkState.Closed) return;
      this.#onFrame(f);
    }
  }

  #onFrame(f: Frame): void {
    switch (f.type) {
      case FrameType.Accept:
        if (this.#state !== LinkState.Joining) return this.#bad("accept out of turn");
        this.#state = LinkState.Accepted;
        this.#emit("connect");
        return;
      case FrameType.Refuse:
        this.#stats.refused++;
        this.#emit("error", new Error(`gateway refused: ${f.reason}`));
        this.#closeNow();
        return;
      case FrameType.PubAck: {
        const cb = this.#pending.get(f.packetId);
        this.#pending.delete(f.packetId);
        if (cb !== undefined) cb();
        return;
      }
      case FrameType.Down: {
        const topic = this.#downTopics[f.kind];
        if (this.#state !== LinkState.Accepted || topic === undefined) return this.#bad("downlink out of turn or of unknown kind");
        const e = f.envelope;
        this.#emit("message", topic, (e.buffer as ArrayBuffer).slice(e.byteOffset, e.byteOffset + e.byteLength));
        return;
      }
      case FrameType.Ping:
        return;
      default:
        return this.#bad(`frame type ${f.type} from a gateway`);
    }
  }

  #bad(why: string): void {
    this.#stats.badFrames++;
    this.#emit("error", new Error(`bad frame from gateway: ${why}`));
    this.#closeNow();
  }

  #closeNow(): void {
    if (this.#state === LinkState.Closed) return;
    this.#link.close();
    this.#onClosed();
  }

  #onClosed(): void {
    if (this.#state === LinkState.Closed) return;
    const was = this.#state;
    this.#state = LinkState.Closed;
    if (this.#pingTimer !== undefined) this.#timers.clear(this.#pingTimer);
    this.#pingTimer = undefined;
    this.#pending.clear(); // the session requeues what was inflight
    if (was === LinkState.Accepted) this.#emit("offline");
    this.#emit("close");
  }

  #emit(event: string, ...args: unknown[]): void {
    const l = this.#listeners[event]!;
    for (let i = 0; i < l.length; i++) (l[i] as (...a: unknown[]) => void)(...args);
  }
}
