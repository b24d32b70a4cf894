// A bounded pool of NATS connections for paths where one socket is the
// bottleneck (one connection = one read loop and one write buffer in the
// client, one client goroutine in the server). Used by the cache: its node
// serves its subject on every connection of the pool, its client's
// requests go through `use` (docs/data-plane.md "Pools" has the figures).
//
// - Bounded size: 1..NATS_POOL_SIZE_MAX connections, opened up front.
// - Health: each connection's status stream marks it down on disconnect
//   and up on reconnect, and a periodic RTT probe (healthCheckMs) marks a
//   connection that does not answer within probeTimeoutMs as unhealthy;
//   `use` picks healthy connections only (any, when none is healthy:
//   the client buffers while it reconnects).
// - Back-pressure: `use` admits at most inflightMax operations at once;
//   up to waitersMax more wait in FIFO order, beyond that `use` fails at
//   once with PoolExhausted (counted) rather than queueing without bound.
// - Metrics: `stats` (size, healthy, inflight, waiting, acquired, waits,
//   rejected, probeFailures), exported by the node (docs/observability.md).
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats, type NatsSettings } from "./connection";

export const NATS_POOL_SIZE_MAX = 64;

export interface NatsPoolOptions {
  inflightMax?: number;
  waitersMax?: number;
  /** Period of the RTT probe; 0 turns it off. */
  healthCheckMs?: number;
  probeTimeoutMs?: number;
}

export interface NatsPoolStats {
  size: number;
  healthy: number;
  inflight: number;
  waiting: number;
  acquired: number;
  /** Operations that had to wait for a slot. */
  waits: number;
  /** Operations refused because the wait queue was full. */
  rejected: number;
  probeFailures: number;
}

export class PoolExhausted extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PoolExhausted";
  }
}

interface Slot {
  readonly nc: NatsConnection;
  up: boolean;
  probeOk: boolean;
  inflight: number;
}

export class NatsPool {
  readonly #slots: Slot[];
  readonly #inflightMax: number;
  readonly #waitersMax: number;
  readonly #waiters: (() => void)[] = [];
  readonly #timer: NodeJS.Timeout | null;
  readonly #probeTimeoutMs: number;
  #next = 0;
  #inflight = 0;
  #closed = false;
  readonly #counts = { acquired: 0, waits: 0, rejected: 0, probeFailures: 0 };

  private constructor(conns: NatsConnection[], o: NatsPoolOptions) {
    this.#slots = conns.map((nc) => ({ nc, up: true, probeOk: true, inflight: 0 }));
    this.#inflightMax = o.inflightMax ?? 1024;
    this.#waitersMax = o.waitersMax ?? 4096;
    this.#probeTimeoutMs = o.probeTimeoutMs ?? 2_000;
    if (!Number.isSafeInteger(this.#inflightMax) || this.#inflightMax < 1) throw new Error(`inflightMax must be a positive integer, got ${this.#inflightMax}`);
    if (!Number.isSafeInteger(this.#waitersMax) || this.#waitersMax < 0) throw new Error(`waitersMax must be a non-negative integer, got ${this.#waitersMax}`);
    for (const s of this.#slots) void this.#watch(s);
    const every = o.healthCheckMs ?? 5_000;
    this.#timer = every > 0 ? setInterval(() => void this.probe(), every) : null;
    this.#timer?.unref();
  }

  static async open(s: NatsSettings, size: number, o: NatsPoolOptions = {}): Promise<NatsPool> {
    if (!Number.isInteger(size) || size < 1 || size > NATS_POOL_SIZE_MAX) throw new Error(`NATS pool size must be 1..${NATS_POOL_SIZE_MAX}, got ${size}`);
    const conns = await Promise.all(Array.from({ length: size }, (_, i) => connectNats({ ...s, name: `${s.name}#${i}` })));
    return new NatsPool(conns, o);
  }

  get size(): number {
    return this.#slots.length;
  }

  get stats(): NatsPoolStats {
    return {
      size: this.#slots.length, healthy: this.#slots.filter((s) => this.#healthy(s)).length,
      inflight: this.#inflight, waiting: this.#waiters.length, ...this.#counts,
    };
  }

  all(): readonly NatsConnection[] {
    return this.#slots.map((s) => s.nc);
  }

  /** Runs `fn` on the least-loaded healthy connection, within the pool's in-flight bound. */
  async use<T>(fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
    if (this.#closed) throw new PoolExhausted("NATS pool is closed");
    if (this.#inflight >= this.#inflightMax) {
      if (this.#waiters.length >= this.#waitersMax) {
        this.#counts.rejected++;
        throw new PoolExhausted(`NATS pool busy: ${this.#inflight} in flight and ${this.#waiters.length} waiting`);
      }
      this.#counts.waits++;
      // The finishing operation hands its slot over (inflight stays counted), so nobody overtakes a waiter.
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    } else {
      this.#inflight++;
    }
    const slot = this.#pick();
    slot.inflight++;
    this.#counts.acquired++;
    try {
      return await fn(slot.nc);
    } finally {
      slot.inflight--;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#inflight--;
    }
  }

  /** One RTT probe of every connection; a connection that does not answer in time is unhealthy until one does. */
  async probe(): Promise<void> {
    await Promise.all(this.#slots.map(async (s) => {
      if (s.nc.isClosed()) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<false>((r) => { timer = setTimeout(() => r(false), this.#probeTimeoutMs); });
      const ok = await Promise.race([s.nc.rtt().then(() => true, () => false), late]);
      clearTimeout(timer);
      if (!ok) this.#counts.probeFailures++;
      s.probeOk = ok;
    }));
  }

  async drain(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const w of this.#waiters.splice(0)) w();
    // A disconnected connection would wait for a reconnect to drain: closed instead.
    await Promise.all(this.#slots.map((s) => (s.nc.isClosed() ? Promise.resolve() : s.up ? s.nc.drain().catch(() => s.nc.close()) : s.nc.close())));
  }

  #healthy(s: Slot): boolean {
    return s.up && s.probeOk && !s.nc.isClosed();
  }

  /** The least-loaded healthy slot (ties: round-robin). */
  #pick(): Slot {
    const healthy = this.#slots.filter((s) => this.#healthy(s));
    const from = healthy.length > 0 ? healthy : this.#slots;
    let best = from[this.#next++ % from.length]!;
    for (const s of from) if (s.inflight < best.inflight) best = s;
    return best;
  }

  async #watch(s: Slot): Promise<void> {
    for await (const st of s.nc.status()) {
      if (st.type === "disconnect") s.up = false;
      else if (st.type === "reconnect") s.up = true;
    }
  }
}
