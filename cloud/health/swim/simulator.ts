// Deterministic in-process simulation of a SWIM cluster (VOPR-style): every
// node is a pure SwimNode, the network is a seeded priority queue of
// deliveries with loss, delay and partitions, and nodes can crash, pause
// and resume. The same seed replays the same run; tests and the detector
// benchmark print it.

import { randomInt, seededRandom, type RandomSource } from "../../base";
import type { NodeId } from "../types";
import { SwimNode } from "./swim-node";
import type { MemberState, MembershipEvent, SwimConfig, SwimMessage } from "./types";

export interface SimNetworkConfig {
  /** Probability that a message is lost, in [0, 1). */
  lossRate: number;
  /** One-way delay, uniform in [delayMinMs, delayMaxMs]. */
  delayMinMs: number;
  delayMaxMs: number;
}

export interface SwimSimulationOptions {
  seed: number;
  /** Node ids; `n` generates "node-0".."node-(n-1)" instead. */
  nodeIds?: NodeId[];
  n?: number;
  swim?: Partial<SwimConfig>;
  network?: Partial<SimNetworkConfig>;
  /** Granularity of node ticks. */
  tickMs?: number;
  /** Keep every membership event (tests); the benchmark uses `onEvent`. */
  recordEvents?: boolean;
  onEvent?: (event: ObservedEvent) => void;
}

export interface ObservedEvent extends MembershipEvent {
  observer: NodeId;
}

export const NodeStatus = { Up: "up", Crashed: "crashed", Paused: "paused" } as const;
export type NodeStatus = (typeof NodeStatus)[keyof typeof NodeStatus];

interface SimNode {
  node: SwimNode;
  status: NodeStatus;
}

interface InFlight {
  atMs: number;
  order: number;
  message: SwimMessage;
}

/** Limit on messages in flight: a runaway protocol fails loudly. */
const IN_FLIGHT_MAX = 1_000_000;
/** Limit on recorded events. */
const RECORDED_EVENTS_MAX = 2_000_000;

export class SwimSimulation {
  readonly seed: number;
  readonly tickMs: number;
  readonly network: SimNetworkConfig;
  nowMs = 0;
  readonly events: ObservedEvent[] = [];
  readonly counters = { sent: 0, lost: 0, partitioned: 0, toDownNode: 0, delivered: 0 };
  readonly #random: RandomSource;
  readonly #swim: Partial<SwimConfig> | undefined;
  readonly #nodes = new Map<NodeId, SimNode>();
  readonly #queue: InFlight[] = [];
  #order = 0;
  #nextTickMs = 0;
  #partition: Map<NodeId, number> | undefined;
  readonly #recordEvents: boolean;
  readonly #onEvent: ((event: ObservedEvent) => void) | undefined;

