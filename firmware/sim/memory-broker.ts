// An in-memory MQTT 3.1.1 broker and client link for deterministic
// scenarios: CONNACK, PUBACK (QoS 1), retained messages, wildcard
// subscriptions, and the last will on any close without DISCONNECT. Every
// delivery is scheduled on the simulated timers, so a scenario is a pure
// function of its seed and inputs. No platform APIs: runs on XS too.
//
// Faults: `setAvailable(false)` (connects get no CONNACK and fail),
// `dropClient(id)` (abrupt close, will fires), `holdAcks(true)` (messages
// arrive, PUBACKs are withheld until released or the link drops), and
// seeded random `setFaults`: client publishes PUBACKed but never routed
// (nats-server 2.9 PUBACKs before the streams store, docs/delivery.md) or
// routed twice, and cloud-side publishes lost on the way to the device.
import type { MqttClient, MqttConnect, MqttOptions, MqttPublishCallback, MqttQoS, Random, Timers } from "../platform";

export interface BrokerMessage {
  topic: string;
  payload: Uint8Array;
  retain: boolean;
  /** Client id of the publisher, "" for the broker/cloud side or a will. */
  from: string;
  /** True when this is a will published by the broker. */
  will: boolean;
}

type Handler = (m: BrokerMessage) => void;

export interface BrokerFaults {
  /** Fraction of client publishes PUBACKed but never routed. */
  uplinkLossRate: number;
  /** Fraction of client publishes routed twice. */
  uplinkDuplicateRate: number;
  /** Fraction of cloud-side publishes (commands, config, receipts) lost. */
  downlinkLossRate: number;
}

const noFaults: BrokerFaults = Object.freeze({ uplinkLossRate: 0, uplinkDuplicateRate: 0, downlinkLossRate: 0 });

/** Retained messages held at most (a real broker's limit is config). */
export const retainedMax = 10_000;

export class MemoryBroker {
  readonly #timers: Timers;
  readonly #latencyMs: number;
  readonly #clients = new Map<string, MemoryClient>();
  readonly #retained = new Map<string, BrokerMessage>();
  readonly #taps: Array<{ filter: string; handler: Handler }> = [];
  #available = true;
  #holdAcks = false;
  readonly #heldAcks: Array<{ client: MemoryClient; cb: MqttPublishCallback }> = [];
  #faults: BrokerFaults = noFaults;
  #faultRandom: Random | undefined;
  /** Every message the broker accepted, in order (tests compare these). */
  readonly log: BrokerMessage[] = [];

  readonly #keepLog: boolean;

  /** `keepLog: false` for long runs: `log` stays empty (use `subscribe` taps). */
  constructor(timers: Timers, opts: { latencyMs?: number; keepLog?: boolean } = {}) {
    this.#timers = timers;
    this.#latencyMs = opts.latencyMs ?? 1;
    this.#keepLog = opts.keepLog ?? true;
  }

  /** The `connect` function a device platform uses. */
  readonly connect: MqttConnect = (url: string, options: MqttOptions): MqttClient => new MemoryClient(this, url, options);

  get timers(): Timers {
    return this.#timers;
  }

  get latencyMs(): number {
    return this.#latencyMs;
  }

