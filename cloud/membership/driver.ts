// MembershipDriver: the I/O shell around the pure detectors. It owns the
// timers, publishes this node's heartbeat on xsfleet.v1.cluster.hb.<self>,
// feeds every peer's heartbeat to a HeartbeatManager (timeout or
// phi-accrual), runs a SwimNode over per-member NATS subjects, and turns the
// combined verdicts into presence events on
// xsfleet.v1.cluster.events.<node>.<up|suspect|down>, history entries, and
// local listener calls. Heartbeats double as discovery: the first heartbeat
// of an unknown node makes SWIM join it.

import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { assertNodeId, monotonicNowMs, seededRandom, type RandomSource } from "../base";
import { HeartbeatManager, DetectorKind, Liveness, createDetector, type DetectorConfig, type FailureDetector } from "../health";
import { SwimNode, type SwimConfig, type SwimNodeStats } from "../health/swim";
import { decodeHeartbeat, decodeSwim, encodeHeartbeat, encodeSwim, DEFAULT_CODEC_LIMITS, type CodecLimits } from "./codec";
import { RecoveryHistory } from "./history";
import { localResources } from "./resources";
import { allHeartbeatsSubject, clusterEventSubject, heartbeatSubject, swimSubject } from "../subjects";
import { HistoryKind, MemberStatus, type ClusterHeartbeat, type MemberView, type NodeResources } from "./types";
import { combineStatus, statusCause } from "./view";

export interface MembershipOptions {
  nc: NatsConnection;
  nodeId: string;
  heartbeatIntervalMs?: number;
  /** Period of detector ticks and SWIM ticks. */
  tickIntervalMs?: number;
  /** Heartbeat detector; default phi-accrual tuned to the interval. */
  detector?: DetectorConfig;
  /** Grace in `suspect` before `down`. */
  downAfterMs?: number;
  /** SWIM settings; false disables SWIM (heartbeats only). */
  swim?: Partial<SwimConfig> | false;
  membersMax?: number;
  resources?: () => NodeResources;
  history?: RecoveryHistory;
  random?: RandomSource;
  nowMs?: () => number;
  codecLimits?: CodecLimits;
}

export interface MemberStatusEvent {
  nodeId: string;
  status: MemberStatus;
  previous: MemberStatus | undefined;
  atMs: number;
  cause: "heartbeat" | "swim" | "both";
  lastHeartbeatMs: number | undefined;
  /** atMs - lastHeartbeatMs for a down verdict: how long the detection took. */
  detectionMs: number | undefined;
  roles: readonly string[];
  replacing: readonly string[];
}

export interface MembershipStats {
  heartbeatsSent: number;
  heartbeatsReceived: number;
  swimSent: number;
  swimReceived: number;
  decodeErrors: number;
  membersRejected: number;
  /** Status changes this node saw (a member becoming suspect, down, up again). */
  becameSuspect: number;
  becameDown: number;
  becameUp: number;
}

interface Peer {
  lastHeartbeat: ClusterHeartbeat;
  status: MemberStatus | undefined;
}

export function defaultCloudDetector(heartbeatIntervalMs: number, membersMax: number): DetectorConfig {
  return {
    kind: DetectorKind.PhiAccrual,
    threshold: 8,
    maxSampleSize: 200,
    minStdDeviationMs: Math.max(20, Math.floor(heartbeatIntervalMs / 4)),
    acceptableHeartbeatPauseMs: 2 * heartbeatIntervalMs,
    firstHeartbeatEstimateMs: heartbeatIntervalMs,
    nodesMax: membersMax,
  };
}

/** SWIM periods scaled to the heartbeat interval, so both detectors answer on a similar time scale. */
export function defaultSwimConfig(heartbeatIntervalMs: number, membersMax: number): Partial<SwimConfig> {
  const probeIntervalMs = Math.max(20, 2 * heartbeatIntervalMs);
  return {
    probeIntervalMs,
    probeTimeoutMs: Math.max(10, Math.floor(probeIntervalMs / 2)),
    gossipIntervalMs: Math.max(10, heartbeatIntervalMs),
    pushPullIntervalMs: 30 * probeIntervalMs,
    reconnectIntervalMs: 30 * probeIntervalMs,
    gossipToTheDeadMs: 30 * probeIntervalMs,
    deadRetentionMs: 300 * probeIntervalMs,
    membersMax,
  };
}

