// A consistent-hash ring with virtual nodes. Pure and deterministic: the
// same set of nodes gives the same ring in every process (no randomness,
// no insertion-order effects), so every cache client and cache node that
// sees the same membership routes a key to the same owners.
//
// Each node is placed at `vnodes` points, hash("<node>#<i>"); a key belongs
// to the first point clockwise from hash(key), and its `rf` owners are the
// distinct nodes met walking on from there (the first is the primary, the
// rest its replicas, in failover order). Adding or removing one of n nodes
// moves about 1/n of the keys; the load spread shrinks as 1/sqrt(vnodes)
// (bench/cache.ts measures both).
//
// Hash: FNV-1a over the UTF-8 bytes with murmur3's 32-bit finaliser, so
// labels that differ in one trailing digit still land far apart. Not
// cryptographic (nobody chooses cache keys adversarially to unbalance a
// ring they cannot see); ties between points go to the smaller node id.

export const VNODES_DEFAULT = 128;
export const VNODES_MAX = 4096;
const RING_NODES_MAX = 1024;

const encoder = new TextEncoder();

/** FNV-1a 32 with the murmur3 fmix32 finaliser; an unsigned 32-bit integer. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Point {
  readonly at: number;
  readonly node: string;
}

export class HashRing {
  readonly vnodes: number;
  readonly #nodes = new Set<string>();
  /** Sorted by (at, node); rebuilt on every change (membership changes are rare, lookups hot). */
  #points: Point[] = [];

  constructor(opts: { vnodes?: number; nodes?: Iterable<string> } = {}) {
    this.vnodes = opts.vnodes ?? VNODES_DEFAULT;
    if (!Number.isInteger(this.vnodes) || this.vnodes < 1 || this.vnodes > VNODES_MAX) throw new Error(`vnodes must be 1..${VNODES_MAX}, got ${this.vnodes}`);
    for (const n of opts.nodes ?? []) this.#insert(n);
    this.#rebuild();
  }

  get size(): number {
    return this.#nodes.size;
  }

  nodes(): string[] {
    return [...this.#nodes].sort();
  }

  has(node: string): boolean {
    return this.#nodes.has(node);
  }

  /** Adds a node; false when it was there already. */
  add(node: string): boolean {
    if (this.#nodes.has(node)) return false;
    this.#insert(node);
    this.#rebuild();
    return true;
  }

  /** Removes a node; false when it was not there. */
  remove(node: string): boolean {
    if (!this.#nodes.delete(node)) return false;
    this.#rebuild();
    return true;
  }

  /** Makes the ring hold exactly these nodes; true when anything changed. */
  setNodes(nodes: Iterable<string>): boolean {
    const next = new Set(nodes);
    if (next.size === this.#nodes.size && [...next].every((n) => this.#nodes.has(n))) return false;
    this.#nodes.clear();
    for (const n of next) this.#insert(n);
    this.#rebuild();
    return true;
  }

  /** The key's owners, primary first, then the replicas in failover order; fewer when the ring has fewer nodes. */
  ownersOf(key: string, rf: number): string[] {
    if (!Number.isInteger(rf) || rf < 1) throw new Error(`replication factor must be a positive integer, got ${rf}`);
    const pts = this.#points;
    if (pts.length === 0) return [];
    const want = Math.min(rf, this.#nodes.size);
    const out: string[] = [];
    const h = hash32(key);
    // First point with at >= h (binary search), wrapping around.
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid]!.at < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < pts.length && out.length < want; i++) {
      const node = pts[(lo + i) % pts.length]!.node;
      if (!out.includes(node)) out.push(node);
    }
    return out;
  }

  /** True when `node` is among the key's rf owners. */
  owns(node: string, key: string, rf: number): boolean {
    return this.ownersOf(key, rf).includes(node);
  }

  #insert(node: string): void {
    if (typeof node !== "string" || node.length === 0 || node.length > 128) throw new Error(`ring node id must be a 1..128 character string, got ${JSON.stringify(node)}`);
    if (this.#nodes.size >= RING_NODES_MAX) throw new Error(`ring holds at most ${RING_NODES_MAX} nodes`);
    this.#nodes.add(node);
  }

  #rebuild(): void {
    const pts: Point[] = [];
    for (const node of this.#nodes) for (let i = 0; i < this.vnodes; i++) pts.push({ at: hash32(`${node}#${i}`), node });
    pts.sort((a, b) => a.at - b.at || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    this.#points = pts;
  }
}