  setAvailable(up: boolean): void {
    this.#available = up;
    if (!up) for (const id of [...this.#clients.keys()]) this.dropClient(id);
  }

  get available(): boolean {
    return this.#available;
  }

  /** Withholds PUBACKs (true) or releases every held one (false). */
  holdAcks(hold: boolean): void {
    this.#holdAcks = hold;
    if (!hold) {
      const held = this.#heldAcks.splice(0);
      for (const h of held) if (h.client.isLive) h.cb();
    }
  }

  /** Random faults drawn from `random` (rates in 0..1; omitted ones are 0). */
  setFaults(faults: Partial<BrokerFaults>, random: Random): void {
    const f = { ...noFaults, ...faults };
    for (const [k, v] of Object.entries(f)) if (!(v >= 0 && v <= 1)) throw new Error(`broker fault ${k} must be in 0..1, got ${v}`);
    this.#faults = f;
    this.#faultRandom = random;
  }

  /** Closes a client's connection abruptly: the broker publishes its will. */
  dropClient(clientId: string): boolean {
    const c = this.#clients.get(clientId);
    if (c === undefined) return false;
    this.#close(c, true);
    return true;
  }

  connectedIds(): string[] {
    return [...this.#clients.keys()];
  }

  /** Topic filters and granted QoS of a connected client. */
  subscriptionsOf(clientId: string): Array<{ topic: string; qos: MqttQoS }> {
    return this.#clients.get(clientId)?.subscriptions() ?? [];
  }

  /** Cloud-side subscription (sees every routed message, no QoS). */
  subscribe(filter: string, handler: Handler): void {
    this.#taps.push({ filter, handler });
    for (const m of this.#retained.values()) if (topicMatches(filter, m.topic)) handler(m);
  }

  /** Cloud-side publish (e.g. commands, config). */
  publish(topic: string, payload: Uint8Array, opts: { retain?: boolean } = {}): void {
    if (this.#roll(this.#faults.downlinkLossRate)) return;
    this.#route({ topic, payload: payload.slice(), retain: opts.retain ?? false, from: "", will: false });
  }

  retained(topic: string): BrokerMessage | undefined {
    return this.#retained.get(topic);
  }

  // ---- used by MemoryClient ----

  /** @internal */
  accept(c: MemoryClient): boolean {
    if (!this.#available) return false;
    const old = this.#clients.get(c.clientId);
    if (old !== undefined) this.#close(old, true); // session takeover
    this.#clients.set(c.clientId, c);
    return true;
  }

  /** @internal */
  received(c: MemoryClient, topic: string, payload: Uint8Array, qos: MqttQoS, retain: boolean, cb?: MqttPublishCallback): void {
    const m: BrokerMessage = { topic, payload, retain, from: c.clientId, will: false };
    if (!this.#roll(this.#faults.uplinkLossRate)) this.#route(m);
    if (this.#roll(this.#faults.uplinkDuplicateRate)) this.#timers.set(() => this.#route(m), this.#latencyMs);
    if (qos === 1 && cb !== undefined) {
      if (this.#holdAcks) this.#heldAcks.push({ client: c, cb });
      else this.#timers.set(() => { if (c.isLive) cb(); }, this.#latencyMs);
    }
  }

  /** @internal retained messages for a new subscription */
  retainedFor(filter: string): BrokerMessage[] {
    const out: BrokerMessage[] = [];
    for (const m of this.#retained.values()) if (topicMatches(filter, m.topic)) out.push(m);
    return out;
  }

  /** @internal */
  closed(c: MemoryClient, abrupt: boolean): void {
    if (this.#clients.get(c.clientId) === c) this.#close(c, abrupt);
  }

  #close(c: MemoryClient, abrupt: boolean): void {
    if (this.#clients.get(c.clientId) === c) this.#clients.delete(c.clientId);
    const will = c.willMessage;
    c.linkDown();
    if (abrupt && will !== undefined) this.#route(will);
  }

  #roll(rate: number): boolean {
    return rate > 0 && this.#faultRandom!.u32() / 4294967296 < rate;
  }

  #route(m: BrokerMessage): void {
    if (this.#keepLog) this.log.push(m);
    if (m.retain) {
      if (m.payload.length === 0) this.#retained.delete(m.topic);
      else {
        if (!this.#retained.has(m.topic) && this.#retained.size >= retainedMax) throw new Error(`more than ${retainedMax} retained messages`);
        this.#retained.set(m.topic, m);
      }
    }
    for (const t of this.#taps) if (topicMatches(t.filter, m.topic)) t.handler(m);
    for (const c of this.#clients.values()) c.deliver(m);
  }
}

const ClientState = Object.freeze({ Connecting: 0, Connected: 1, Closed: 2 } as const);
type ClientState = (typeof ClientState)[keyof typeof ClientState];

type Listener = (...args: never[]) => void;

export class MemoryClient implements MqttClient {
  readonly clientId: string;
  readonly #broker: MemoryBroker;
  readonly #will: BrokerMessage | undefined;
  readonly #listeners: Record<string, Listener[]> = { connect: [], message: [], error: [], close: [], offline: [], end: [] };
  readonly #subscriptions: string[] = [];
  readonly #qos: MqttQoS[] = [];
  #state: ClientState = ClientState.Connecting;

  constructor(broker: MemoryBroker, _url: string, options: MqttOptions) {
    this.#broker = broker;
    this.clientId = options.clientId;
    const w = options.will;
    this.#will = w === undefined ? undefined : { topic: w.topic, payload: new Uint8Array(w.payload.slice(0)), retain: w.retain, from: "", will: true };
    broker.timers.set(() => this.#handshake(), broker.latencyMs);
  }

  get connected(): boolean {
    return this.#state === ClientState.Connected;
  }

  /** @internal */
  get isLive(): boolean {
    return this.#state === ClientState.Connected;
  }

  /** @internal */
  get willMessage(): BrokerMessage | undefined {
    return this.#will;
  }

  on(event: string, cb: Listener): this {
    const l = this.#listeners[event];
    if (l === undefined) throw new Error(`no such event ${event}`);
    l.push(cb);
    return this;
  }

  publish(topic: string, message: ArrayBuffer, opts: { qos: MqttQoS; retain: boolean }, cb?: MqttPublishCallback): this {
    if (this.#state !== ClientState.Connected) {
      if (cb !== undefined) this.#broker.timers.set(() => cb(new Error("not connected")), 0);
      return this;
    }
    const payload = new Uint8Array(message.slice(0));
    this.#broker.timers.set(() => {
      if (this.#state === ClientState.Connected) this.#broker.received(this, topic, payload, opts.qos, opts.retain, cb);
    }, this.#broker.latencyMs);
    return this;
  }

  subscribe(topic: string, opts: { qos: MqttQoS }, cb?: (error: Error | null | undefined) => void): this {
    this.#broker.timers.set(() => {
      if (this.#state !== ClientState.Connected) return;
      const i = this.#subscriptions.indexOf(topic);
      if (i < 0) {
        this.#subscriptions.push(topic);
        this.#qos.push(opts.qos);
      } else this.#qos[i] = opts.qos;
      if (cb !== undefined) cb(null);
      for (const m of this.#broker.retainedFor(topic)) this.#emit("message", m.topic, copyBuffer(m.payload));
    }, this.#broker.latencyMs);
    return this;
  }

  end(force?: boolean, _opts?: object, cb?: () => void): this {
    if (this.#state === ClientState.Closed) {
      if (cb) cb();
      return this;
    }
    const close = (): void => {
      // A non-forced end sends DISCONNECT: the broker discards the will.
      this.#broker.closed(this, force === true);
      if ((this.#state as ClientState) !== ClientState.Closed) this.linkDown();
      this.#emit("end");
      if (cb) cb();
    };
    // Forced: the socket goes now. Otherwise what was written before the
    // DISCONNECT still reaches the broker (same latency, queued earlier).
    if (force === true) close();
    else this.#broker.timers.set(close, this.#broker.latencyMs);
    return this;
  }

  /** @internal */
  subscriptions(): Array<{ topic: string; qos: MqttQoS }> {
    return this.#subscriptions.map((topic, i) => ({ topic, qos: this.#qos[i]! }));
  }

  /** @internal the broker routes a message here */
  deliver(m: BrokerMessage): void {
    if (this.#state !== ClientState.Connected) return;
    for (const f of this.#subscriptions) {
      if (topicMatches(f, m.topic)) {
        const payload = copyBuffer(m.payload);
        this.#broker.timers.set(() => { if (this.#state === ClientState.Connected) this.#emit("message", m.topic, payload); }, this.#broker.latencyMs);
        return;
      }
    }
  }

  /** @internal the connection is gone (either side) */
  linkDown(): void {
    if (this.#state === ClientState.Closed) return;
    const was = this.#state;
    this.#state = ClientState.Closed;
    if (was === ClientState.Connected) this.#emit("offline");
    this.#emit("close");
  }

  #handshake(): void {
    if (this.#state !== ClientState.Connecting) return;
    if (!this.#broker.accept(this)) {
      this.#state = ClientState.Closed;
      this.#emit("error", new Error("connection refused"));
      this.#emit("close");
      return;
    }
    this.#state = ClientState.Connected;
    this.#emit("connect");
  }

  #emit(event: string, ...args: unknown[]): void {
    const l = this.#listeners[event]!;
    for (let i = 0; i < l.length; i++) (l[i] as (...a: unknown[]) => void)(...args);
  }
}

function copyBuffer(b: Uint8Array): ArrayBuffer {
  return (b.buffer as ArrayBuffer).slice(b.byteOffset, b.byteOffset + b.byteLength);
}

/** MQTT topic filter match with `+` and `#`. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const p = f[i]!;
    if (p === "#") return true;
    if (i >= t.length) return false;
    if (p !== "+" && p !== t[i]) return false;
  }
  return f.length === t.length;
}
