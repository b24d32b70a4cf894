// Runs the CRDT counters, vector clocks, sibling sets and HLC through a
// deterministic workload; the XS test compares this result with Node's.
import { GCounter } from "../../../shared/crdt/gcounter";
import { PNCounter } from "../../../shared/crdt/pncounter";
import { CrdtError, fnv1a32, toHex } from "../../../shared/crdt/wire";
import { VectorClock } from "../../../shared/clock/vectorclock";
import { type Versioned, applyWrite, clockForWrite } from "../../../shared/clock/versioned";
import { Hlc, HlcError, compareHlc, packHlc, unpackHlc } from "../../../shared/clock/hlc";

export interface CrdtClockInput {
  seed: number;
  rounds: number;
}

// xorshift32: same sequence on every engine, no Math.random.
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function errCode(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof CrdtError || e instanceof HlcError) return e.code;
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

  // Vector clocks and the multi-value register.
  const base = VectorClock.from({ "cloud-a": 1 });
  const dev = base.clone();
  dev.increment("dev-1");
  const cloud = base.clone();
  cloud.increment("cloud-a");
  let siblings: readonly Versioned<string>[] = [];
  const outcomes: string[] = [];
  for (const [clock, value] of [[base, "on"], [dev, "off"], [cloud, "blink"], [base, "on"], [dev, "off"]] as const) {
    const r = applyWrite(siblings, { clock, value });
    outcomes.push(r.outcome);
    siblings = r.siblings;
  }
  const siblingValues = siblings.map((s) => s.value).sort();
  const resolved = applyWrite(siblings, { clock: clockForWrite(siblings, "op"), value: "on" });

  // HLC: a sequence of local events and receives with jittering time.
  const hlc = new Hlc({ driftMsMax: 5000 });
  const T0 = 1_764_000_000_000;
  let pt = T0;
  let prev = hlc.now(pt);
  let monotonic = true;
  const packed: number[] = [];
  const hlcErrors: string[] = [];
  for (let i = 0; i < input.rounds; i++) {
    pt += (next() % 3000) - 1000;
    let t;
    if (next() % 2 === 0) t = hlc.now(pt);
    else {
      const remote = { wallMs: pt + (next() % 8000) - 2000, logical: next() % 20 };
      const code = errCode(() => hlc.receive(remote, pt));
      if (code !== "ok") {
        hlcErrors.push(code);
        continue;
      }
      t = hlc.last();
      if (compareHlc(t, remote) !== 1) monotonic = false;
    }
    if (compareHlc(t, prev) !== 1) monotonic = false;
    prev = t;
    if (i % 16 === 0) packed.push(packHlc(t));
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
    vectorClock: {
      compare: [base.compare(dev), dev.compare(base), dev.compare(cloud), dev.compare(dev.clone())],
      mergedHex: toHex(VectorClock.decode(dev.encode()).encode()),
      hash: cloud.hash(),
    },
    versioned: { outcomes, siblingValues, resolved: resolved.outcome, resolvedCount: resolved.siblings.length },
    hlc: { last: hlc.last(), monotonic, packed, unpacked: unpackHlc(packed[packed.length - 1] ?? 0), errors: hlcErrors.length },
  };
}
