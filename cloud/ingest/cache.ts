// Per-node helpers around device state: a bounded LRU of (state, revision)
// so a busy device costs one KV write per batch and no read, and a per-device
// lock so batches of different sources on this node do not race each other
// (races between nodes are settled by the KV compare-and-set).
import type { LoadedState } from "../state";

export class StateCache {
  readonly #map = new Map<string, LoadedState>();

  constructor(readonly entriesMax: number) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1) throw new Error(`state cache size must be >= 1, got ${entriesMax}`);
  }

  get(deviceId: string): LoadedState | undefined {
    const e = this.#map.get(deviceId);
    if (e) {
      this.#map.delete(deviceId);
      this.#map.set(deviceId, e);
    }
    return e;
  }

  set(deviceId: string, e: LoadedState): void {
    this.#map.delete(deviceId);
    this.#map.set(deviceId, e);
    while (this.#map.size > this.entriesMax) this.#map.delete(this.#map.keys().next().value as string);
  }

  delete(deviceId: string): void {
    this.#map.delete(deviceId);
  }

  keys(): string[] {
    return [...this.#map.keys()];
  }

  get size(): number {
    return this.#map.size;
  }
}

export class DeviceLocks {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `fn` after every earlier `run` for the same device has settled. */
  run<T>(deviceId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(deviceId) ?? Promise.resolve();
    const result = prev.then(fn);
    const tail = result.then(() => undefined, () => undefined);
    this.#tails.set(deviceId, tail);
    void tail.then(() => {
      if (this.#tails.get(deviceId) === tail) this.#tails.delete(deviceId);
    });
    return result;
  }

  get size(): number {
    return this.#tails.size;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
