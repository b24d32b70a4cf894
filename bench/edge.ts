// Edge tier benchmark (`npm run bench:edge`), all in the seeded simulator:
//
// Part 1 — mesh convergence: rounds until every peer holds the same
//   counters, for n = 8, 16, 32, 64 peers, 0 % and 20 % datagram loss,
//   10 seeds each (median and worst), against log2(n); baseline in the same
//   run: fanout 1 (one digest per peer per round) beside the default 2.
//   Bytes each peer sends per round until convergence.
// Part 2 — gateway relay cost: 16 sensors through a gateway over in-memory
//   links (the star scenario without link loss) against 16 sensors each on
//   its own broker connection (the sensor scenario); CPU time per uplink and
//   the ratio (simulated time, so it measures the code, not a network; the
//   two scenarios' faults differ, so the ratio is an order of magnitude).
// Part 3 — XS heap of a gateway alone and per joined child (metered xsnap)
//   against the ESP32 nodemcu defaults; target: 16 children under half.
// Part 4 — aggregation: bytes a processing node sends upstream for its
//   children's telemetry with an aggregate job (windows of 10 s and 60 s)
//   against what the children sent it (the baseline: relayed unchanged),
//   in the edge-jobs scenario (seeded faults, an upstream cut).
// Part 5 — edge job moves against real nats-server and ingest: a rules job's
//   processing device is killed (power loss) 5 times; time from the kill to
//   offline in device state, and from offline to the job running on another
//   device, against the scheduler's tick (250 ms and 1000 ms).
//
// Parts to run: `npm run bench:edge -- mesh relay heap aggregation moves` (default: all).
import { performance } from "node:perf_hooks";
import { runMeshScenario } from "../firmware/sim/mesh-scenario";
import { runStarScenario } from "../firmware/sim/star-scenario";
import { runSensorScenario } from "../firmware/sim/scenario";
import { runEdgeJobsScenario } from "../firmware/sim/edge-jobs-scenario";
import { describeMachine } from "./lib/machine";
import os from "node:os";

const parts = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const want = (p: string): boolean => parts.length === 0 || parts.includes(p);
console.log(describeMachine());
console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}\n`);
const seeds = Array.from({ length: 10 }, (_, i) => i + 1);
const sizes = [8, 16, 32, 64];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

if (want("mesh")) {
console.log("Part 1: mesh convergence rounds (anti-entropy: digest, state, delta), gossip every 200 ms simulated");
console.log("  n   loss  fanout  rounds median  worst  log2(n)  median/log2(n)  bytes/peer/round");
for (const lossRate of [0, 0.2]) {
  for (const fanout of [1, 2]) {
    for (const n of sizes) {
      const rounds: number[] = [];
      let bytes = 0;
      let failed = 0;
      for (const seed of seeds) {
        const r = runMeshScenario({ seed, peers: n, lossRate, gossipIntervalMs: 200, fanout, partitionRounds: 0, roundsMax: 200 });
        if (r.convergedAfterRounds < 0) failed++;
        else rounds.push(r.convergedAfterRounds);
        for (const v of r.values) if (v.events !== r.expected.events || v.level !== r.expected.level) failed++;
        bytes += r.bytesSent / n / Math.max(1, r.convergedAfterRounds);
      }
      const m = median(rounds);
      const lg = Math.log2(n);
      console.log(`  ${String(n).padStart(2)}  ${(lossRate * 100).toFixed(0).padStart(3)} %  ${String(fanout).padStart(6)}  ${String(m).padStart(13)}  ${String(Math.max(...rounds)).padStart(5)}  ${lg.toFixed(0).padStart(7)}  ${(m / lg).toFixed(2).padStart(14)}  ${(bytes / seeds.length).toFixed(0).padStart(16)}${failed > 0 ? `  (${failed} runs did not converge)` : ""}`);
    }
  }
}

}

if (want("relay")) {
console.log("\nPart 2: relay cost, 16 sensors (star scenario: no link loss, its broker faults and cuts still apply; the direct baseline has its own)");
const children = 16;
let t0 = performance.now();
const star = runStarScenario({ seed: 1, children, phaseMs: 12_000, linkLossRate: 0, linkDelayMs: 1, linkJitterMs: 0 });
const starMs = performance.now() - t0;
const relayed = star.gateway.forwarded;
t0 = performance.now();
let direct = 0;
for (let i = 0; i < children; i++) {
  const r = runSensorScenario({ seed: i + 1, deviceId: `direct-${i}`, rows: Array.from({ length: 600 }, (_, k) => ({ timeMs: 1_458_031_648_545 + k * 1_000, values: [20 + (k % 9) * 0.01, 40, 180, 500] })), speedup: 4, phaseMs: 20_000 });
  direct += r.messages.length;
}
const directMs = performance.now() - t0;
const perRelayUs = (starMs * 1000) / relayed;
const perDirectUs = (directMs * 1000) / direct;
console.log(`  through the gateway: ${relayed} uplinks relayed in ${starMs.toFixed(0)} ms CPU = ${perRelayUs.toFixed(1)} µs per uplink (${Math.round(relayed / (starMs / 1000))} relayed/s, children + gateway + broker simulated)`);
console.log(`  direct (baseline):   ${direct} uplinks in ${directMs.toFixed(0)} ms CPU = ${perDirectUs.toFixed(1)} µs per uplink`);
console.log(`  ratio relay/direct per uplink: ${(perRelayUs / perDirectUs).toFixed(2)} (the scenarios differ in faults; read it as an order of magnitude)`);
}

// Part 3 — XS heap of a gateway per child, on the metered xsnap (64-bit XS:
// slots are 32 bytes there, 16 on the ESP32; chunk bytes are an upper bound).
const nodemcu = { chunkBytes: 77 * 1024, slots: 4928 };
async function gatewayHeap(): Promise<void> {
  const { runManyOnXs } = await import("../test/harness/xs");
  const { meteredXsnapBinary } = await import("./lib/xsnap-meter");
  const bin = meteredXsnapBinary((m) => console.error(m));
  const phases = [{ phase: "world" }, { phase: "gateway" }, { phase: "run", minutes: 1 }, { phase: "connect", n: 16 }, { phase: "join", minutes: 1 }, { phase: "run", minutes: 1 }];
  const runs = await runManyOnXs<{ phase: string; children: number; forwarded: number; pubAcks: number }>("bench/entries/gateway-footprint.ts", phases, { xsnapBin: bin });
  console.log("\nPart 3: XS heap of a gateway (xsnap 64-bit, after a full GC; no cloud stand-in in the heap)");
  console.log("  phase          children  slots    chunk bytes  relayed");
  const m = runs.map((r) => ({ slots: r.meter.currentHeapCount ?? 0, chunks: r.meter.chunks ?? 0 }));
  runs.forEach((r, i) => console.log(`  ${r.result.phase.padEnd(14)} ${String(r.result.children).padStart(8)}  ${String(m[i]!.slots).padStart(6)}  ${String(m[i]!.chunks).padStart(12)}  ${String(r.result.forwarded).padStart(7)}`));
  const world = m[0]!;
  const alone = m[2]!;
  const connected = m[3]!;
  const full = m[5]!;
  const perChildSlots = (full.slots - connected.slots) / 16;
  const perChildChunks = (full.chunks - connected.chunks) / 16;
  console.log(`  gateway alone (runtime + core): ${alone.slots - world.slots} slots, ${((alone.chunks - world.chunks) / 1024).toFixed(1)} KB chunks`);
  console.log(`  per joined child (joined - connected; the in-memory broker's per-child state counts too): ${perChildSlots.toFixed(0)} slots, ${(perChildChunks / 1024).toFixed(2)} KB chunks`);
  const slots16 = alone.slots - world.slots + 16 * perChildSlots;
  const chunks16 = alone.chunks - world.chunks + 16 * perChildChunks;
  console.log(`  gateway with 16 children: ${slots16.toFixed(0)} slots (${(slots16 / nodemcu.slots).toFixed(2)} of nodemcu's ${nodemcu.slots}), ${(chunks16 / 1024).toFixed(1)} KB chunks (${(chunks16 / nodemcu.chunkBytes).toFixed(2)} of 77 KB); target < 0.5 each`);
}
if (want("heap")) await gatewayHeap();

