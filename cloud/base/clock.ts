// Time for cloud code. Pure cores take time as an argument; the edges that
// drive them read it here, so there is one place that says which clock.

/** Wall-clock milliseconds that never step backwards within a process. */
export function monotonicNowMs(): number {
  return Math.floor(performance.timeOrigin + performance.now());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