export class MembershipDriver {
  readonly nodeId: string;
  readonly history: RecoveryHistory;
  readonly heartbeatIntervalMs: number;
  readonly #nc: NatsConnection;
  readonly #tickIntervalMs: number;
  readonly #membersMax: number;
  readonly #now: () => number;
  readonly #resources: () => NodeResources;
  readonly #limits: CodecLimits;
  readonly #manager: HeartbeatManager;
  /** Same detector config as the manager's, fed the same arrivals: read for suspicion levels. */
  readonly #detector: FailureDetector;
  readonly #swim: SwimNode | undefined;
  readonly #startedAtMs: number;
  // Invariant: #peers.size <= membersMax; never holds this node.
  readonly #peers = new Map<string, Peer>();
  readonly #listeners = new Set<(e: MemberStatusEvent) => void>();
  readonly #subs: Subscription[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  #seq = 0;
  #roles: readonly string[] = [];
  #replacing: readonly string[] = [];
  #leases: readonly string[] = [];
  #running = false;
  readonly stats: MembershipStats = {
    heartbeatsSent: 0, heartbeatsReceived: 0, swimSent: 0, swimReceived: 0, decodeErrors: 0, membersRejected: 0, becameSuspect: 0, becameDown: 0, becameUp: 0,
  };
  readonly #rttListeners = new Set<(seconds: number) => void>();

  constructor(opts: MembershipOptions) {
    this.nodeId = assertNodeId(opts.nodeId);
    this.#nc = opts.nc;
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 1000;
    this.#tickIntervalMs = opts.tickIntervalMs ?? Math.max(10, Math.floor(this.heartbeatIntervalMs / 4));
    this.#membersMax = opts.membersMax ?? 256;
    this.#now = opts.nowMs ?? monotonicNowMs;
    this.#resources = opts.resources ?? localResources;
    this.#limits = opts.codecLimits ?? DEFAULT_CODEC_LIMITS;
    this.history = opts.history ?? new RecoveryHistory(this.nodeId, undefined, this.#now);
    const now = this.#now();
    this.#startedAtMs = now;
    const detector = opts.detector ?? defaultCloudDetector(this.heartbeatIntervalMs, this.#membersMax);
    this.#detector = createDetector({ ...detector, nodesMax: this.#membersMax });
    this.#manager = new HeartbeatManager({
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      nodesMax: this.#membersMax,
      eventsMax: 4 * this.#membersMax,
      classes: {
        cloud: {
          detector,
          downAfterMs: opts.downAfterMs ?? 2 * this.heartbeatIntervalMs,
          firstHeartbeatTimeoutMs: 10 * this.heartbeatIntervalMs,
        },
      },
    });
    if (opts.swim !== false) {
      const random = opts.random ?? seededRandom(Math.floor(Math.random() * 2 ** 31));
      this.#swim = new SwimNode({ id: this.nodeId, random, config: { ...defaultSwimConfig(this.heartbeatIntervalMs, this.#membersMax), ...(opts.swim ?? {}) } }, now);
    }
  }

