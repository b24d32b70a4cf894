// Fair share of partitions over the live ingest nodes — pure, deterministic:
// every node computing it from the same membership view gets the same
// answer, so nodes contend only for their own share and leases rarely meet
// a competitor. Not a safety mechanism (views differ for a moment while
// membership changes; the lease on each partition decides who owns it).
//
// Each partition ranks the nodes by a hash of (node, partition) (rendezvous
// hashing) and goes to the highest-ranked node that still has room; room is
// ceil(P/n) for the first P mod n nodes in name order and floor(P/n) for the
// rest, so shares differ by at most one. When a node leaves, mostly its own
// partitions move (the caps move a few more).

/** Most nodes the share is computed over (more live ingest nodes than this is a configuration error). */
export const shareNodesMax = 1024;

/** FNV-1a 32 over the UTF-16 code units of `s` (ASCII ids: its bytes). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A 32-bit mix so nearby inputs spread (FNV alone clusters on short suffixes). */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Partitions 0..partitions-1 by node; every partition has exactly one node when there is one. */
export function fairShare(partitions: number, nodes: readonly string[]): Map<string, number[]> {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  const sorted = [...new Set(nodes)].sort();
  if (sorted.length > shareNodesMax) throw new RangeError(`more than ${shareNodesMax} ingest nodes`);
  const out = new Map<string, number[]>(sorted.map((n) => [n, []]));
  if (sorted.length === 0) return out;
  const floor = Math.floor(partitions / sorted.length);
  const extra = partitions % sorted.length;
  const cap = new Map(sorted.map((n, i) => [n, floor + (i < extra ? 1 : 0)]));
  for (let p = 0; p < partitions; p++) {
    const ranked = sorted.map((n) => ({ n, w: mix(fnv1a(`${n}/${p}`)) })).sort((a, b) => b.w - a.w || (a.n < b.n ? -1 : 1));
    const pick = ranked.find((r) => out.get(r.n)!.length < cap.get(r.n)!)!;
    out.get(pick.n)!.push(p);
  }
  return out;
}
