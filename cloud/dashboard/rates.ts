// Per-second rates from cumulative counters sampled at irregular times
// (nats-server in_msgs, the fleet's stored telemetry points). Pure: the
// caller passes the time. A counter that goes down (server restart, state
// bucket recreated) restarts the meter instead of showing a negative rate.

export class RateMeter {
  readonly #minIntervalMs: number;
  #last: { atMs: number; value: number } | null = null;
  #rate: number | null = null;

  /** Samples closer together than minIntervalMs keep the previous rate (noise). */
  constructor(minIntervalMs = 500) {
    this.#minIntervalMs = minIntervalMs;
  }

  /** Records a sample; returns the current rate per second (null until two samples). */
  sample(value: number, atMs: number): number | null {
    if (!Number.isFinite(value) || !Number.isFinite(atMs)) return this.#rate;
    const last = this.#last;
    if (last === null || value < last.value || atMs < last.atMs) {
      this.#last = { atMs, value };
      this.#rate = null;
      return null;
    }
    if (atMs - last.atMs < this.#minIntervalMs) return this.#rate;
    this.#rate = ((value - last.value) * 1000) / (atMs - last.atMs);
    this.#last = { atMs, value };
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