  /** Roles, replacements and leases to announce; a change is announced at once (a heartbeat now), not at the next beat. */
  setAnnounced(a: { roles?: readonly string[]; replacing?: readonly string[]; leases?: readonly string[] }): void {
    const before = JSON.stringify([this.#roles, this.#replacing, this.#leases]);
    if (a.roles) this.#roles = [...a.roles];
    if (a.replacing) this.#replacing = [...a.replacing];
    if (a.leases) this.#leases = [...a.leases];
    if (this.#running && JSON.stringify([this.#roles, this.#replacing, this.#leases]) !== before) this.#sendHeartbeat();
  }

  get announced(): { roles: readonly string[]; replacing: readonly string[]; leases: readonly string[] } {
    return { roles: this.#roles, replacing: this.#replacing, leases: this.#leases };
  }

  onStatus(listener: (e: MemberStatusEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    if (this.#running) throw new Error("MembershipDriver already started");
    this.#running = true;
    this.#subs.push(this.#nc.subscribe(allHeartbeatsSubject, { callback: (err, msg) => { if (!err) this.#onHeartbeat(msg.data); } }));
    if (this.#swim) this.#subs.push(this.#nc.subscribe(swimSubject(this.nodeId), { callback: (err, msg) => { if (!err) this.#onSwim(msg.data); } }));
    this.#sendHeartbeat();
    this.#timers.push(setInterval(() => this.#sendHeartbeat(), this.heartbeatIntervalMs));
    this.#timers.push(setInterval(() => this.#tick(), this.#tickIntervalMs));
  }

  /** Announces a SWIM leave (so peers mark us left at once), then stops. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
    if (this.#swim && !this.#nc.isClosed()) {
      this.#swim.leave(this.#now());
      // Gossip the leave directly to every known member rather than waiting for rounds.
      for (const m of this.#swim.members()) {
        if (m.state === "alive" || m.state === "suspect") {
          this.#publishSwim({ type: "gossip", from: this.nodeId, to: m.id, updates: [{ state: "dead", node: this.nodeId, incarnation: this.#swim.incarnation, from: this.nodeId }] });
        }
      }
      this.#flushSwim();
    }
    for (const s of this.#subs) s.unsubscribe();
    this.#subs.length = 0;
    if (!this.#nc.isClosed()) await this.#nc.flush().catch(() => undefined);
  }

  /** SWIM's probe counters (undefined without SWIM). */
  get swimStats(): Readonly<SwimNodeStats> | undefined {
    return this.#swim?.stats;
  }

  /** Called with each acked SWIM probe's round-trip time, in seconds (metrics). */
  onProbeRtt(listener: (seconds: number) => void): () => void {
    this.#rttListeners.add(listener);
    return () => this.#rttListeners.delete(listener);
  }

  members(): MemberView[] {
    const now = this.#now();
    const self: MemberView = {
      nodeId: this.nodeId, presence: Liveness.Up, sinceMs: this.#startedAtMs, swim: this.#swim ? "alive" : undefined,
      suspicion: 0, threshold: 0, status: MemberStatus.Up, lastHeartbeatMs: now, roles: this.#roles, replacing: this.#replacing,
      leases: this.#leases, resources: this.#resources(), self: true,
    };
    const peers = [...this.#peers.keys()].sort().map((id) => this.#view(id, now));
    return [self, ...peers];
  }

  member(nodeId: string): MemberView | undefined {
    if (nodeId === this.nodeId) return this.members()[0];
    return this.#peers.has(nodeId) ? this.#view(nodeId, this.#now()) : undefined;
  }

  #view(id: string, now: number): MemberView {
    const peer = this.#peers.get(id)!;
    const p = this.#manager.presence(id)!;
    const swim = this.#swim?.memberState(id);
    return {
      nodeId: id, presence: p.presence, sinceMs: p.sinceMs, swim, suspicion: round3(this.#detector.suspicion(id, now)), threshold: this.#detector.threshold,
      status: combineStatus(p.presence, swim), lastHeartbeatMs: this.#detector.lastHeartbeatMs(id),
      roles: peer.lastHeartbeat.roles, replacing: peer.lastHeartbeat.replacing, leases: peer.lastHeartbeat.leases,
      resources: peer.lastHeartbeat.resources, self: false,
    };
  }

  #sendHeartbeat(): void {
    if (this.#nc.isClosed()) return;
    const hb: ClusterHeartbeat = {
      v: 1, nodeId: this.nodeId, startedAtMs: this.#startedAtMs, seq: ++this.#seq, sentAtMs: this.#now(),
      roles: this.#roles, replacing: this.#replacing, leases: this.#leases, resources: this.#resources(),
    };
    this.#nc.publish(heartbeatSubject(this.nodeId), encodeHeartbeat(hb, this.#limits));
    this.stats.heartbeatsSent++;
  }

  #onHeartbeat(data: Uint8Array): void {
    if (!this.#running) return;
    const d = decodeHeartbeat(data, this.#limits);
    if (!d.ok) {
      this.stats.decodeErrors++;
      return;
    }
    const hb = d.value;
    if (hb.nodeId === this.nodeId) return;
    const now = this.#now();
    let peer = this.#peers.get(hb.nodeId);
    if (!peer) {
      if (this.#peers.size >= this.#membersMax - 1 || !this.#manager.register(hb.nodeId, "cloud", now).ok) {
        this.stats.membersRejected++;
        return;
      }
      peer = { lastHeartbeat: hb, status: undefined };
      this.#peers.set(hb.nodeId, peer);
      if (this.#swim && this.#swim.memberState(hb.nodeId) === undefined) this.#swim.join([hb.nodeId], now);
    } else {
      const last = peer.lastHeartbeat;
      // Older heartbeat of the same incarnation (reordered): keep the newer one.
      if (hb.startedAtMs === last.startedAtMs && hb.seq <= last.seq) return;
      if (hb.startedAtMs < last.startedAtMs) return;
      peer.lastHeartbeat = hb;
    }
    this.stats.heartbeatsReceived++;
    this.#manager.heartbeat(hb.nodeId, now);
    this.#detector.heartbeat(hb.nodeId, now);
    this.#evaluate(now);
    this.#flushSwim();
  }

  #onSwim(data: Uint8Array): void {
    if (!this.#running || !this.#swim) return;
    const d = decodeSwim(data, this.#limits);
    if (!d.ok) {
      this.stats.decodeErrors++;
      return;
    }
    this.stats.swimReceived++;
    const now = this.#now();
    this.#swim.step(d.value, now);
    this.#flushSwim();
    this.#evaluate(now);
  }

  #tick(): void {
    if (!this.#running) return;
    const now = this.#now();
    this.#manager.tick(now);
    this.#swim?.tick(now);
    this.#flushSwim();
    this.#evaluate(now);
  }

  #flushSwim(): void {
    if (!this.#swim) return;
    for (const m of this.#swim.takeMessages()) this.#publishSwim(m);
    const rtts = this.#swim.takeProbeRtts();
    if (this.#rttListeners.size > 0) for (const ms of rtts) for (const l of this.#rttListeners) l(ms / 1000);
  }

  #publishSwim(m: Parameters<typeof encodeSwim>[0]): void {
    if (this.#nc.isClosed()) return;
    this.#nc.publish(swimSubject(m.to), encodeSwim(m, this.#limits));
    this.stats.swimSent++;
  }

  /** Recomputes every peer's combined status; emits on change. */
  #evaluate(now: number): void {
    // The cores' outboxes are bounded: drain them even though status is recomputed from state.
    this.#manager.takeEvents();
    this.#swim?.takeEvents();
    for (const [id, peer] of this.#peers) {
      const p = this.#manager.presence(id);
      if (!p) continue;
      const swim = this.#swim?.memberState(id);
      const status = combineStatus(p.presence, swim);
      if (status === peer.status) continue;
      const previous = peer.status;
      peer.status = status;
      this.#emit(id, peer, status, previous, statusCause(p.presence, swim, status), now);
    }
  }

  #emit(id: string, peer: Peer, status: MemberStatus, previous: MemberStatus | undefined, cause: MemberStatusEvent["cause"], now: number): void {
    const lastHeartbeatMs = this.#detector.lastHeartbeatMs(id);
    const event: MemberStatusEvent = {
      nodeId: id, status, previous, atMs: now, cause, lastHeartbeatMs,
      detectionMs: status === MemberStatus.Down && lastHeartbeatMs !== undefined ? now - lastHeartbeatMs : undefined,
      roles: peer.lastHeartbeat.roles, replacing: peer.lastHeartbeat.replacing,
    };
    if (status === MemberStatus.Suspect) this.stats.becameSuspect++;
    else if (status === MemberStatus.Down) this.stats.becameDown++;
    else if (previous !== undefined) this.stats.becameUp++;
    this.history.record(HistoryKind.Detection, id, status, { previous, cause, lastHeartbeatMs, detectionMs: event.detectionMs }, now);
    if (!this.#nc.isClosed()) {
      this.#nc.publish(clusterEventSubject(id, status), new TextEncoder().encode(JSON.stringify({ ...event, observer: this.nodeId })));
    }
    for (const l of this.#listeners) l(event);
  }
}

function round3(x: number): number {
  // phi reaches Infinity after a long silence; JSON has no Infinity.
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : SUSPICION_CAP;
}

/** Suspicion reported for an infinitely suspected node (JSON has no Infinity). */
export const SUSPICION_CAP = 1e9;
