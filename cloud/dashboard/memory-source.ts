// An in-memory DashboardSource: snapshots and events are pushed in by the
// owner. Used by the unit tests and by the demo (demo.ts); also a reference
// for what a source must do.
import type {
  ClusterSnapshot, DashboardEventInput, DashboardEventListener, DashboardSource, FleetSnapshot, HistoryPoint, HistoryQuery,
} from "./types";

export const memoryListenersMax = 64;

export function emptyCluster(nowMs: number): ClusterSnapshot {
  return {
    generatedMs: nowMs, servers: [], streams: [], cloudNodes: [], processes: [],
    traffic: { msgsPerSec: null, pointsPerSec: null, consumerLag: null, deadLetters: null }, errors: [],
  };
}

export class MemoryDashboardSource implements DashboardSource {
  fleetSnapshot: FleetSnapshot;
  clusterSnapshot: ClusterSnapshot;
  /** Points per `${deviceId}/${channel}`, time order; null disables history(). */
  readonly historyPoints: Map<string, HistoryPoint[]> | null;
  /** Calls made, so tests can check caching. */
  fleetCalls = 0;
  clusterCalls = 0;
  /** When set, fleet()/cluster() reject with it. */
  failWith: Error | null = null;
  readonly #listeners = new Set<DashboardEventListener>();

  constructor(init: { fleet?: FleetSnapshot; cluster?: ClusterSnapshot; history?: boolean; nowMs?: number } = {}) {
    const nowMs = init.nowMs ?? Date.now();
    this.fleetSnapshot = init.fleet ?? { generatedMs: nowMs, devices: [], truncated: false, errors: [] };
    this.clusterSnapshot = init.cluster ?? emptyCluster(nowMs);
    this.historyPoints = init.history ? new Map() : null;
    if (!init.history) this.history = undefined;
  }

  async fleet(): Promise<FleetSnapshot> {
    this.fleetCalls++;
    if (this.failWith) throw this.failWith;
    return this.fleetSnapshot;
  }

  async cluster(): Promise<ClusterSnapshot> {
    this.clusterCalls++;
    if (this.failWith) throw this.failWith;
    return this.clusterSnapshot;
  }

  events(listener: DashboardEventListener): () => void {
    if (this.#listeners.size >= memoryListenersMax) throw new Error(`more than ${memoryListenersMax} event listeners`);
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  emit(event: DashboardEventInput): void {
    for (const l of this.#listeners) l(event);
  }

  history?: (q: HistoryQuery) => Promise<HistoryPoint[]> = async (q) => {
    const points = this.historyPoints?.get(`${q.deviceId}/${q.channel}`) ?? [];
    return points.filter((p) => p.timeMs >= q.fromMs && p.timeMs <= q.toMs).slice(-q.limit);
  };
}
