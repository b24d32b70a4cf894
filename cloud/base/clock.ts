// Time for cloud code. Pure cores take time as an argument; the edges that
// drive them read it here, so there is one place that says which clock.

/** Wall-clock milliseconds that never step backwards within a process. */
export function monotonicNowMs(): number {
  return Math.floor(performance.timeOrigin + performance.now());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `p` at most `ms`: true when it settled in time (either way), false when the wait ran out. Never rejects. */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const out = await Promise.race([
    p.then(() => true, () => true),
    new Promise<boolean>((r) => { timer = setTimeout(() => r(false), ms); }),
  ]);
  clearTimeout(timer);
  return out;
}
