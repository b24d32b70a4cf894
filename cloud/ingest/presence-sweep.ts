// The presence sweep: devices whose heartbeats stopped are marked offline
// (heartbeat timeout), with an offline event. A unit of its own so an
// orchestrator can run it as singleton work; today every ingest node sweeps
// the devices in its cache and, every `fullSweepEvery` sweeps, every device
// in the bucket. Each write is a compare-and-set under the device lock, so
// sweeps on several nodes (or a sweep racing a batch) never lose an update.
import type { Logger } from "../base";
import type { LoadedState, StoredDeviceState } from "../state";
import { sweepPresence, type EventOutput } from "./apply";
import type { DeviceLocks, StateCache } from "./cache";
import type { IngestConfig } from "./settings";
import type { IngestStats } from "./types";

/** The state store as the sweep uses it. */
export interface SweepStatePort {
  load(deviceId: string): Promise<LoadedState>;
  compareAndSet(deviceId: string, state: StoredDeviceState, revision: number): Promise<number | null>;
  listDeviceIds(): Promise<string[]>;
}

export interface PresenceSweepDeps {
  cfg: Pick<IngestConfig, "sweepIntervalMs" | "fullSweepEvery" | "heartbeatTimeoutFactor" | "heartbeatIntervalDefaultMs">;
  state: SweepStatePort;
  events: { event(e: EventOutput): void };
  cache: StateCache;
  locks: DeviceLocks;
  stats: IngestStats;
  log: Logger;
  nowMs: () => number;
}

export class PresenceSweep {
  readonly #d: PresenceSweepDeps;
  #sweeps = 0;
  #running: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopping = false;

  constructor(deps: PresenceSweepDeps) {
    this.#d = deps;
  }

  start(): void {
    this.#timer = setInterval(() => void this.sweepOnce(), this.#d.cfg.sweepIntervalMs);
  }

  /** One pass; a pass already running is not started again. Never throws. */
  sweepOnce(): Promise<void> {
    if (this.#running || this.#stopping) return this.#running ?? Promise.resolve();
    this.#running = this.#pass().finally(() => { this.#running = null; });
    return this.#running;
  }

  /** No new passes; resolves once the running one finished. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  async #pass(): Promise<void> {
    const { state, cache, cfg, log } = this.#d;
    try {
      const ids = ++this.#sweeps % cfg.fullSweepEvery === 0 ? await state.listDeviceIds() : cache.keys();
      for (const id of ids) {
        if (this.#stopping) break;
        await this.#d.locks.run(id, () => this.#sweepDevice(id));
      }
    } catch (err) {
      log.warn("ingest: presence sweep failed", { error: String(err) });
    }
  }

  async #sweepDevice(id: string): Promise<void> {
    const { state, cache, stats } = this.#d;
    const loaded = cache.get(id) ?? (await state.load(id));
    if (loaded.revision === 0) return;
    const r = sweepPresence(loaded.state, this.#d.nowMs(), this.#d.cfg);
    if (!r) return;
    const revision = await state.compareAndSet(id, r.state, loaded.revision);
    if (revision === null) { cache.delete(id); stats.casRetries++; return; }
    cache.set(id, { state: r.state, revision });
    this.#d.events.event(r.event);
    stats.eventsPublished++;
  }
}
