// The presence sweep: devices whose heartbeats stopped are marked offline
// (heartbeat timeout), with an offline event. Each ingest node sweeps the
// devices of the partitions it owns — it is their one writer — those in
// the partitions' caches and, every `fullSweepEvery` sweeps, every device
// in the bucket that falls in an owned partition. Each write runs under the
// partition's device lock and ownership check, as a compare-and-set on the
// revision (a conflict = a foreign write, counted).
//
// Gateway offline (docs/edge.md): an online device whose last uplink came
// through a gateway (`via`) is marked offline when that gateway is offline
// and nothing came from the device since (sweepGatewayPresence). The
// gateway's state is read once per pass (from this node's cache when it owns
// the gateway's partition, else from KV), so a pass costs at most one read
// per distinct gateway. Bound: the gateway's will (or its heartbeat
// timeout) + one sweep interval, for children in the cache; others within
// `fullSweepEvery` sweeps.
import type { Logger } from "../base";
import { DevicePresence } from "../../shared/device-presence";
import type { LoadedState, StoredDeviceState } from "../state";
import { sweepGatewayPresence, sweepPresence, type EventOutput } from "./apply";
import type { OwnedPartition } from "./partition-worker";
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
  /** The partitions this node owns now. */
  owned(): Iterable<OwnedPartition>;
  /** The owned partition of a device, or null when this node does not own it. */
  ownerOf(deviceId: string): OwnedPartition | null;
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
    const { state, cfg, log } = this.#d;
    try {
      const ids = ++this.#sweeps % cfg.fullSweepEvery === 0 ? await state.listDeviceIds() : [...this.#d.owned()].flatMap((o) => o.cache.keys());
      const gateways = new Map<string, Promise<StoredDeviceState | null>>();
      for (const id of ids) {
        if (this.#stopping) break;
        const o = this.#d.ownerOf(id);
        if (o) await o.locks.run(id, () => this.#sweepDevice(o, id, gateways));
      }
    } catch (err) {
      log.warn("ingest: presence sweep failed", { error: String(err) });
    }
  }

  /** A gateway's state, read once per pass. */
  #gateway(id: string, seen: Map<string, Promise<StoredDeviceState | null>>): Promise<StoredDeviceState | null> {
    let p = seen.get(id);
    if (p === undefined) {
      const cached = this.#d.ownerOf(id)?.cache.get(id);
      p = cached !== undefined ? Promise.resolve(cached.state) : this.#d.state.load(id).then((l) => (l.revision > 0 ? l.state : null));
      seen.set(id, p);
    }
    return p;
  }

  async #sweepDevice(o: OwnedPartition, id: string, gateways: Map<string, Promise<StoredDeviceState | null>>): Promise<void> {
    const { state, stats } = this.#d;
    const { cache } = o;
    const loaded = cache.get(id) ?? (await state.load(id));
    if (loaded.revision === 0) return;
    const nowMs = this.#d.nowMs();
    let r = sweepPresence(loaded.state, nowMs, this.#d.cfg);
    if (!r && loaded.state.presence.state === DevicePresence.Online && loaded.state.via !== "") {
      r = sweepGatewayPresence(loaded.state, await this.#gateway(loaded.state.via, gateways), nowMs);
    }
    if (!r || !o.mayWrite()) return;
    const revision = await state.compareAndSet(id, r.state, loaded.revision);
    if (revision === null) { cache.delete(id); stats.foreignWrites++; return; }
    cache.set(id, { state: r.state, revision });
    this.#d.events.event(r.event);
    stats.eventsPublished++;
  }
}
