// Simulated time: a clock and a timer queue driven only by `advance(ms)`.
// Timers due at the same instant run in the order they were set, so a
// scenario replays identically on Node and on XS.
import type { Clock, TimerId, Timers } from "../platform";

interface SimTimer {
  id: number;
  dueMs: number;
  intervalMs: number; // 0 = one-shot
  cb: () => void;
  order: number;
}

/** Runaway guard: most timer callbacks one `advance` may run. */
export const callbacksPerAdvanceMax = 10_000_000;

export class SimClock implements Clock, Timers {
  readonly #wallBaseMs: number;
  #nowMs = 0;
  #nextId = 1;
  #order = 0;
  readonly #timers = new Map<number, SimTimer>();

  /** `wallBaseMs` is the epoch time at uptime 0. */
  constructor(wallBaseMs = 1_700_000_000_000) {
    this.#wallBaseMs = wallBaseMs;
  }

  uptimeMs(): number {
    return this.#nowMs;
  }

  wallMs(): number {
    return this.#wallBaseMs + this.#nowMs;
  }

  set(cb: () => void, delayMs: number): TimerId {
    return this.#add(cb, delayMs, 0);
  }

  repeat(cb: () => void, intervalMs: number): TimerId {
    if (!(intervalMs > 0)) throw new Error(`repeat interval must be > 0, got ${intervalMs}`);
    return this.#add(cb, intervalMs, intervalMs);
  }

  clear(id: TimerId): void {
    this.#timers.delete(id as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** Runs every timer due up to now + ms, in due-time order, then sets the clock there. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`advance needs ms >= 0, got ${ms}`);
    const end = this.#nowMs + ms;
    for (let ran = 0; ; ran++) {
      if (ran > callbacksPerAdvanceMax) throw new Error("simulated timers run away (a 0 ms timer re-arming itself?)");
      const t = this.#earliest(end);
      if (t === undefined) break;
      this.#nowMs = t.dueMs;
      if (t.intervalMs > 0) {
        t.dueMs += t.intervalMs;
        t.order = this.#order++;
      } else {
        this.#timers.delete(t.id);
      }
      t.cb();
    }
    this.#nowMs = end;
  }

  #add(cb: () => void, delayMs: number, intervalMs: number): number {
    const id = this.#nextId++;
    const d = delayMs > 0 ? delayMs : 0;
    this.#timers.set(id, { id, dueMs: this.#nowMs + d, intervalMs, cb, order: this.#order++ });
    return id;
  }

  #earliest(end: number): SimTimer | undefined {
    let best: SimTimer | undefined;
    for (const t of this.#timers.values()) {
      if (t.dueMs > end) continue;
      if (best === undefined || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.order < best.order)) best = t;
    }
    return best;
  }
}

/** Deterministic PRNG (mulberry32) for the Random seam. */
export class SeededRandom {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  u32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}
