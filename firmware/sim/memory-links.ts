// An in-memory LAN for the local-link seam (firmware/platform.ts): stream
// links (gateway <-> children) and datagrams (mesh peers) between named
// hosts, on the simulated clock, with seeded faults:
//
// - delay: every delivery takes `delayMs` plus a uniform jitter below
//   `jitterMs`; a stream keeps its order (a chunk never overtakes the one
//   before it), datagrams may reorder;
// - loss: a datagram is dropped with `lossRate`; a stream send breaks the
//   link with `lossRate` (what TCP does when loss persists: the bytes in
//   flight are gone and both ends see `closed`);
// - partition: hosts in different groups cannot reach each other; links
//   across are reset, connects across are refused, datagrams dropped;
//   `heal()` ends it.
// Streams deliver each send as one or two chunks (a seeded split), so frame
// reassembly is exercised. Bounds: `sendQueueBytesMax` per stream direction
// in flight (beyond it `send` returns false), `datagramBytesMax` per
// datagram. No platform API: runs on XS.
import type { Clock, DatagramSocket, DatagramTransport, Random, StreamLink, StreamLinkHandler, StreamListener, StreamTransport, Timers } from "../platform";

export interface LinkFaults {
  lossRate: number;
  delayMs: number;
  jitterMs: number;
}

export const sendQueueBytesMax = 256 * 1024;
export const datagramBytesMax = 1400;
/** Ports a host may bind (listeners + datagram sockets); a guard against leaks in long runs. */
export const portsPerHostMax = 64;

export interface MemoryNetworkStats {
  streamsOpened: number;
  streamsBroken: number;
  connectsRefused: number;
  datagramsSent: number;
  datagramsLost: number;
}

export class MemoryNetwork {
  readonly #timers: Timers;
  readonly #clock: Clock;
  readonly #random: Random;
  #faults: LinkFaults = { lossRate: 0, delayMs: 1, jitterMs: 0 };
  /** host -> partition group; hosts not listed are in group 0. */
  readonly #groups = new Map<string, number>();
  readonly #listeners = new Map<string, (link: StreamLink) => StreamLinkHandler>();
  readonly #datagrams = new Map<string, (from: string, bytes: Uint8Array) => void>();
  readonly #ends = new Set<MemoryStreamEnd>();
  readonly #nextPort = new Map<string, number>();
  readonly stats: MemoryNetworkStats = { streamsOpened: 0, streamsBroken: 0, connectsRefused: 0, datagramsSent: 0, datagramsLost: 0 };

  constructor(clock: Timers & Clock, random: Random) {
    this.#timers = clock;
    this.#clock = clock;
    this.#random = random;
  }

