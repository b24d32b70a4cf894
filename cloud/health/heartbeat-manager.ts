// Pure heartbeat manager: which nodes/devices are monitored, by which
// detector (one per class of node), and their liveness. Inputs are heartbeat
// arrivals and ticks with explicit times; outputs are liveness-change events
// collected in an outbox the caller drains (`takeEvents`). The cloud wires it
// to NATS (heartbeat subjects in, liveness events out); nothing here does I/O.
//
// Liveness per node:  unknown --first heartbeat--> up
//                     up --detector unavailable--> suspect --downAfterMs--> down
//                     suspect|down --heartbeat--> up
//                     unknown --firstHeartbeatTimeoutMs--> down

import { createDetector } from "./detectors";
import { assertTimeMs } from "./limits";
import { HeartbeatOutcome, type DetectorConfig, type FailureDetector, type NodeId } from "./types";

/** A failure detector's verdict on a monitored node (a cloud node, or a
 *  device tracked by its heartbeats). Not DevicePresence (shared/), which
 *  says whether a device's MQTT session is up. */
export const Liveness = Object.freeze({
  Unknown: "unknown",
  Up: "up",
  Suspect: "suspect",
  Down: "down",
} as const);
export type Liveness = (typeof Liveness)[keyof typeof Liveness];

export interface NodeClassConfig {
  /** Its nodesMax is replaced by the manager's: one detector serves the whole class. */
  detector: DetectorConfig;
  /** How long a node stays `suspect` before it is declared `down`. 0 = at once. */
  downAfterMs: number;
  /** A registered node never heard from is declared `down` after this. */
  firstHeartbeatTimeoutMs: number;
}

export interface HeartbeatManagerConfig {
  /** Interval the monitored nodes are asked to heartbeat at (told to devices). */
  heartbeatIntervalMs: number;
  /** Detector settings per class of node, e.g. "sensor", "gateway", "cloud". */
  classes: Readonly<Record<string, NodeClassConfig>>;
  /** Monitored nodes, all classes together. */
  nodesMax: number;
  /** Undrained events; reaching it means the caller stopped draining (a bug). */
  eventsMax: number;
}

export interface LivenessEvent {
  type: typeof Liveness.Up | typeof Liveness.Suspect | typeof Liveness.Down;
  nodeId: NodeId;
  nodeClass: string;
  /** When the node entered this presence (as observed by the manager). */
  sinceMs: number;
  /** Latest heartbeat seen from the node, if any. */
  lastHeartbeatMs: number | undefined;
  /** Detector suspicion level when the event was emitted. */
  suspicion: number;
}

export const HeartbeatRejection = {
  UnknownNode: "unknown-node",
  Stale: "stale",
  DetectorFull: "detector-full",
} as const;
export type HeartbeatRejection = (typeof HeartbeatRejection)[keyof typeof HeartbeatRejection];

export const RegisterRejection = {
  NodesMax: "nodes-max",
  UnknownClass: "unknown-class",
  AlreadyRegistered: "already-registered",
} as const;
export type RegisterRejection = (typeof RegisterRejection)[keyof typeof RegisterRejection];

export type Result<E> = { ok: true } | { ok: false; reason: E };

interface MonitoredNode {
  nodeClass: string;
  presence: Liveness;
  sinceMs: number;
  registeredMs: number;
}

export interface HeartbeatManagerStats {
  heartbeatsAccepted: number;
  heartbeatsRejected: Record<HeartbeatRejection, number>;
}

