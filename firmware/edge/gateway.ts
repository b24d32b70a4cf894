// The gateway of a star (docs/edge.md): children with no broker access join
// over local stream links (frame.ts); the gateway relays their uplinks on
// the children's own MQTT topics through its one upstream session, with
// `Envelope.via` set to its id, and routes their downlinks (commands,
// config, receipts) back to them.
//
// What it keeps (and what not): children keep their own outbox, seqs and
// epoch; the gateway persists nothing of theirs. A child forgets a message
// only on its own Receipt, which the gateway relays like any downlink, so a
// message lost anywhere on the way (link, gateway crash, upstream cut) is
// resent by the child and the cloud's per-device exactly-once rules hold per
// child. The cost: a child whose outbox fills while the uplink is down drops
// as it would if it had its own broker connection.
//
// Admission: a Join is accepted only when the child's id is on the
// allow-list (the gateway's desired configuration, setting "children"), the
// upstream session is connected and fewer than `childrenMax` children are
// in; otherwise Refuse and close. A second Join with the same id takes over
// (the older link closes without a will, as an MQTT takeover).
//
// Presence: when an admitted child's link drops (crash, keepalive silence,
// a bad frame) the gateway publishes the child's own will (its Join carried
// it) retained on the child's status topic with `via`; a Bye first means a
// clean leave, no will. When the upstream drops, every child is closed (it
// reconnects with its backoff, exactly as if its broker had gone); children
// that have not rejoined `rejoinGraceMs` after the upstream is back get
// their will published, and so do those whose link dropped during the cut.
//
// Checks on every Publish: the envelope decodes (bounded reader), its
// device id is the child's, its kind is an uplink; the child has fewer than
// `childInflightMax` publishes awaiting the broker. Any failure is a bad
// frame: that link closes (will published) and `badFrames` counts it.
//
// Memory: a link holds at most one partial frame, <= joinFrameBytesMax
// until its Join is admitted and <= `frameBytesMax` after; at most
// `linksMax` links. Socket callbacks only parse and forward; there is no
// queue to grow: the upstream client and the link buffer what is in flight,
// each bounded.
import { CounterKind, createCounter, decodeEnvelope, type Counter, type Envelope, type Setting } from "../../shared/proto/xsfleet.gen";
import { GCounter } from "../../shared/crdt/gcounter";
import { jobsFromSettings } from "../../shared/edge-jobs";
import { utf8Encode } from "../../shared/proto/utf8";
import { Downlink, Uplink, deviceTopic, isDeviceId, parseDeviceAddress } from "../../shared/topics";
import type { MqttClient, MqttConnect, Platform, StreamLink, StreamListener, StreamTransport, TimerId } from "../platform";
import { LogLevel } from "../platform";
import { decodeReceiptEnvelope } from "../device/receipts";
import { FrameReader, FrameType, encodeFrame, linkFrameBytesMax, type Frame } from "./frame";
import { downlinkKinds, uplinkKinds } from "./kinds";
import { EdgeWork } from "./edge-work";

/** Rules jobs whose alert counts a node keeps (job ids are ASCII, so the stored JSON is too). */
export const alertJobsMax = 16;
/** Children one gateway serves at most (allow-list length and links admitted). */
export const childrenLimit = 64;
/** Publishes of one child awaiting the upstream PUBACK; more is a bad frame. */
export const childInflightMax = 32;
/** Largest will a child may leave (an encoded Status envelope is ~100 bytes). */
export const willBytesMax = 512;
/** Links (joined or not) open at once; more are closed at accept. */
export const linksMax = childrenLimit + 8;
/** Largest frame before a Join is admitted (a Join carries an id and a will: well under this). */
export const joinFrameBytesMax = 1024;
/** Storage key of the alert counts of rules jobs (persisted: a G-counter replica never goes back). */
const alertsKey = "ealerts";
/** Counter names of rules jobs' raised alerts: "alerts-<jobId>". */
export const alertCounterPrefix = "alerts-";
/** The desired-config setting that carries the allow-list: comma-separated device ids. */
export const childrenSettingKey = "children";

