// Mesh anti-entropy for CRDT counters (docs/edge.md): peers on a LAN keep
// named PN-Counters (shared/crdt; a G-Counter is a PN-Counter that is never
// decremented) and converge by gossip with no cloud.
//
// One exchange, push-pull in three datagrams at most:
//   A -> B  Digest: per counter, the FNV-1a hash of its canonical state.
//   B -> A  State (reply wanted): B's entries of every counter whose hash
//           differs or that one side lacks. A merges them (a subset of a
//           CRDT state is a valid state to merge) ...
//   A -> B  Delta: ... and answers with only the entries where A was ahead.
// After convergence only digests flow (a few bytes per counter).
//
// Pure: `round()` and `receive()` return the datagrams to send; time,
// randomness (peer choice) and the socket belong to the caller (mesh-node.ts
// on a platform, the bench directly).
//
// Bounds: `countersMax` counters, `replicasMax` replicas per counter half
// (the CRDT's own limit), `peersMax` known peers, `fanout` <= `fanoutMax`
// digests per round, `repliesPerRoundMax` answers per round (more are shed,
// counted: the next rounds catch up), every datagram <= `meshDatagramBytesMax`
// (a state that does not fit is split; parts merge independently). A
// datagram that does not decode, or whose merge would break a bound, is
// dropped and counted; nothing else happens.
import { PNCounter } from "../../shared/crdt/pncounter";
import { Reader, Writer, isReplicaId, varintSize } from "../../shared/crdt/wire";
import type { Random } from "../platform";

export const countersMax = 16;
export const peersMax = 64;
export const fanoutMax = 4;
export const repliesPerRoundMax = 16;
export const meshDatagramBytesMax = 1200;
export const meshReplicasMax = 128;

export const MeshMessage = Object.freeze({ Digest: 1, State: 2, Delta: 3 } as const);
export type MeshMessage = (typeof MeshMessage)[keyof typeof MeshMessage];

export interface MeshOut {
  to: string;
  bytes: Uint8Array;
}

export interface MeshStats {
  rounds: number;
  digestsSent: number;
  statesSent: number;
  deltasSent: number;
  bytesSent: number;
  merges: number;
  bad: number;
  repliesShed: number;
}

export interface MeshPeerOptions {
  /** This peer's replica id (its device id). */
  id: string;
  /** Addresses of the other peers ("host:port"); the allow-list of the mesh. */
  peers: readonly string[];
  fanout?: number;
  random: Random;
}

interface Entry {
  replica: string;
  count: number;
}

interface CounterPart {
  name: string;
  p: Entry[];
  n: Entry[];
}

export class MeshPeer {
  readonly id: string;
  readonly #peers: string[];
  readonly #fanout: number;
  readonly #random: Random;
  readonly #counters = new Map<string, PNCounter>();
  readonly #hashes = new Map<string, number>();
  #repliesLeft = repliesPerRoundMax;
  readonly stats: MeshStats = { rounds: 0, digestsSent: 0, statesSent: 0, deltasSent: 0, bytesSent: 0, merges: 0, bad: 0, repliesShed: 0 };