if (want("aggregation")) {
  console.log("\nPart 4: aggregation upstream (edge-jobs scenario: 4 sensor children at 4 points/s simulated, batches of 10 points, 3 seeds)");
  console.log("  window  children sent (envelopes)  upstream (envelopes)  saved   payload in -> out      windows sent");
  for (const windowMs of [10_000, 60_000]) {
    let raw = 0, sent = 0, pin = 0, pout = 0, windows = 0;
    for (const seed of [1, 2, 3]) {
      const r = runEdgeJobsScenario({ seed, children: 4, phaseMs: 60_000, windowMs, linkLossRate: 0, linkDelayMs: 2, threshold: 22 });
      raw += r.work.rawEnvelopeBytes; sent += r.work.sentEnvelopeBytes; pin += r.work.rawPayloadBytes; pout += r.work.sentPayloadBytes; windows += r.work.windowsSent;
    }
    console.log(`  ${String(windowMs / 1000).padStart(4)} s  ${String(raw).padStart(24)} B  ${String(sent).padStart(18)} B  ${((1 - sent / raw) * 100).toFixed(0).padStart(3)} %  ${String(pin).padStart(7)} -> ${String(pout).padStart(6)} B (${(pin / Math.max(1, pout)).toFixed(1)}x)  ${String(windows).padStart(8)}`);
  }
  console.log("  (every child envelope still goes up, with its seq, so receipts and exactly-once hold per child: the envelope header is the floor)");
}

if (want("moves")) {
  const { measureEdgeJobMoves } = await import("./lib/edge-moves");
  console.log("\nPart 5: edge job moves after a processing device dies (real nats-server + ingest, 3 processing devices, 5 kills per tick)");
  console.log("  tick     kill -> offline (median / max)   offline -> running elsewhere (median / max)   (running - offline) / tick");
  for (const tickMs of [250, 1000]) {
    const r = await measureEdgeJobMoves({ tickMs, kills: 5 });
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`  ${String(tickMs).padStart(4)} ms  ${String(med(r.detectMs)).padStart(14)} / ${String(Math.max(...r.detectMs)).padStart(5)} ms  ${String(med(r.moveMs)).padStart(25)} / ${String(Math.max(...r.moveMs)).padStart(5)} ms  ${(med(r.moveMs) / tickMs).toFixed(2).padStart(20)}`);
  }
}
console.log(`\nload average at end: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