export interface GatewayOptions {
  gatewayId: string;
  /** Port the gateway listens on for children (0: any; see `port`). */
  port: number;
  /** Initial allow-list (until desired config says otherwise). */
  allow: readonly string[];
  childrenMax?: number;
  /** After the upstream is back, how long children closed by the cut have to rejoin before their will goes out. */
  rejoinGraceMs?: number;
  /** How often keepalive silence is checked. */
  tickMs?: number;
  /**
   * Largest frame an admitted child may send (default linkFrameBytesMax).
   * Each link holds at most one partial frame, so the gateway's worst case
   * is childrenMax × this: an ESP32 gateway sets it near its children's
   * largest batch (boot.ts: 4 KB).
   */
  frameBytesMax?: number;
}

export interface GatewayStats {
  upstreamConnected: boolean;
  children: number;
  admitted: number;
  refused: number;
  badFrames: number;
  forwarded: number;
  pubAcks: number;
  downlinks: number;
  /** Downlinks for an allowed child that was not connected (QoS 0: the cloud retries). */
  downlinksDropped: number;
  willsPublished: number;
  linkSendFailures: number;
  keepaliveTimeouts: number;
  /** The listener could not bind its port (the gateway then serves no child; logged). */
  listenFailed: boolean;
  /** Edge-job settings in the desired config that did not parse (shared/edge-jobs.ts). */
  jobsRefused: number;
  /** Commands the rules sent to children while the upstream was down. */
  localCommandsSent: number;
  /** Telemetry an edge job failed on (relayed unchanged, logged). */
  jobErrors: number;
}

export interface ChildInfo {
  deviceId: string;
  remote: string;
  inflight: number;
}

const ChildState = Object.freeze({ Joining: 0, Admitted: 1, Closed: 2 } as const);
type ChildState = (typeof ChildState)[keyof typeof ChildState];

interface ChildLink {
  link: StreamLink;
  reader: FrameReader;
  state: ChildState;
  deviceId: string;
  will: Uint8Array | undefined;
  keepaliveMs: number;
  lastHeardMs: number;
  inflight: number;
  /** Packet ids forwarded and awaiting the upstream PUBACK (≤ childInflightMax). */
  awaiting: Set<number>;
  /** The link ends without a will (Bye, takeover, upstream cut, gateway stop). */
  quiet: boolean;
}

export class Gateway {
  readonly #p: Platform;
  readonly #links: StreamTransport;
  readonly #id: string;
  readonly #viaField: Uint8Array;
  readonly #childrenMax: number;
  readonly #rejoinGraceMs: number;
  readonly #tickMs: number;
  readonly #port: number;
  readonly #frameBytesMax: number;
  #allow: Set<string>;
  /** The allow-list before relay jobs add their children (options, then the "children" setting). */
  #baseAllow: readonly string[];
  /** The allow-list of the options: what the list goes back to when the "children" setting is deleted. */
  readonly #optionsAllow: readonly string[];
  /** The edge jobs this node runs (edge-work.ts), configured by its desired config. */
  readonly work = new EdgeWork();
  /** Alerts raised per rules job over the node's life (persisted), reported upstream as G-counters. */
  readonly #alerts = new Map<string, number>();
  /** Called when a rules job raised an alert (the runtime publishes its counters: `alertCounters`). */
  onAlerts: (() => void) | undefined;
  readonly #all = new Set<ChildLink>();
  readonly #byId = new Map<string, ChildLink>();
  /** Wills to publish once the upstream is back (link dropped during a cut). */
  readonly #pendingWills = new Map<string, Uint8Array>();
  /** Children closed by an upstream cut: their will goes out unless they rejoin in time. */
  readonly #rejoin = new Map<string, Uint8Array>();
  #listener: StreamListener | undefined;
  #client: MqttClient | undefined;
  #up = false;
  #tickTimer: TimerId | undefined;
  #graceTimer: TimerId | undefined;
  readonly stats: GatewayStats = {
    upstreamConnected: false, children: 0, admitted: 0, refused: 0, badFrames: 0, forwarded: 0, pubAcks: 0, downlinks: 0,
    downlinksDropped: 0, willsPublished: 0, linkSendFailures: 0, keepaliveTimeouts: 0, listenFailed: false, jobsRefused: 0, localCommandsSent: 0, jobErrors: 0,
  };