  setFaults(f: Partial<LinkFaults>): void {
    const next = { ...this.#faults, ...f };
    if (!(next.lossRate >= 0 && next.lossRate < 1)) throw new Error(`lossRate must be in [0, 1), got ${next.lossRate}`);
    if (!(next.delayMs >= 0 && next.jitterMs >= 0)) throw new Error("delayMs and jitterMs must be >= 0");
    this.#faults = next;
  }

  /** Splits hosts into groups (each array one group; others stay in group 0) and resets links across. */
  partition(groups: readonly (readonly string[])[]): void {
    this.#groups.clear();
    groups.forEach((g, i) => { for (const h of g) this.#groups.set(h, i + 1); });
    for (const end of [...this.#ends]) if (!this.reachable(end.host, end.peerHost)) end.breakLink("partition");
  }

  heal(): void {
    this.#groups.clear();
  }

  reachable(a: string, b: string): boolean {
    return (this.#groups.get(a) ?? 0) === (this.#groups.get(b) ?? 0);
  }

  /** The stream and datagram transports of one host. */
  host(name: string): { links: StreamTransport; datagrams: DatagramTransport } {
    return {
      links: {
        listen: (port, accept, failed) => this.#listen(name, port, accept, failed),
        connect: (host, port, handler) => this.#connect(name, host, port, handler),
      },
      datagrams: { open: (port, receive) => this.#openDatagram(name, port, receive) },
    };
  }

  /** Breaks every stream link of `host` (a crashed node: its peers see `closed`). */
  crashHost(host: string): void {
    for (const end of [...this.#ends]) if (end.host === host) end.breakLink("host crashed");
  }

  // ---- internals used by MemoryStreamEnd ----

  /** @internal */
  get timers(): Timers {
    return this.#timers;
  }

  /** @internal */
  nowMs(): number {
    return this.#clock.uptimeMs();
  }

  /** @internal */
  dueDelayMs(): number {
    const f = this.#faults;
    return f.delayMs + (f.jitterMs > 0 ? this.#random.u32() % Math.ceil(f.jitterMs) : 0);
  }

  /** @internal */
  lost(): boolean {
    const r = this.#faults.lossRate;
    return r > 0 && this.#random.u32() / 4294967296 < r;
  }

  /** @internal */
  splitAt(n: number): number {
    return n < 2 ? n : 1 + (this.#random.u32() % (n - 1));
  }

  #port(host: string, port: number, taken: (key: string) => boolean): number {
    if (port !== 0) return port;
    let p = this.#nextPort.get(host) ?? 40000;
    while (taken(`${host}:${p}`)) p++;
    this.#nextPort.set(host, p + 1);
    return p;
  }

  #checkPorts(host: string): void {
    let n = 0;
    for (const k of this.#listeners.keys()) if (k.startsWith(host + ":")) n++;
    for (const k of this.#datagrams.keys()) if (k.startsWith(host + ":")) n++;
    if (n >= portsPerHostMax) throw new Error(`host ${host} has ${n} ports bound (portsPerHostMax ${portsPerHostMax})`);
  }

  #listen(host: string, port: number, accept: (link: StreamLink) => StreamLinkHandler, failed?: (reason: string) => void): StreamListener {
    this.#checkPorts(host);
    const p = this.#port(host, port, (k) => this.#listeners.has(k));
    const key = `${host}:${p}`;
    if (this.#listeners.has(key)) {
      // As a socket API does: the bind fails on a later turn.
      this.#timers.set(() => failed?.(`${key} is already in use`), 0);
      return { port: p, close: () => {} };
    }
    this.#listeners.set(key, accept);
    return { port: p, close: () => { if (this.#listeners.get(key) === accept) this.#listeners.delete(key); } };
  }

  #connect(from: string, host: string, port: number, handler: StreamLinkHandler): StreamLink {
    const local = new MemoryStreamEnd(this, from, host, `${host}:${port}`, handler);
    this.#timers.set(() => {
      const accept = this.#listeners.get(`${host}:${port}`);
      if (local.isClosed) return;
      if (accept === undefined || !this.reachable(from, host)) {
        this.stats.connectsRefused++;
        local.closeLocal(accept === undefined ? "connection refused" : "unreachable");
        return;
      }
      const remote = new MemoryStreamEnd(this, host, from, `${from}:ephemeral`, undefined);
      local.pair(remote);
      remote.pair(local);
      this.#ends.add(local);
      this.#ends.add(remote);
      this.stats.streamsOpened++;
      remote.setHandler(accept(remote));
      handler.opened();
    }, this.dueDelayMs());
    return local;
  }

  /** @internal */
  broken(): void {
    this.stats.streamsBroken++;
  }

  /** @internal */
  drop(end: MemoryStreamEnd): void {
    this.#ends.delete(end);
  }

  #openDatagram(host: string, port: number, receive: (from: string, bytes: Uint8Array) => void): DatagramSocket {
    this.#checkPorts(host);
    const p = this.#port(host, port, (k) => this.#datagrams.has(k));
    const key = `${host}:${p}`;
    if (this.#datagrams.has(key)) throw new Error(`${key} is already bound`);
    this.#datagrams.set(key, receive);
    let open = true;
    return {
      port: p,
      send: (to, bytes) => {
        if (!open || bytes.length > datagramBytesMax) return false;
        this.stats.datagramsSent++;
        const toHost = to.slice(0, to.lastIndexOf(":"));
        if (!this.reachable(host, toHost) || this.lost()) {
          this.stats.datagramsLost++;
          return true; // sent; the network lost it
        }
        const copy = bytes.slice();
        this.#timers.set(() => { this.#datagrams.get(to)?.(key, copy); }, this.dueDelayMs());
        return true;
      },
      close: () => {
        open = false;
        if (this.#datagrams.get(key) === receive) this.#datagrams.delete(key);
      },
    };
  }
}

/** One end of an in-memory stream link. */
class MemoryStreamEnd implements StreamLink {
  readonly remote: string;
  readonly host: string;
  readonly peerHost: string;
  readonly #net: MemoryNetwork;
  #handler: StreamLinkHandler | undefined;
  #peer: MemoryStreamEnd | undefined;
  #closed = false;
  /** Bytes sent and not yet delivered to the peer. */
  #inFlight = 0;
  /** Due time of the last chunk sent: later chunks never overtake it. */
  #lastDueMs = 0;

  constructor(net: MemoryNetwork, host: string, peerHost: string, remote: string, handler: StreamLinkHandler | undefined) {
    this.#net = net;
    this.host = host;
    this.peerHost = peerHost;
    this.remote = remote;
    this.#handler = handler;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  pair(peer: MemoryStreamEnd): void {
    this.#peer = peer;
  }

  setHandler(h: StreamLinkHandler): void {
    this.#handler = h;
  }

  send(bytes: Uint8Array): boolean {
    const peer = this.#peer;
    if (this.#closed || peer === undefined) return false;
    if (this.#inFlight + bytes.length > sendQueueBytesMax) return false;
    if (this.#net.lost()) {
      this.breakLink("loss");
      return true;
    }
    const copy = bytes.slice();
    const at = this.#net.splitAt(copy.length);
    this.#chunk(peer, copy.subarray(0, at));
    if (at < copy.length) this.#chunk(peer, copy.subarray(at));
    return true;
  }

  close(): void {
    if (this.#closed) return;
    const peer = this.#peer;
    this.closeLocal("closed");
    // An orderly close: what was sent before still arrives, then the peer hears closed.
    if (peer !== undefined) this.#net.timers.set(() => peer.closeLocal("peer closed"), Math.max(0, this.#lastDueMs - this.#net.nowMs()) + 1);
  }

  /** Both ends close now; bytes in flight are lost. */
  breakLink(reason: string): void {
    if (this.#closed) return;
    this.#net.broken();
    const peer = this.#peer;
    this.closeLocal(reason);
    if (peer !== undefined) peer.closeLocal(reason);
  }

  closeLocal(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#net.drop(this);
    const h = this.#handler;
    if (h !== undefined) this.#net.timers.set(() => h.closed(reason), 0);
  }

  #chunk(peer: MemoryStreamEnd, bytes: Uint8Array): void {
    const now = this.#net.nowMs();
    const due = Math.max(now + this.#net.dueDelayMs(), this.#lastDueMs);
    this.#lastDueMs = due;
    this.#inFlight += bytes.length;
    this.#net.timers.set(() => {
      this.#inFlight -= bytes.length;
      // A graceful close on this side still delivers; a broken link (peer closed) does not.
      if (!peer.isClosed) peer.#handler?.data(bytes);
    }, due - now);
  }
}
