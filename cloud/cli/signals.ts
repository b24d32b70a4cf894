// Stop requests of a long-running command: the first SIGINT/SIGTERM (or the
// end of an optional duration) asks for a graceful stop; a second signal
// during the stop asks to force it. A terminal that delivers one Ctrl-C to
// several processes, or a wrapper (npm) that forwards it, can hand the same
// keypress over twice within moments, so repeats closer than
// `repeatIgnoreMs` to the first count as the same request.

export interface StopRequests {
  /** Resolves with "SIGINT", "SIGTERM" or "duration" at the first request. */
  readonly first: Promise<string>;
  /** Called for each later signal (the user insists: force the stop). */
  onRepeat(listener: (signal: string) => void): void;
  /** Removes the signal handlers. */
  dispose(): void;
}

export const repeatIgnoreMs = 1_000;

export function stopRequests(durationS?: number): StopRequests {
  let firstAtMs = 0;
  let resolveFirst: (why: string) => void = () => undefined;
  const first = new Promise<string>((r) => (resolveFirst = r));
  const repeatListeners: ((signal: string) => void)[] = [];
  const request = (why: string): void => {
    if (firstAtMs === 0) {
      firstAtMs = Date.now();
      if (timer) clearTimeout(timer);
      resolveFirst(why);
      return;
    }
    if (why === "duration" || Date.now() - firstAtMs < repeatIgnoreMs) return;
    for (const l of repeatListeners) l(why);
  };
  const onInt = (): void => request("SIGINT");
  const onTerm = (): void => request("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  const timer = durationS !== undefined ? setTimeout(() => request("duration"), durationS * 1000) : undefined;
  return {
    first,
    onRepeat: (l) => { repeatListeners.push(l); },
    dispose: () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      if (timer) clearTimeout(timer);
    },
  };
}

/** Resolves on SIGINT/SIGTERM (first one) or after an optional duration. */
export function waitForSignalOrTimeout(durationS?: number): Promise<string> {
  const r = stopRequests(durationS);
  return r.first.finally(() => r.dispose());
}
