// Device shadow benchmark on a 3-node nats-server cluster (R3 bucket):
// desired-field puts and shadow reads, sequential and concurrent, with
// p50/p99 latency; concurrent writes go through two writers (two cloud
// nodes) to the fields of a few devices, so each put reads and joins the
// other writer's key.
//
//   npm run bench:shadow [-- --ops 300 --concurrency 16 --devices 8]
import { connect } from "@nats-io/transport-node";
import { ShadowDoc, ShadowStore } from "../cloud/shadow";
import { startNats } from "../test/harness/nats";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const ops = arg("ops", 300);
const concurrency = arg("concurrency", 16);
const devices = arg("devices", 8);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

async function timed(n: number, c: number, op: (i: number) => Promise<unknown>): Promise<{ perSec: number; p50: number; p99: number }> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, async () => {
    for (let i = next++; i < n; i = next++) {
      const s = performance.now();
      await op(i);
      lat.push(performance.now() - s);
    }
  }));
  return { perSec: n / ((performance.now() - t0) / 1000), p50: pct(lat, 50), p99: pct(lat, 99) };
}

const nats = await startNats({ size: 3, replicas: 3 });
try {
  const a = await ShadowStore.open(await connect({ servers: nats.nodes[0]!.natsUrl }), { bucket: { replicas: 3 } });
  const b = await ShadowStore.open(await connect({ servers: nats.nodes[1]!.natsUrl }), { bucket: { replicas: 3 } });
  const show = (name: string, r: { perSec: number; p50: number; p99: number }) =>
    console.log(`${name.padEnd(44)} ${r.perSec.toFixed(0).padStart(6)} ops/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms`);
  // A session writing 8 fields, each put with the context of its previous reply (no siblings pile up).
  const seen = new Map<string, Record<string, number>>();
  show("put with context, 1 writer, c=1", await timed(ops, 1, async (i) => {
    const f = `f${i % 8}`;
    const r = await a.put("bench-0", ShadowDoc.Desired, "api-a", f, i, seen.get(f) ?? {});
    seen.set(f, { ...r.field!.context });
  }));
  show("get (both documents), c=1", await timed(ops, 1, () => a.get("bench-0")));
  const ctx = async (s: ShadowStore, dev: string, f: string) => (await s.getDoc(dev, ShadowDoc.Desired)).fields[f]?.context ?? {};
  show(`read+put with context, 2 writers, c=${concurrency}`, await timed(ops, concurrency, async (i) => {
    const s = i % 2 ? a : b;
    const dev = `bench-${1 + (i % devices)}`;
    await s.put(dev, ShadowDoc.Desired, i % 2 ? "api-a" : "api-b", "led", i, await ctx(s, dev, "led"));
  }));
  show(`get, c=${concurrency}`, await timed(ops, concurrency, (i) => b.get(`bench-${1 + (i % devices)}`)));
} finally {
  await nats.stop();
}
process.exit(0);