  constructor(options: SwimSimulationOptions) {
    this.seed = options.seed;
    this.tickMs = options.tickMs ?? 10;
    this.network = { lossRate: 0, delayMinMs: 1, delayMaxMs: 5, ...options.network };
    validateNetwork(this.network);
    this.#random = seededRandom(options.seed);
    this.#swim = options.swim;
    this.#recordEvents = options.recordEvents ?? true;
    this.#onEvent = options.onEvent;
    const ids = options.nodeIds ?? Array.from({ length: options.n ?? 0 }, (_, i) => `node-${i}`);
    for (const id of ids) {
      const node = new SwimNode({ id, random: this.#forkRandom(), config: this.#swim, members: ids }, 0);
      this.#nodes.set(id, { node, status: NodeStatus.Up });
    }
  }

  ids(): NodeId[] {
    return [...this.#nodes.keys()];
  }

  liveIds(): NodeId[] {
    return this.ids().filter((id) => this.#nodes.get(id)?.status === NodeStatus.Up);
  }

  node(id: NodeId): SwimNode {
    const sim = this.#nodes.get(id);
    if (sim === undefined) throw new Error(`SwimSimulation: unknown node ${id}`);
    return sim.node;
  }

  status(id: NodeId): NodeStatus {
    return (this.#nodes.get(id) ?? fail(`unknown node ${id}`)).status;
  }

  /** What `observer` believes about `target`. */
  viewOf(observer: NodeId, target: NodeId): MemberState | undefined {
    return this.node(observer).memberState(target);
  }

  /** Start a new node that knows nobody and joins through `seeds`. */
  addNode(id: NodeId, seeds: NodeId[]): SwimNode {
    if (this.#nodes.has(id)) throw new Error(`SwimSimulation: node ${id} exists`);
    const node = new SwimNode({ id, random: this.#forkRandom(), config: this.#swim }, this.nowMs);
    this.#nodes.set(id, { node, status: NodeStatus.Up });
    node.join(seeds, this.nowMs);
    this.#flush(id, node);
    return node;
  }

  crash(id: NodeId): void {
    this.#setStatus(id, NodeStatus.Crashed);
  }

  /** Stop ticking and receiving (a long GC pause, a frozen VM). */
  pause(id: NodeId): void {
    this.#setStatus(id, NodeStatus.Paused);
  }

  resume(id: NodeId): void {
    if (this.status(id) !== NodeStatus.Paused) throw new Error(`SwimSimulation: ${id} is not paused`);
    this.#setStatus(id, NodeStatus.Up);
  }

  leave(id: NodeId): void {
    const node = this.node(id);
    node.leave(this.nowMs);
    this.#flush(id, node);
  }

  /** Messages cross only between members of the same group. */
  partition(groups: NodeId[][]): void {
    this.#partition = new Map();
    groups.forEach((group, index) => group.forEach((id) => this.#partition?.set(id, index)));
  }

  heal(): void {
    this.#partition = undefined;
  }

  setLossRate(lossRate: number): void {
    this.network.lossRate = lossRate;
    validateNetwork(this.network);
  }

  runFor(durationMs: number): void {
    this.runUntil(this.nowMs + durationMs);
  }

  runUntil(endMs: number): void {
    for (;;) {
      const head = this.#queue[0];
      const nextDeliveryMs = head === undefined ? Infinity : head.atMs;
      const t = Math.min(nextDeliveryMs, this.#nextTickMs);
      if (t > endMs) break;
      this.nowMs = t;
      if (nextDeliveryMs <= this.#nextTickMs) this.#deliver(this.#pop());
      else this.#tickAll();
    }
    this.nowMs = Math.max(this.nowMs, endMs);
  }

  /** Run until `done()` holds (checked every tick) or `timeoutMs` passes; true if it held. */
  runUntilCondition(done: () => boolean, timeoutMs: number): boolean {
    const endMs = this.nowMs + timeoutMs;
    while (this.nowMs < endMs) {
      if (done()) return true;
      this.runUntil(Math.min(endMs, this.nowMs + this.tickMs));
    }
    return done();
  }

  #tickAll(): void {
    for (const [id, sim] of this.#nodes) {
      if (sim.status !== NodeStatus.Up) continue;
      sim.node.tick(this.nowMs);
      this.#flush(id, sim.node);
    }
    this.#nextTickMs += this.tickMs;
  }

  #deliver(inFlight: InFlight): void {
    const message = inFlight.message;
    const sim = this.#nodes.get(message.to);
    if (sim === undefined || sim.status !== NodeStatus.Up) {
      this.counters.toDownNode++;
      return;
    }
    if (!this.#connected(message.from, message.to)) {
      this.counters.partitioned++;
      return;
    }
    this.counters.delivered++;
    sim.node.step(message, this.nowMs);
    this.#flush(message.to, sim.node);
  }

  #flush(id: NodeId, node: SwimNode): void {
    for (const message of node.takeMessages()) this.#send(message);
    for (const event of node.takeEvents()) {
      const observed: ObservedEvent = { observer: id, ...event };
      if (this.#recordEvents) {
        if (this.events.length >= RECORDED_EVENTS_MAX) throw new Error("SwimSimulation: recorded events limit reached");
        this.events.push(observed);
      }
      this.#onEvent?.(observed);
    }
  }

  #send(message: SwimMessage): void {
    this.counters.sent++;
    if (this.network.lossRate > 0 && this.#random() < this.network.lossRate) {
      this.counters.lost++;
      return;
    }
    if (!this.#connected(message.from, message.to)) {
      this.counters.partitioned++;
      return;
    }
    const { delayMinMs, delayMaxMs } = this.network;
    const delayMs = delayMinMs + randomInt(this.#random, delayMaxMs - delayMinMs + 1);
    this.#push({ atMs: this.nowMs + delayMs, order: this.#order++, message });
  }

  #connected(a: NodeId, b: NodeId): boolean {
    if (this.#partition === undefined) return true;
    return this.#partition.get(a) === this.#partition.get(b);
  }

  #setStatus(id: NodeId, status: NodeStatus): void {
    const sim = this.#nodes.get(id) ?? fail(`unknown node ${id}`);
    sim.status = status;
  }

  #forkRandom(): RandomSource {
    return seededRandom(Math.floor(this.#random() * 0x7fffffff));
  }

  // Binary min-heap on (atMs, order): deterministic order for equal times.
  #push(item: InFlight): void {
    if (this.#queue.length >= IN_FLIGHT_MAX) throw new Error("SwimSimulation: in-flight message limit reached");
    const q = this.#queue;
    q.push(item);
    let i = q.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(q[i] as InFlight, q[parent] as InFlight)) break;
      [q[i], q[parent]] = [q[parent] as InFlight, q[i] as InFlight];
      i = parent;
    }
  }

  #pop(): InFlight {
    const q = this.#queue;
    const top = q[0] ?? fail("pop from an empty queue");
    const last = q.pop() as InFlight;
    if (q.length > 0) {
      q[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < q.length && before(q[l] as InFlight, q[m] as InFlight)) m = l;
        if (r < q.length && before(q[r] as InFlight, q[m] as InFlight)) m = r;
        if (m === i) break;
        [q[i], q[m]] = [q[m] as InFlight, q[i] as InFlight];
        i = m;
      }
    }
    return top;
  }
}

function before(a: InFlight, b: InFlight): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.order < b.order);
}

function validateNetwork(network: SimNetworkConfig): void {
  if (!(network.lossRate >= 0 && network.lossRate < 1)) throw new Error(`SwimSimulation: lossRate must be in [0, 1), got ${network.lossRate}`);
  if (!(Number.isSafeInteger(network.delayMinMs) && network.delayMinMs >= 0 && network.delayMaxMs >= network.delayMinMs)) {
    throw new Error(`SwimSimulation: need integer 0 <= delayMinMs <= delayMaxMs`);
  }
}

function fail(message: string): never {
  throw new Error(`SwimSimulation: ${message}`);
}
