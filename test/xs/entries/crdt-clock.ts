// Runs the CRDT counters through a
// deterministic workload; the XS test compares this result with Node's.
import { GCounter } from "../../../shared/crdt/gcounter";
import { PNCounter } from "../../../shared/crdt/pncounter";
import { CrdtError, fnv1a32, toHex } from "../../../shared/crdt/wire";
import { xorshift32 } from "./xorshift";

export interface CrdtClockInput {
  seed: number;
  rounds: number;
}

const rng = xorshift32;

function errCode(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof CrdtError) return e.code;
    return `unexpected:${String(e)}`;
  }
}

export default function run(input: CrdtClockInput) {
  const next = rng(input.seed);
  const ids = ["dev-1", "dev-2", "gw_0", "cloud-a", "Z9"];

  // G-Counter / PN-Counter: replicas increment and gossip; hash every encoding.
  const gs = ids.map(() => new GCounter({ replicasMax: 8 }));
  const ps = ids.map(() => new PNCounter({ replicasMax: 8 }));
  let trace = 0x811c9dc5;
  let merges = 0;
  for (let i = 0; i < input.rounds; i++) {
    const r = next() % ids.length;
    const by = next() % 1_000_000;
    gs[r]!.increment(ids[r]!, by * 100_000); // counts past 2^32: varints must not use 32-bit ops
    ps[r]!.add(ids[r]!, (next() % 2 === 0 ? 1 : -1) * by * 4096); // values past 2^32
    const peer = next() % ids.length;
    const delta = gs[r]!.deltaSince(gs[peer]!);
    if (gs[peer]!.merge(delta)) merges++;
    ps[peer]!.merge(ps[r]!.deltaSince(ps[peer]!));
    trace = fnv1a32(delta.encode(), trace);
    trace = fnv1a32(ps[peer]!.encode(), trace);
  }
  const gAll = new GCounter();
  const pAll = new PNCounter();
  for (const g of gs) gAll.merge(g);
  for (const p of ps) pAll.merge(p);
  const big = GCounter.from({ a: Number.MAX_SAFE_INTEGER - 5, b: 5 });

  // Decoder fuzz on random bytes: tally outcomes by error code.
  const decodeTally: Record<string, number> = {};
  for (let i = 0; i < 300; i++) {
    const bytes = new Uint8Array(next() % 24);
    for (let j = 0; j < bytes.length; j++) bytes[j] = next() % 4 === 0 ? next() & 0xff : [0, 1, 2, 0x61, 0x62, 0x80][next() % 6]!;
    const code = errCode(() => GCounter.decode(bytes, { replicasMax: 4 }));
    decodeTally[code] = (decodeTally[code] ?? 0) + 1;
  }

  return {
    gcounter: {
      value: gAll.value(),
      hex: toHex(gAll.encode()),
      digest: gAll.digest(),
      perReplica: gs.map((g) => g.value()),
      merges,
      trace,
    },
    pncounter: { value: pAll.value(), hex: toHex(pAll.encode()), digest: pAll.digest() },
    bigCount: { hex: toHex(big.encode()), value: big.value(), roundTrip: GCounter.decode(big.encode()).value() },
    overflow: errCode(() => big.increment("c")),
    decodeTally,
  };
}