export class HeartbeatManager {
  readonly config: Readonly<HeartbeatManagerConfig>;
  // Invariant: #nodes.size <= config.nodesMax; every node's class has a detector.
  readonly #nodes = new Map<NodeId, MonitoredNode>();
  readonly #detectors = new Map<string, FailureDetector>();
  // Invariant: #events.length <= config.eventsMax.
  #events: LivenessEvent[] = [];
  readonly #stats: HeartbeatManagerStats = {
    heartbeatsAccepted: 0,
    heartbeatsRejected: { "unknown-node": 0, stale: 0, "detector-full": 0 },
  };

  constructor(config: HeartbeatManagerConfig) {
    validateManagerConfig(config);
    this.config = Object.freeze({ ...config, classes: Object.freeze({ ...config.classes }) });
    for (const [name, cls] of Object.entries(config.classes)) {
      // Each class gets its own detector, sized for the whole manager.
      this.#detectors.set(name, createDetector({ ...cls.detector, nodesMax: config.nodesMax }));
    }
  }

  get size(): number {
    return this.#nodes.size;
  }

  get stats(): Readonly<HeartbeatManagerStats> {
    return this.#stats;
  }

  register(nodeId: NodeId, nodeClass: string, nowMs: number): Result<RegisterRejection> {
    assertTimeMs("HeartbeatManager.register", nowMs);
    if (this.#nodes.has(nodeId)) return { ok: false, reason: RegisterRejection.AlreadyRegistered };
    if (!this.#detectors.has(nodeClass)) return { ok: false, reason: RegisterRejection.UnknownClass };
    if (this.#nodes.size >= this.config.nodesMax) return { ok: false, reason: RegisterRejection.NodesMax };
    this.#nodes.set(nodeId, { nodeClass, presence: Liveness.Unknown, sinceMs: nowMs, registeredMs: nowMs });
    return { ok: true };
  }

  /** Stop monitoring (decommission, clean leave). Emits no event. */
  unregister(nodeId: NodeId): boolean {
    const node = this.#nodes.get(nodeId);
    if (node === undefined) return false;
    this.#detectorOf(node).remove(nodeId);
    this.#nodes.delete(nodeId);
    return true;
  }

  presence(nodeId: NodeId): { presence: Liveness; sinceMs: number; nodeClass: string } | undefined {
    const node = this.#nodes.get(nodeId);
    return node && { presence: node.presence, sinceMs: node.sinceMs, nodeClass: node.nodeClass };
  }

  heartbeat(nodeId: NodeId, nowMs: number): Result<HeartbeatRejection> {
    assertTimeMs("HeartbeatManager.heartbeat", nowMs);
    const node = this.#nodes.get(nodeId);
    if (node === undefined) return this.#reject(HeartbeatRejection.UnknownNode);
    const detector = this.#detectorOf(node);
    const outcome = detector.heartbeat(nodeId, nowMs);
    if (outcome === HeartbeatOutcome.RejectedStale) return this.#reject(HeartbeatRejection.Stale);
    if (outcome === HeartbeatOutcome.RejectedNodesMax) return this.#reject(HeartbeatRejection.DetectorFull);
    this.#stats.heartbeatsAccepted++;
    if (node.presence !== Liveness.Up) this.#transition(nodeId, node, Liveness.Up, nowMs, detector);
    return { ok: true };
  }

  /** Evaluate every monitored node at `nowMs`; emits events for changes. */
  tick(nowMs: number): void {
    assertTimeMs("HeartbeatManager.tick", nowMs);
    for (const [nodeId, node] of this.#nodes) {
      const detector = this.#detectorOf(node);
      const cls = this.config.classes[node.nodeClass] as NodeClassConfig;
      switch (node.presence) {
        case Liveness.Unknown:
          if (nowMs - node.registeredMs >= cls.firstHeartbeatTimeoutMs) {
            this.#transition(nodeId, node, Liveness.Down, nowMs, detector);
          }
          break;
        case Liveness.Up:
          if (!detector.isAvailable(nodeId, nowMs)) {
            this.#transition(nodeId, node, Liveness.Suspect, nowMs, detector);
            if (cls.downAfterMs === 0) this.#transition(nodeId, node, Liveness.Down, nowMs, detector);
          }
          break;
        case Liveness.Suspect:
          if (nowMs - node.sinceMs >= cls.downAfterMs) this.#transition(nodeId, node, Liveness.Down, nowMs, detector);
          break;
        case Liveness.Down:
          break;
      }
    }
  }

  /** Drain the outbox of presence events, oldest first. */
  takeEvents(): LivenessEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  #transition(nodeId: NodeId, node: MonitoredNode, to: LivenessEvent["type"], nowMs: number, detector: FailureDetector): void {
    if (node.presence === to) throw new Error(`HeartbeatManager: ${nodeId} is already ${to}`);
    if (this.#events.length >= this.config.eventsMax) {
      throw new Error(`HeartbeatManager: eventsMax (${this.config.eventsMax}) undrained events; call takeEvents()`);
    }
    node.presence = to;
    node.sinceMs = nowMs;
    this.#events.push({
      type: to,
      nodeId,
      nodeClass: node.nodeClass,
      sinceMs: nowMs,
      lastHeartbeatMs: detector.lastHeartbeatMs(nodeId),
      suspicion: detector.suspicion(nodeId, nowMs),
    });
  }

  #detectorOf(node: MonitoredNode): FailureDetector {
    const detector = this.#detectors.get(node.nodeClass);
    if (detector === undefined) throw new Error(`HeartbeatManager: no detector for class ${node.nodeClass}`);
    return detector;
  }

  #reject(reason: HeartbeatRejection): Result<HeartbeatRejection> {
    this.#stats.heartbeatsRejected[reason]++;
    return { ok: false, reason };
  }
}

function validateManagerConfig(config: HeartbeatManagerConfig): void {
  const fail = (message: string): never => {
    throw new Error(`invalid heartbeat-manager config: ${message}`);
  };
  const positiveInt = (x: number): boolean => Number.isSafeInteger(x) && x > 0;
  if (!positiveInt(config.heartbeatIntervalMs)) fail(`heartbeatIntervalMs must be a positive integer, got ${config.heartbeatIntervalMs}`);
  if (!positiveInt(config.nodesMax)) fail(`nodesMax must be a positive integer, got ${config.nodesMax}`);
  if (!positiveInt(config.eventsMax)) fail(`eventsMax must be a positive integer, got ${config.eventsMax}`);
  const names = Object.keys(config.classes);
  if (names.length === 0) fail("at least one node class is required");
  for (const name of names) {
    const cls = config.classes[name] as NodeClassConfig;
    if (!(Number.isSafeInteger(cls.downAfterMs) && cls.downAfterMs >= 0)) fail(`class ${name}: downAfterMs must be an integer >= 0`);
    if (!positiveInt(cls.firstHeartbeatTimeoutMs)) fail(`class ${name}: firstHeartbeatTimeoutMs must be a positive integer`);
  }
}
