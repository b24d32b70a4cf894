// The simulation's only source of progress: every effect a simulated port
// performs (a store read, a CAS, a publish, an ack, a checkpoint) is an
// operation queued here and run when the scheduler picks it, in an order
// drawn from the seed. Concurrent async flows (two nodes, two devices, the
// publishes of one batch) therefore interleave in every way the seed can
// reach, and a crashed node is one whose queued operations are dropped: its
// promises never settle, exactly like a process that stopped.

import { randomInt, type RandomSource } from "../../base";

interface Op {
  readonly owner: string;
  /** Virtual time before which the op may not run. */
  readonly atMs: number;
  readonly run: () => void;
}

/** Queued operations at most; reaching it means a flow loops without end (a bug). */
export const opsPendingMax = 100_000;

export class SimScheduler {
  nowMs = 0;
  /** Operations run so far. */
  steps = 0;
  readonly #random: RandomSource;
  #ops: Op[] = [];

  constructor(random: RandomSource) {
    this.#random = random;
  }

  get pending(): number {
    return this.#ops.length;
  }

  /** Queues `effect` for `owner`; the promise settles with its result (or error) when the op runs. */
  defer<T>(owner: string, effect: () => T, delayMs = 0): Promise<T> {
    if (this.#ops.length >= opsPendingMax) throw new Error(`simulation: ${opsPendingMax} operations pending`);
    return new Promise<T>((resolve, reject) => {
      this.#ops.push({
        owner, atMs: this.nowMs + delayMs,
        run: () => {
          try {
            resolve(effect());
          } catch (err) {
            reject(err);
          }
        },
      });
    });
  }

  /** A crash: `owner`'s queued operations never run, its promises never settle. */
  drop(owner: string): void {
    this.#ops = this.#ops.filter((o) => o.owner !== owner);
  }

  /** Runs one ready operation chosen by the seed; false when none is ready now. */
  runOne(): boolean {
    const ready: number[] = [];
    for (let i = 0; i < this.#ops.length; i++) if (this.#ops[i]!.atMs <= this.nowMs) ready.push(i);
    if (ready.length === 0) return false;
    const i = ready[randomInt(this.#random, ready.length)]!;
    const op = this.#ops[i]!;
    this.#ops.splice(i, 1);
    this.steps++;
    op.run();
    return true;
  }

  /** The earliest time a queued operation may run, or undefined when none is queued. */
  nextAtMs(): number | undefined {
    let t: number | undefined;
    for (const o of this.#ops) if (t === undefined || o.atMs < t) t = o.atMs;
    return t;
  }
}

/** Lets every continuation of what just ran queue its next operations: a
 *  macrotask turn runs only after the whole microtask queue has drained.
 *  Deterministic: nothing else is scheduled while a simulation runs. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