  constructor(platform: Platform, opts: GatewayOptions) {
    if (platform.links === undefined) throw new Error("a gateway needs platform.links");
    if (!isDeviceId(opts.gatewayId)) throw new Error(`invalid gateway id ${JSON.stringify(opts.gatewayId)}`);
    this.#p = platform;
    this.#links = platform.links;
    this.#id = opts.gatewayId;
    this.#viaField = viaField(opts.gatewayId);
    this.#childrenMax = opts.childrenMax ?? 32;
    if (!(Number.isInteger(this.#childrenMax) && this.#childrenMax >= 1 && this.#childrenMax <= childrenLimit)) throw new Error(`childrenMax must be in 1..${childrenLimit}`);
    this.#rejoinGraceMs = opts.rejoinGraceMs ?? 30_000;
    this.#tickMs = opts.tickMs ?? 1_000;
    if (!(this.#rejoinGraceMs >= 0 && this.#tickMs >= 10)) throw new Error("rejoinGraceMs must be >= 0 and tickMs >= 10");
    this.#port = opts.port;
    this.#frameBytesMax = opts.frameBytesMax ?? linkFrameBytesMax;
    if (!(this.#frameBytesMax >= joinFrameBytesMax && this.#frameBytesMax <= linkFrameBytesMax)) throw new Error(`frameBytesMax must be in ${joinFrameBytesMax}..${linkFrameBytesMax}`);
    this.#allow = checkAllowList(opts.allow, this.#childrenMax);
    this.#baseAllow = [...opts.allow];
    this.#optionsAllow = this.#baseAllow;
    this.#loadAlerts();
  }

  /** Raised alerts per rules job as G-counters "alerts-<jobId>" of this node (DeviceOptions.extraCounters). */
  alertCounters(): Counter[] {
    const out: Counter[] = [];
    for (const id of [...this.#alerts.keys()].sort()) {
      out.push(createCounter({ name: alertCounterPrefix + id, kind: CounterKind.COUNTER_KIND_G, state: GCounter.from([[this.#id, this.#alerts.get(id)!]]).encode() }));
    }
    return out;
  }

  #loadAlerts(): void {
    const b = this.#p.storage.read(alertsKey);
    if (b === undefined) return;
    try {
      const o = JSON.parse(String.fromCharCode(...b)) as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const n = o[k];
        if (typeof n === "number" && Number.isSafeInteger(n) && n >= 0 && this.#alerts.size < alertJobsMax) this.#alerts.set(k, n);
      }
    } catch {
      // Unreadable: start over; the cloud keeps the max it saw, so counts resume once past it.
    }
  }

  #countAlerts(): void {
    const raised = this.work.takeRaised();
    if (raised.length === 0) return;
    for (const [id, n] of raised) if (this.#alerts.has(id) || this.#alerts.size < alertJobsMax) this.#alerts.set(id, (this.#alerts.get(id) ?? 0) + n);
    const o: Record<string, number> = {};
    for (const [k, v] of this.#alerts) o[k] = v;
    const json = JSON.stringify(o);
    const bytes = new Uint8Array(json.length);
    for (let i = 0; i < json.length; i++) bytes[i] = json.charCodeAt(i) & 0xff;
    this.#p.storage.write(alertsKey, bytes); // persisted before it can be reported
    if (this.onAlerts !== undefined) this.onAlerts();
  }

  get id(): string {
    return this.#id;
  }

  /** The port children connect to (after start). */
  get port(): number {
    return this.#listener?.port ?? this.#port;
  }

  get allowList(): string[] {
    return [...this.#allow].sort();
  }

  start(): void {
    if (this.#listener !== undefined) throw new Error("gateway already started");
    this.#listener = this.#links.listen(this.#port, (link) => this.#accept(link), (reason) => {
      this.stats.listenFailed = true;
      this.#p.log(LogLevel.Error, `gateway ${this.#id}: cannot listen on port ${this.#port}: ${reason}`);
    });
    this.#tickTimer = this.#p.timers.repeat(() => this.#tick(), this.#tickMs);
  }

  stop(): void {
    this.#listener?.close();
    this.#listener = undefined;
    if (this.#tickTimer !== undefined) this.#p.timers.clear(this.#tickTimer);
    if (this.#graceTimer !== undefined) this.#p.timers.clear(this.#graceTimer);
    this.#tickTimer = this.#graceTimer = undefined;
    for (const c of [...this.#all]) this.#close(c, true);
  }

  /**
   * Wraps the MqttConnect of the gateway's own runtime: the gateway rides on
   * that session (its will covers the gateway; children's wills are ours to send).
   */
  upstream(connect: MqttConnect): MqttConnect {
    return (url, options) => {
      const client = connect(url, options);
      this.#client = client;
      this.#setUp(false);
      client.on("connect", () => { if (this.#client === client) this.#setUp(true); });
      client.on("message", (topic: string, payload: ArrayBuffer) => { if (this.#client === client) this.#onDownlink(topic, payload); });
      const down = (): void => { if (this.#client === client) this.#setUp(false); };
      client.on("close", down);
      client.on("offline", down);
      client.on("end", down);
      return client;
    };
  }

  /** Replaces the allow-list; admitted children no longer on it are closed and shown offline. */
  setAllowList(ids: readonly string[]): void {
    const next = checkAllowList(ids, this.#childrenMax);
    this.#allow = next;
    for (const c of [...this.#all]) if (c.state === ChildState.Admitted && !next.has(c.deviceId)) this.#close(c, false);
    if (this.#up) this.#subscribeAll();
  }

  /**
   * Takes the allow-list (setting "children") and the edge jobs ("job.<id>")
   * from the node's configuration: the settings of the runtime's shadow
   * replica (DeviceRuntime.settings()); call before start and whenever the
   * runtime reports a changed setting. Without "children" the list is the
   * options' one; without a job setting the job stops.
   */
  applySettings(settings: readonly Setting[]): void {
    this.#baseAllow = allowListFromSettings(settings) ?? this.#optionsAllow;
    // Edge jobs placed here by the cloud's scheduler (docs/edge.md, "Edge scheduling").
    const jobs = jobsFromSettings(settings);
    this.stats.jobsRefused += jobs.refused.length;
    for (const why of jobs.refused) this.#p.log(LogLevel.Warn, `gateway ${this.#id}: edge job refused: ${why}`);
    try {
      this.work.configure(jobs.jobs);
    } catch (e) {
      this.stats.jobsRefused++;
      this.#p.log(LogLevel.Warn, `gateway ${this.#id}: edge jobs refused: ${String(e)}`);
    }
    const all = [...this.#baseAllow];
    for (const c of this.work.relayChildren) if (all.indexOf(c) < 0) all.push(c);
    try {
      this.setAllowList(all);
    } catch (e) {
      this.#p.log(LogLevel.Warn, `gateway ${this.#id}: desired allow-list refused: ${String(e)}`);
    }
  }

  children(): ChildInfo[] {
    const out: ChildInfo[] = [];
    for (const c of this.#byId.values()) out.push({ deviceId: c.deviceId, remote: c.link.remote, inflight: c.inflight });
    return out.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  }

  // ---- upstream ----

  #setUp(up: boolean): void {
    const was = this.#up;
    this.#up = up;
    this.stats.upstreamConnected = up;
    if (up && !was) {
      this.#subscribeAll();
      for (const [id, will] of this.#pendingWills) if (!this.#byId.has(id)) this.#publishWill(id, will);
      this.#pendingWills.clear();
      if (this.#rejoin.size > 0) {
        if (this.#graceTimer !== undefined) this.#p.timers.clear(this.#graceTimer);
        this.#graceTimer = this.#p.timers.set(() => this.#onRejoinGrace(), this.#rejoinGraceMs);
      }
    } else if (!up && was && this.work.actsLocally) {
      // Children stay (rules act on their data); what was in flight upstream will get no PUBACK now:
      // answer it locally so their sending goes on (each message stays in the child's outbox until a receipt).
      for (const c of this.#byId.values()) {
        for (const id of c.awaiting) this.#send(c, { type: FrameType.PubAck, packetId: id });
        c.awaiting.clear();
        c.inflight = 0;
      }
    } else if (!up && was) {
      // Children see their "broker" go: they reconnect with backoff and are refused until we are back.
      // (A node running rules keeps them: it acts on their data locally until the upstream returns.)
      for (const c of [...this.#all]) {
        if (c.state === ChildState.Admitted && c.will !== undefined) this.#rejoin.set(c.deviceId, c.will);
        this.#refuse(c, "gateway uplink lost", true);
      }
    }
  }

  #onRejoinGrace(): void {
    this.#graceTimer = undefined;
    if (!this.#up) return; // cut again: the next connect re-arms
    for (const [id, will] of this.#rejoin) if (!this.#byId.has(id)) this.#publishWill(id, will);
    this.#rejoin.clear();
  }

  #subscribeAll(): void {
    const client = this.#client;
    if (client === undefined) return;
    for (const id of this.#allow) for (const k of downlinkKinds) client.subscribe(deviceTopic(id, k), { qos: 0 });
  }

  #onDownlink(topic: string, payload: ArrayBuffer): void {
    const a = parseDeviceAddress(topic);
    if (a === null || a.deviceId === this.#id || !this.#allow.has(a.deviceId)) return; // ours (the runtime's) or not a child's
    const kind = downlinkKinds.indexOf(a.kind as Downlink);
    if (kind < 0) return;
    const c = this.#byId.get(a.deviceId);
    if (c === undefined || c.state !== ChildState.Admitted) {
      this.stats.downlinksDropped++;
      return;
    }
    this.stats.downlinks++;
    const bytes = new Uint8Array(payload);
    if (a.kind === Downlink.Receipt && this.work.aggregating) {
      try {
        const r = decodeReceiptEnvelope(bytes).receipt;
        if (r !== undefined) this.work.receipt(a.deviceId, r.epoch, [...r.confirmed, ...r.rejected]);
      } catch {
        // The child judges its receipts; a bad one only keeps our resend cache a little longer.
      }
    }
    this.#send(c, { type: FrameType.Down, kind, envelope: bytes });
  }

  #publishWill(childId: string, will: Uint8Array): void {
    const client = this.#client;
    if (client === undefined || !this.#up) {
      this.#pendingWills.set(childId, will);
      return;
    }
    this.stats.willsPublished++;
    client.publish(deviceTopic(childId, Uplink.Status), toArrayBuffer(withVia(will, this.#viaField)), { qos: 1, retain: true });
  }

  // ---- children ----

  #accept(link: StreamLink) {
    const c: ChildLink = {
      link, reader: new FrameReader(joinFrameBytesMax), state: ChildState.Joining, deviceId: "", will: undefined, keepaliveMs: 60_000,
      lastHeardMs: this.#p.clock.uptimeMs(), inflight: 0, awaiting: new Set(), quiet: false,
    };
    this.#all.add(c);
    if (this.#all.size > linksMax) {
      this.stats.refused++;
      this.#p.timers.set(() => this.#close(c, true), 0);
    }
    return {
      opened: () => {},
      data: (chunk: Uint8Array) => this.#onData(c, chunk),
      closed: () => this.#onClosed(c),
    };
  }

  #onData(c: ChildLink, chunk: Uint8Array): void {
    if (c.state === ChildState.Closed) return;
    const frames = c.reader.push(chunk);
    if (typeof frames === "string") return this.#bad(c, frames);
    c.lastHeardMs = this.#p.clock.uptimeMs();
    for (const f of frames) {
      if ((c.state as ChildState) === ChildState.Closed) return;
      this.#onFrame(c, f);
    }
  }

  #onFrame(c: ChildLink, f: Frame): void {
    switch (f.type) {
      case FrameType.Join: return this.#onJoin(c, f.deviceId, f.keepaliveS, f.will);
      case FrameType.Publish: return this.#onPublish(c, f.kind, f.retain, f.packetId, f.envelope);
      case FrameType.Ping:
        if (c.state !== ChildState.Admitted) return this.#bad(c, "ping before join");
        this.#send(c, { type: FrameType.Ping });
        return;
      case FrameType.Bye:
        c.quiet = true;
        this.#close(c, true);
        return;
      default:
        return this.#bad(c, `frame type ${f.type} from a child`);
    }
  }

  #onJoin(c: ChildLink, deviceId: string, keepaliveS: number, will: Uint8Array): void {
    if (c.state !== ChildState.Joining) return this.#bad(c, "second join");
    if (!this.#allow.has(deviceId)) return this.#refuse(c, `${deviceId} is not on the allow-list of ${this.#id}`, false);
    if (!this.#up && !this.work.actsLocally) return this.#refuse(c, "gateway uplink down", false);
    if (will.length > willBytesMax || (will.length > 0 && envelopeOf(will, deviceId) === undefined)) return this.#bad(c, "will is not an envelope of the child");
    const old = this.#byId.get(deviceId);
    if (old !== undefined) this.#close(old, true); // takeover: the device is alive, no will
    else if (this.#byId.size >= this.#childrenMax) return this.#refuse(c, `gateway full (${this.#childrenMax} children)`, false);
    c.state = ChildState.Admitted;
    c.deviceId = deviceId;
    c.will = will.length > 0 ? will : undefined;
    c.keepaliveMs = Math.max(1, keepaliveS) * 1000;
    c.reader.setFrameBytesMax(this.#frameBytesMax);
    this.#byId.set(deviceId, c);
    this.#rejoin.delete(deviceId);
    this.#pendingWills.delete(deviceId);
    this.stats.admitted++;
    this.stats.children = this.#byId.size;
    this.#send(c, { type: FrameType.Accept });
  }

  #onPublish(c: ChildLink, kind: number, retain: boolean, packetId: number, envelope: Uint8Array): void {
    if (c.state !== ChildState.Admitted) return this.#bad(c, "publish before join");
    const uplink = uplinkKinds[kind];
    if (uplink === undefined) return this.#bad(c, `uplink kind ${kind}`);
    if (c.inflight >= childInflightMax) return this.#bad(c, `more than ${childInflightMax} publishes in flight`);
    const env = envelopeOf(envelope, c.deviceId);
    if (env === undefined) return this.#bad(c, "envelope does not decode or names another device");
    const client = this.#client;
    const up = client !== undefined && this.#up;
    // Edge jobs see every telemetry envelope (rules act on it even while the upstream is down); an aggregate job rewrites it.
    let out = envelope;
    if (uplink === Uplink.Telemetry) {
      try {
        out = this.work.telemetry(c.deviceId, envelope, up);
      } catch (e) {
        // A job must never stop the relay: the envelope goes up as the child sent it.
        this.stats.jobErrors++;
        this.#p.log(LogLevel.Warn, `gateway ${this.#id}: edge job failed on ${c.deviceId}'s telemetry: ${String(e)}`);
      }
    }
    if (uplink === Uplink.Telemetry) {
      this.#sendLocalCommands();
      this.#countAlerts();
    }
    if (!up) {
      // Rules keep the children while the upstream is down: a local PubAck keeps their data flowing to the
      // rules (a PubAck is flow control only: the child keeps the message until a receipt, and resends it).
      if (this.work.actsLocally && packetId !== 0) this.#send(c, { type: FrameType.PubAck, packetId });
      return; // otherwise no PubAck: the cut closes this link next and the child resends
    }
    c.inflight++;
    if (packetId !== 0) c.awaiting.add(packetId);
    this.stats.forwarded++;
    const seq = env.seq;
    client.publish(deviceTopic(c.deviceId, uplink), toArrayBuffer(withVia(out, this.#viaField)), { qos: 1, retain }, (err) => {
      c.inflight--;
      if (err !== undefined && err !== null) {
        // No PUBACK: the child's outbox resends. A node running rules keeps its children
        // through the cut, so it answers locally to keep them sending (as in #setUp).
        if (this.work.actsLocally && c.state === ChildState.Admitted && c.awaiting.delete(packetId)) this.#send(c, { type: FrameType.PubAck, packetId });
        return;
      }
      if (uplink === Uplink.Telemetry) this.work.acked(c.deviceId, seq);
      // Not awaited any more: answered locally when the upstream dropped (see #setUp).
      if (c.state !== ChildState.Admitted || packetId === 0 || !c.awaiting.delete(packetId)) return;
      this.stats.pubAcks++;
      this.#send(c, { type: FrameType.PubAck, packetId });
    });
  }

  /** What the rules decided while the upstream was down: commands down the children's links. */
  #sendLocalCommands(): void {
    const cmdKind = downlinkKinds.indexOf(Downlink.Command);
    for (const a of this.work.takeLocalCommands()) {
      const c = this.#byId.get(a.deviceId);
      if (c === undefined || c.state !== ChildState.Admitted) continue;
      this.stats.localCommandsSent++;
      this.#send(c, { type: FrameType.Down, kind: cmdKind, envelope: a.envelope });
    }
  }

  #tick(): void {
    const now = this.#p.clock.uptimeMs();
    for (const c of [...this.#all]) {
      const limit = c.state === ChildState.Joining ? 10_000 : (c.keepaliveMs * 3) / 2;
      if (now - c.lastHeardMs > limit) {
        this.stats.keepaliveTimeouts++;
        this.#close(c, false);
      }
    }
  }

  #send(c: ChildLink, f: Frame): void {
    if (c.state === ChildState.Closed) return;
    if (c.link.send(encodeFrame(f))) return;
    this.stats.linkSendFailures++;
    this.#close(c, false);
  }

  #bad(c: ChildLink, why: string): void {
    this.stats.badFrames++;
    this.#p.log(LogLevel.Warn, `gateway ${this.#id}: bad frame from ${c.deviceId || c.link.remote}: ${why}`);
    this.#close(c, false);
  }

  #refuse(c: ChildLink, reason: string, quiet: boolean): void {
    if (c.state === ChildState.Joining) this.stats.refused++;
    this.#send(c, { type: FrameType.Refuse, reason });
    this.#close(c, quiet || c.state === ChildState.Joining);
  }

  /** Closes a link; an admitted child gets its will published unless `quiet`. */
  #close(c: ChildLink, quiet: boolean): void {
    if (c.state === ChildState.Closed) return;
    if (quiet) c.quiet = true;
    c.link.close();
    this.#onClosed(c);
  }

  #onClosed(c: ChildLink): void {
    if (c.state === ChildState.Closed) return;
    const was = c.state;
    c.state = ChildState.Closed;
    this.#all.delete(c);
    if (was !== ChildState.Admitted || this.#byId.get(c.deviceId) !== c) return;
    this.#byId.delete(c.deviceId);
    this.stats.children = this.#byId.size;
    if (!c.quiet && c.will !== undefined) this.#publishWill(c.deviceId, c.will);
  }
}

/** The allow-list the settings carry (setting "children"), or undefined when they have none. */
export function allowListFromSettings(settings: readonly Setting[]): string[] | undefined {
  for (const s of settings) if (s.key === childrenSettingKey) return s.value.split(",").map((x) => x.trim()).filter((x) => x.length > 0);
  return undefined;
}

function checkAllowList(ids: readonly string[], max: number): Set<string> {
  if (ids.length > max) throw new Error(`allow-list of ${ids.length} children above childrenMax ${max}`);
  for (const id of ids) if (!isDeviceId(id)) throw new Error(`allow-list: invalid device id ${JSON.stringify(id)}`);
  return new Set(ids);
}

/** The envelope if it decodes and names `deviceId`. */
function envelopeOf(bytes: Uint8Array, deviceId: string): Envelope | undefined {
  try {
    const env = decodeEnvelope(bytes);
    return env.deviceId === deviceId ? env : undefined;
  } catch {
    return undefined;
  }
}

/** Envelope field 8 (`via`, a string) as protobuf bytes: tag 0x42, length, UTF-8. */
function viaField(id: string): Uint8Array {
  const b = utf8Encode(id);
  const out = new Uint8Array(2 + b.length);
  out[0] = (8 << 3) | 2;
  out[1] = b.length; // device ids are <= 64 bytes: one varint byte
  out.set(b, 2);
  return out;
}

/**
 * The child's envelope bytes with `via` appended: protobuf keeps the last
 * value of a repeated scalar field, so this sets via without re-encoding
 * (the child's bytes, unknown fields included, travel unchanged).
 */
export function withVia(envelope: Uint8Array, field: Uint8Array): Uint8Array {
  const out = new Uint8Array(envelope.length + field.length);
  out.set(envelope, 0);
  out.set(field, envelope.length);
  return out;
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return (b.buffer as ArrayBuffer).slice(b.byteOffset, b.byteOffset + b.byteLength);
}
