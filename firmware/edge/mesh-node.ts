// A mesh peer on a platform: the pure MeshPeer (mesh.ts) over a datagram
// socket (platform.datagrams: UDP on the device and the host, in-memory in
// the simulator), one gossip round every `gossipIntervalMs`. Datagrams are
// handled as they arrive (decode + merge are bounded by mesh.ts); from an
// address outside the peer list they are dropped and counted.
import { CounterKind, createCounter, type Counter } from "../../shared/proto/xsfleet.gen";
import type { DatagramSocket, Platform, TimerId } from "../platform";
import { MeshPeer, type MeshPeerOptions } from "./mesh";
import { meshCounterPrefix } from "../../shared/crdt/mesh-names";

export const gossipIntervalMinMs = 50;
/** Prefix of mesh counters in a device's CounterState (apart from the device's own counters). */
export { meshCounterPrefix };

export interface MeshNodeOptions extends Omit<MeshPeerOptions, "random"> {
  /** UDP port to bind (0: any). */
  port: number;
  gossipIntervalMs: number;
}

export class MeshNode {
  readonly peer: MeshPeer;
  readonly #p: Platform;
  readonly #opts: MeshNodeOptions;
  readonly #known: Set<string>;
  #socket: DatagramSocket | undefined;
  #timer: TimerId | undefined;
  strangers = 0;

  constructor(platform: Platform, opts: MeshNodeOptions) {
    if (platform.datagrams === undefined) throw new Error("a mesh node needs platform.datagrams");
    if (!(opts.gossipIntervalMs >= gossipIntervalMinMs)) throw new Error(`gossipIntervalMs must be >= ${gossipIntervalMinMs}`);
    this.#p = platform;
    this.#opts = opts;
    this.#known = new Set(opts.peers);
    this.peer = new MeshPeer({ id: opts.id, peers: opts.peers, random: platform.random, ...(opts.fanout !== undefined ? { fanout: opts.fanout } : {}) });
  }

  get port(): number {
    return this.#socket?.port ?? this.#opts.port;
  }

  start(): void {
    if (this.#socket !== undefined) throw new Error("mesh node already started");
    this.#socket = this.#p.datagrams!.open(this.#opts.port, (from, bytes) => this.#onDatagram(from, bytes));
    this.#timer = this.#p.timers.repeat(() => this.#sendAll(this.peer.round()), this.#opts.gossipIntervalMs);
  }

  stop(): void {
    if (this.#timer !== undefined) this.#p.timers.clear(this.#timer);
    this.#timer = undefined;
    this.#socket?.close();
    this.#socket = undefined;
  }

  /**
   * The merged mesh counters as PN-Counter states, for the runtime's
   * CounterState (`extraCounters`) when this peer reaches the cloud. Each
   * carries every peer's entries, so any number of peers reporting the same
   * counter merge (max per replica) to the true total: never double counted.
   */
  counterState(): Counter[] {
    const out: Counter[] = [];
    const counters = this.peer.counters();
    for (const name of [...counters.keys()].sort()) {
      out.push(createCounter({ name: meshCounterPrefix + name, kind: CounterKind.COUNTER_KIND_PN, state: counters.get(name)!.encode() }));
    }
    return out;
  }

  #onDatagram(from: string, bytes: Uint8Array): void {
    if (!this.#known.has(from)) {
      this.strangers++;
      return;
    }
    this.#sendAll(this.peer.receive(from, bytes));
  }

  #sendAll(out: ReadonlyArray<{ to: string; bytes: Uint8Array }>): void {
    const s = this.#socket;
    if (s === undefined) return;
    for (const o of out) s.send(o.to, o.bytes);
  }
}
