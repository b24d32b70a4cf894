// Per-second rates from cumulative counters sampled at irregular times
// (nats-server in_msgs, the fleet's stored telemetry points). Pure: the
// caller passes the time. A counter that goes down (server restart, state
// bucket recreated) restarts the meter instead of showing a negative rate.

export class RateMeter {
  readonly #minIntervalMs: number;
  readonly #windowMs: number;
  /** Samples in the window, oldest first; the rate spans first to last. */
  #samples: { atMs: number; value: number }[] = [];
  #rate: number | null = null;

  /**
   * Samples closer together than minIntervalMs keep the previous rate (noise).
   * windowMs 0: the rate over the last interval; otherwise over about the last windowMs.
   */
  constructor(minIntervalMs = 500, windowMs = 0) {
    this.#minIntervalMs = minIntervalMs;
    this.#windowMs = windowMs;
  }

  /** Records a sample; returns the current rate per second (null until two samples). */
  sample(value: number, atMs: number): number | null {
    if (!Number.isFinite(value) || !Number.isFinite(atMs)) return this.#rate;
    const q = this.#samples;
    const last = q[q.length - 1];
    if (last === undefined || value < last.value || atMs < last.atMs) {
      this.#samples = [{ atMs, value }];
      this.#rate = null;
      return null;
    }
    if (atMs - last.atMs < this.#minIntervalMs) return this.#rate;
    q.push({ atMs, value });
    while (q.length > 2 && atMs - q[1]!.atMs >= this.#windowMs) q.shift();
    const first = q[0]!;
    this.#rate = atMs > first.atMs ? ((value - first.value) * 1000) / (atMs - first.atMs) : this.#rate;
    return this.#rate;
  }

  get rate(): number | null {
    return this.#rate;
  }
}

/** One meter per key (e.g. per monitored server); forgets keys not sampled. */
export class RateMeters {
  readonly #meters = new Map<string, RateMeter>();
  readonly #keysMax: number;

  constructor(keysMax: number) {
    this.#keysMax = keysMax;
  }

  /** Samples every key given and returns the sum of the known rates (null if none). */
  sampleAll(values: ReadonlyMap<string, number>, atMs: number): number | null {
    for (const k of [...this.#meters.keys()]) if (!values.has(k)) this.#meters.delete(k);
    let sum: number | null = null;
    for (const [k, v] of values) {
      let m = this.#meters.get(k);
      if (!m) {
        if (this.#meters.size >= this.#keysMax) continue;
        m = new RateMeter();
        this.#meters.set(k, m);
      }
      const r = m.sample(v, atMs);
      if (r !== null) sum = (sum ?? 0) + r;
    }
    return sum;
  }
}
