// The load generator the consensus benchmarks share (bench:raft,
// bench:consensus): `concurrency` closed-loop workers run `op` back to back
// for `seconds` after a short warm-up; latency percentiles and throughput
// over the measured window. Worker w always gets the same index, so a target
// can give each worker its own key.
import { performance } from "node:perf_hooks";

export interface Target {
  readonly name: string;
  /** Prepares worker `w` (e.g. registers its key). */
  prepare(w: number): Promise<void>;
  write(w: number): Promise<void>;
  read(w: number): Promise<void>;
  close(): Promise<void>;
}

export interface Point { opsPerSec: number; p50Ms: number; p99Ms: number; errors: number }

export function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function drive(concurrency: number, seconds: number, op: (w: number) => Promise<void>): Promise<Point> {
  const lat: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const worker = async (w: number): Promise<void> => {
    while (!stop) {
      const t0 = performance.now();
      try {
        await op(w);
        if (measuring) lat.push(performance.now() - t0);
      } catch {
        if (measuring) errors++;
      }
    }
  };
  const running = Array.from({ length: concurrency }, (_, w) => worker(w));
  await sleep(Math.min(1000, seconds * 250)); // warm-up
  measuring = true;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(running);
  lat.sort((a, b) => a - b);
  return { opsPerSec: lat.length / elapsed, p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99), errors };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

/** Prints rows as a table with the first column left-aligned and the rest right-aligned. */
export function printTable(lines: readonly (readonly string[])[]): void {
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? "").length)));
  for (const l of lines) console.log(l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
}
