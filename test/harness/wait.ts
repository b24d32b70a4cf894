// Waiting in tests: the one home. Tests wait on events or states, never on
// time: a probe is polled until it yields, with a generous deadline (a slow
// shared CI machine must not fail a correct test) and a message that says
// what did not happen, the last error the probe threw and any detail the
// caller can add (logs, last state).

export interface WaitOptions {
  /** Give up after this long; default waitTimeoutMsDefault. */
  timeoutMs?: number;
  /** Pause between probes; default 25 ms. */
  intervalMs?: number;
  /** Appended to the timeout message: logs, the last state seen, … */
  detail?: () => string;
}

/** Half the per-test timeout (vitest.config.ts), so the wait, not vitest, reports. */
export const waitTimeoutMsDefault = 30_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function options(o: WaitOptions | number | undefined): Required<Omit<WaitOptions, "detail">> & Pick<WaitOptions, "detail"> {
  const w = typeof o === "number" ? { timeoutMs: o } : (o ?? {});
  return { timeoutMs: w.timeoutMs ?? waitTimeoutMsDefault, intervalMs: w.intervalMs ?? 25, ...(w.detail ? { detail: w.detail } : {}) };
}

/**
 * Polls `probe` until it yields a value — anything but undefined, null or
 * false — and returns it. A probe that throws counts as "not yet"; the last
 * error is part of the timeout message.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts?: WaitOptions | number,
): Promise<T> {
  const o = options(opts);
  const deadline = Date.now() + o.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last === undefined ? "" : `; last error: ${last instanceof Error ? last.message : String(last)}`;
      throw new Error(`timed out after ${o.timeoutMs} ms waiting for ${what}${why}${o.detail ? `\n${o.detail()}` : ""}`);
    }
    await sleep(o.intervalMs);
  }
}

/** Waits until `cond` holds. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, opts?: WaitOptions | number): Promise<void> {
  await waitFor(what, async () => (await cond()) || undefined, opts);
}

/** Settles like `p`, or rejects with `what` once `timeoutMs` passed. */
export async function withTimeout<T>(what: string, p: Promise<T>, timeoutMs = waitTimeoutMsDefault): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