  constructor(opts: MeshPeerOptions) {
    if (!isReplicaId(opts.id)) throw new Error(`mesh peer id must be a device id, got ${JSON.stringify(opts.id)}`);
    if (opts.peers.length > peersMax) throw new Error(`${opts.peers.length} peers above peersMax ${peersMax}`);
    this.id = opts.id;
    this.#peers = [...opts.peers];
    this.#fanout = opts.fanout ?? 2;
    if (!(Number.isInteger(this.#fanout) && this.#fanout >= 1 && this.#fanout <= fanoutMax)) throw new Error(`fanout must be in 1..${fanoutMax}`);
    this.#random = opts.random;
  }

  /** Adds `delta` (signed) to this peer's share of counter `name`. */
  add(name: string, delta: number): number {
    const c = this.#counter(name);
    if (c === undefined) throw new Error(`counter ${name}: invalid name or more than ${countersMax} counters`);
    const v = c.add(this.id, delta);
    this.#hashes.delete(name);
    return v;
  }

  value(name: string): number {
    return this.#counters.get(name)?.value() ?? 0;
  }

  /** The merged state of every counter (what a peer that reaches the cloud sends). */
  counters(): ReadonlyMap<string, PNCounter> {
    return this.#counters;
  }

  /** Hash of all counters' states: equal on two peers ⇒ (almost surely) converged. */
  fingerprint(): string {
    return [...this.#counters.keys()].sort().map((n) => `${n}:${this.#hash(n)}`).join(",");
  }

  /** One gossip round: digests to `fanout` distinct random peers; resets the reply budget. */
  round(): MeshOut[] {
    this.stats.rounds++;
    this.#repliesLeft = repliesPerRoundMax;
    const n = this.#peers.length;
    if (n === 0) return [];
    const digest = this.#encodeDigest();
    const out: MeshOut[] = [];
    const k = Math.min(this.#fanout, n);
    // Partial Fisher-Yates over a copy: k distinct peers.
    const pool = this.#peers.slice();
    for (let i = 0; i < k; i++) {
      const j = i + (this.#random.u32() % (n - i));
      const t = pool[i]!;
      pool[i] = pool[j]!;
      pool[j] = t;
      out.push({ to: pool[i]!, bytes: digest });
      this.stats.digestsSent++;
      this.stats.bytesSent += digest.length;
    }
    return out;
  }

  /** Handles one datagram from `from`; returns the answers to send. */
  receive(from: string, bytes: Uint8Array): MeshOut[] {
    try {
      if (bytes.length < 1 || bytes.length > meshDatagramBytesMax) throw new Error("size");
      const type = bytes[0]!;
      if (type === MeshMessage.Digest) return this.#onDigest(from, decodeDigest(bytes));
      if (type === MeshMessage.State || type === MeshMessage.Delta) return this.#onState(from, type, decodeParts(bytes));
      throw new Error(`type ${type}`);
    } catch {
      this.stats.bad++;
      return [];
    }
  }

  #onDigest(from: string, digest: Map<string, number>): MeshOut[] {
    const differ: string[] = [];
    for (const name of this.#counters.keys()) if (digest.get(name) !== this.#hash(name)) differ.push(name);
    let theyHaveMore = false;
    for (const name of digest.keys()) if (!this.#counters.has(name)) theyHaveMore = true;
    if (differ.length === 0 && !theyHaveMore) return [];
    // Our state of what differs (and an empty State when they hold counters we lack, so they push them).
    const parts = differ.sort().map((name) => partOf(name, this.#counters.get(name)!));
    return this.#send(from, MeshMessage.State, parts);
  }

  #onState(from: string, type: number, parts: CounterPart[]): MeshOut[] {
    let answer: CounterPart[] = [];
    if (type === MeshMessage.State) {
      // Before merging: what we hold beyond what they sent (they lack it or hold less).
      const named = new Set<string>();
      for (const part of parts) {
        named.add(part.name);
        const mine = this.#counters.get(part.name);
        if (mine !== undefined) {
          const d = aheadOf(part.name, mine, part);
          if (d.p.length + d.n.length > 0) answer.push(d);
        }
      }
      // Counters they did not send at all: they lack them or hold them equal;
      // a State answers a digest that listed what differs, so send ours.
      for (const [name, c] of this.#counters) if (!named.has(name) && parts.length === 0) answer.push(partOf(name, c));
    }
    for (const part of parts) this.#merge(part);
    if (type === MeshMessage.Delta) return [];
    answer = answer.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return answer.length === 0 ? [] : this.#send(from, MeshMessage.Delta, answer);
  }

  #merge(part: CounterPart): void {
    const c = this.#counter(part.name);
    if (c === undefined) {
      this.stats.bad++;
      return;
    }
    const other = new PNCounter({ replicasMax: meshReplicasMax });
    // Max, not sum, per replica: a datagram naming a replica twice must not count it twice.
    for (const e of part.p) if (e.count > other.p.get(e.replica)) other.p.increment(e.replica, e.count - other.p.get(e.replica));
    for (const e of part.n) if (e.count > other.n.get(e.replica)) other.n.increment(e.replica, e.count - other.n.get(e.replica));
    if (c.merge(other)) {
      this.stats.merges++;
      this.#hashes.delete(part.name);
    }
  }

  /** Encodes `parts` into as few datagrams as fit, within the reply budget. */
  #send(to: string, type: MeshMessage, parts: CounterPart[]): MeshOut[] {
    const out: MeshOut[] = [];
    for (const bytes of encodeParts(type, parts)) {
      if (this.#repliesLeft <= 0) {
        this.stats.repliesShed++;
        break;
      }
      this.#repliesLeft--;
      out.push({ to, bytes });
      this.stats.bytesSent += bytes.length;
      if (type === MeshMessage.State) this.stats.statesSent++;
      else this.stats.deltasSent++;
    }
    return out;
  }

  #counter(name: string): PNCounter | undefined {
    let c = this.#counters.get(name);
    if (c !== undefined) return c;
    if (!isReplicaId(name) || this.#counters.size >= countersMax) return undefined;
    c = new PNCounter({ replicasMax: meshReplicasMax });
    this.#counters.set(name, c);
    return c;
  }

  #hash(name: string): number {
    let h = this.#hashes.get(name);
    if (h === undefined) {
      h = this.#counters.get(name)!.digest().hash;
      this.#hashes.set(name, h);
    }
    return h;
  }

  #encodeDigest(): Uint8Array {
    const names = [...this.#counters.keys()].sort();
    let size = 2;
    for (const n of names) size += 1 + n.length + varintSize(this.#hash(n));
    const w = new Writer(size);
    w.bytes[w.offset++] = MeshMessage.Digest;
    w.bytes[w.offset++] = names.length;
    for (const n of names) {
      w.ascii(n);
      w.varint(this.#hash(n));
    }
    return w.finish();
  }
}

function partOf(name: string, c: PNCounter): CounterPart {
  const entries = (m: ReadonlyMap<string, number>): Entry[] => [...m.keys()].sort().map((replica) => ({ replica, count: m.get(replica)! }));
  return { name, p: entries(c.p.counts), n: entries(c.n.counts) };
}

/** Our entries above theirs (or that they lack), per half. */
function aheadOf(name: string, mine: PNCounter, theirs: CounterPart): CounterPart {
  const half = (m: ReadonlyMap<string, number>, t: Entry[]): Entry[] => {
    const known = new Map<string, number>();
    for (const e of t) known.set(e.replica, e.count);
    const out: Entry[] = [];
    for (const replica of [...m.keys()].sort()) {
      const v = m.get(replica)!;
      if (v > (known.get(replica) ?? 0)) out.push({ replica, count: v });
    }
    return out;
  };
  return { name, p: half(mine.p.counts, theirs.p), n: half(mine.n.counts, theirs.n) };
}

function decodeDigest(b: Uint8Array): Map<string, number> {
  const r = new Reader(b);
  r.offset = 1;
  const count = byte(r);
  if (count > countersMax) throw new Error("too many counters");
  const out = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const name = r.replicaId();
    out.set(name, r.varint());
  }
  r.end();
  return out;
}

function entrySize(e: Entry): number {
  return 1 + e.replica.length + varintSize(e.count);
}

/**
 * Datagrams for `parts`: [type][counters] then per counter [name][pCount]
 * entries [nCount] entries. A counter that does not fit the rest of a
 * datagram is split across datagrams (each part is a valid partial state).
 */
export function encodeParts(type: MeshMessage, parts: CounterPart[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  const entryMax = 255;
  let cur: CounterPart[] = [];
  let size = 2;
  const flush = (): void => {
    if (cur.length === 0 && !(out.length === 0 && parts.length === 0)) return;
    const w = new Writer(size);
    w.bytes[w.offset++] = type;
    w.bytes[w.offset++] = cur.length;
    for (const c of cur) {
      w.ascii(c.name);
      for (const half of [c.p, c.n]) {
        w.bytes[w.offset++] = half.length;
        for (const e of half) {
          w.ascii(e.replica);
          w.varint(e.count);
        }
      }
    }
    out.push(w.finish());
    cur = [];
    size = 2;
  };
  for (const part of parts) {
    let piece: CounterPart = { name: part.name, p: [], n: [] };
    let pieceSize = 1 + part.name.length + 2;
    const place = (half: "p" | "n", e: Entry): void => {
      const s = entrySize(e);
      if (size + pieceSize + s > meshDatagramBytesMax || piece[half].length >= entryMax) {
        if (piece.p.length + piece.n.length > 0) cur.push(piece);
        size += piece.p.length + piece.n.length > 0 ? pieceSize : 0;
        flush();
        piece = { name: part.name, p: [], n: [] };
        pieceSize = 1 + part.name.length + 2;
      }
      piece[half].push(e);
      pieceSize += s;
    };
    for (const e of part.p) place("p", e);
    for (const e of part.n) place("n", e);
    if (size + pieceSize > meshDatagramBytesMax) flush();
    cur.push(piece);
    size += pieceSize;
  }
  flush();
  return out;
}

function decodeParts(b: Uint8Array): CounterPart[] {
  const r = new Reader(b);
  r.offset = 1;
  const count = byte(r);
  if (count > countersMax) throw new Error("too many counters");
  const parts: CounterPart[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.replicaId();
    const half = (): Entry[] => {
      const n = byte(r);
      if (n > meshReplicasMax) throw new Error("too many replicas");
      const es: Entry[] = [];
      for (let j = 0; j < n; j++) es.push({ replica: r.replicaId(), count: r.varint() });
      return es;
    };
    const p = half();
    parts.push({ name, p, n: half() });
  }
  r.end();
  return parts;
}

function byte(r: Reader): number {
  if (r.remaining < 1) throw new Error("truncated");
  return r.bytes[r.offset++]!;
}
