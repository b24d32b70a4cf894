// Moddable's `timer` module on Node timers (same static API), plus the
// `Timers` seam the runtime uses. Callbacks receive the Timer, as on XS.
import type { TimerId, Timers } from "../platform";

export type TimerCallback = (timer: Timer) => void;

export default class Timer {
  #cb: TimerCallback;
  #handle: NodeJS.Timeout | undefined;
  #interval: NodeJS.Timeout | undefined;

  private constructor(cb: TimerCallback) {
    this.#cb = cb;
  }

  /** Once after `interval` ms, then every `repeat` ms when repeat > 0. */
  static set(cb: TimerCallback, interval = 0, repeat = 0): Timer {
    const t = new Timer(cb);
    t.#arm(interval, repeat);
    return t;
  }

  static repeat(cb: TimerCallback, interval: number): Timer {
    return Timer.set(cb, interval, interval);
  }

  static schedule(timer: Timer, interval = 0, repeat = 0): void {
    timer.#disarm();
    timer.#arm(interval, repeat);
  }

  static clear(timer: Timer | undefined | null): void {
    if (timer) timer.#disarm();
  }

  /** Blocks the thread, as Timer.delay does on a microcontroller. */
  static delay(ms: number): void {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  }

  #arm(interval: number, repeat: number): void {
    this.#handle = setTimeout(() => {
      this.#handle = undefined;
      if (repeat > 0) this.#interval = setInterval(() => this.#cb(this), repeat);
      this.#cb(this);
    }, interval);
  }

  #disarm(): void {
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    if (this.#interval !== undefined) clearInterval(this.#interval);
    this.#handle = this.#interval = undefined;
  }
}

/** The runtime's Timers seam over the Moddable-shaped Timer. */
export const hostTimers: Timers = {
  set: (cb, delayMs) => Timer.set(() => cb(), delayMs),
  repeat: (cb, intervalMs) => Timer.repeat(() => cb(), intervalMs),
  clear: (id: TimerId) => Timer.clear(id as Timer),
};
