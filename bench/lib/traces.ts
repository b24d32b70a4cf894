// Simulated heartbeat traces for the failure-detector benchmark. A trace is
// the send and arrival times (integer ms, arrivals sorted) of one monitored
// node's heartbeats; every model is seeded.
//
// Models (I = heartbeat interval):
//   normal      sender timer jitter: inter-arrival ~ N(I, (jitter*I)^2), i.i.d.
//   heavy-tail  on-time sends, network delay Lomax(alpha, scale): rare delays of many I
//   bursts      on-time sends, 5% jitter; congestion episodes hold 2-4 intervals
//               of heartbeats and deliver them together
//   gc-pause    5% jitter; stop-the-world pauses of 1.5-5 I stop the sender
//   room-climate inter-arrivals resampled from real sensor radio traces
//               (normalised by each node's median, scaled to I)
// A crash at time c keeps only the heartbeats sent before c (those in flight
// still arrive).

import { roomClimateTraces } from "../../firmware/host/room-climate";
import { randomNormal, type RandomSource } from "../../cloud/base";

export interface Trace {
  sendMs: Float64Array;
  /** Arrival time of the heartbeat sent at sendMs[i] (not sorted). */
  arrivalMs: Float64Array;
}

export interface TraceModel {
  name: string;
  description: string;
  /** Generate `count` heartbeats at interval `intervalMs`. */
  generate(count: number, intervalMs: number, random: RandomSource): Trace;
}

/** Heartbeat counts are bounded so a mistaken argument cannot eat the RAM. */
const TRACE_COUNT_MAX = 20_000_000;

function alloc(count: number): Trace {
  if (!(Number.isSafeInteger(count) && count > 0 && count <= TRACE_COUNT_MAX)) {
    throw new Error(`trace count must be in 1..${TRACE_COUNT_MAX}, got ${count}`);
  }
  return { sendMs: new Float64Array(count), arrivalMs: new Float64Array(count) };
}

export function normalJitter(jitter: number): TraceModel {
  return {
    name: `normal ${Math.round(jitter * 100)}%`,
    description: `inter-arrival ~ N(I, (${jitter} I)^2), i.i.d.`,
    generate(count, intervalMs, random) {
      const trace = alloc(count);
      let t = 0;
      for (let i = 0; i < count; i++) {
        // Truncation at 1 ms: P(X < 0) = 3e-7 at 20% jitter.
        if (i > 0) t += Math.max(1, Math.round(intervalMs * (1 + jitter * randomNormal(random))));
        trace.sendMs[i] = t;
        trace.arrivalMs[i] = t;
      }
      return trace;
    },
  };
}

/** Lomax (Pareto II): P(D > x) = (1 + x / scale)^-alpha. */
export function heavyTailDelay(alpha: number, scaleFraction: number): TraceModel {
  return {
    name: `heavy-tail a=${alpha}`,
    description: `on-time sends, delay Lomax(alpha=${alpha}, scale=${scaleFraction} I)`,
    generate(count, intervalMs, random) {
      const trace = alloc(count);
      const scale = scaleFraction * intervalMs;
      for (let i = 0; i < count; i++) {
        const u = 1 - random();
        trace.sendMs[i] = i * intervalMs;
        trace.arrivalMs[i] = i * intervalMs + Math.round(scale * (Math.pow(u, -1 / alpha) - 1));
      }
      return trace;
    },
  };
}

export function bursts(probability: number): TraceModel {
  return {
    name: "bursts",
    description: `5% jitter; w.p. ${probability} per beat, 2-4 I of beats held and delivered at once`,
    generate(count, intervalMs, random) {
      const trace = alloc(count);
      let holdUntilMs = -1;
      for (let i = 0; i < count; i++) {
        const send = i * intervalMs;
        const delay = Math.max(0, Math.round(20 + 0.05 * intervalMs * randomNormal(random)));
        if (holdUntilMs < send && random() < probability) holdUntilMs = send + (2 + Math.floor(random() * 3)) * intervalMs;
        trace.sendMs[i] = send;
        trace.arrivalMs[i] = send <= holdUntilMs ? holdUntilMs + Math.floor(random() * 5) : send + delay;
      }
      return trace;
    },
  };
}

export function gcPauses(probability: number): TraceModel {
  return {
    name: "gc-pause",
    description: `5% jitter; w.p. ${probability} per beat the sender stops for 1.5-5 I`,
    generate(count, intervalMs, random) {
      const trace = alloc(count);
      let t = 0;
      for (let i = 0; i < count; i++) {
        if (i > 0) {
          t += Math.max(1, Math.round(intervalMs * (1 + 0.05 * randomNormal(random))));
          // The timer fires once when the pause ends.
          if (random() < probability) t += Math.round(intervalMs * (0.5 + 3.5 * random()));
        }
        trace.sendMs[i] = t;
        trace.arrivalMs[i] = t;
      }
      return trace;
    },
  };
}

export interface InterArrivalSample {
  /** Inter-arrival times divided by their node's median. */
  ratios: Float64Array;
  files: number;
  nodes: number;
}

/**
 * Inter-arrival times per (file, NodeID) of the room-climate traces (the
 * dataset's one loader, firmware/host/room-climate.ts), each normalised by
 * the node's median so that different sensors' periods can be pooled.
 */
export function loadRoomClimateRatios(dir: string): InterArrivalSample {
  const traces = roomClimateTraces(dir);
  if (traces.length === 0) throw new Error(`no room-climate series in ${dir}`);
  const ratios: number[] = [];
  let nodes = 0;
  for (const trace of traces) {
    const gaps: number[] = [];
    for (let i = 1; i < trace.rows.length; i++) {
      const gap = trace.rows[i]!.timeMs - trace.rows[i - 1]!.timeMs;
      if (gap > 0) gaps.push(gap);
    }
    if (gaps.length < 10) continue;
    const median = [...gaps].sort((x, y) => x - y)[gaps.length >> 1]!;
    for (const gap of gaps) ratios.push(gap / median);
    nodes++;
  }
  return { ratios: Float64Array.from(ratios), files: new Set(traces.map((t) => t.file)).size, nodes };
}

export function resampledInterArrivals(name: string, sample: InterArrivalSample): TraceModel {
  return {
    name,
    description: `inter-arrivals resampled from ${sample.ratios.length} real gaps (${sample.nodes} nodes, ${sample.files} files)`,
    generate(count, intervalMs, random) {
      const trace = alloc(count);
      let t = 0;
      for (let i = 0; i < count; i++) {
        if (i > 0) t += Math.max(1, Math.round(intervalMs * (sample.ratios[Math.floor(random() * sample.ratios.length)] as number)));
        trace.sendMs[i] = t;
        trace.arrivalMs[i] = t;
      }
      return trace;
    },
  };
}

/** Arrival times of the heartbeats sent before `crashMs` (all if undefined), sorted. */
export function arrivalsBefore(trace: Trace, crashMs?: number): Float64Array {
  let n = trace.sendMs.length;
  if (crashMs !== undefined) {
    n = 0;
    while (n < trace.sendMs.length && (trace.sendMs[n] as number) < crashMs) n++;
  }
  return trace.arrivalMs.slice(0, n).sort();
}

export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] as number;
}
