// Bounded window of MsgApp in flight to one follower: the leader stops
// sending when either `countMax` messages or `bytesMax` bytes are unacked.
// A fixed ring buffer: nothing grows past the named limits.

import { assert } from "./types";

export class Inflights {
  readonly countMax: number;
  /** 0 = no byte limit. */
  readonly bytesMax: number;
  #indexes: Float64Array;
  #sizes: Float64Array;
  /** Invariant: 0 <= #start < countMax, 0 <= #count <= countMax. */
  #start = 0;
  #count = 0;
  /** Invariant: #bytes == sum of #sizes over the live window. */
  #bytes = 0;

  constructor(countMax: number, bytesMax: number) {
    assert(Number.isInteger(countMax) && countMax > 0, `inflights countMax must be > 0, got ${countMax}`);
    assert(bytesMax >= 0, `inflights bytesMax must be >= 0, got ${bytesMax}`);
    this.countMax = countMax;
    this.bytesMax = bytesMax;
    this.#indexes = new Float64Array(countMax);
    this.#sizes = new Float64Array(countMax);
  }

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  full(): boolean {
    return this.#count === this.countMax || (this.bytesMax > 0 && this.#bytes >= this.bytesMax);
  }

  /** Records a MsgApp whose last entry is `index`. Indexes must increase. */
  add(index: number, bytes: number): void {
    assert(!this.full(), "cannot add to full inflights");
    if (this.#count > 0) {
      const last = this.#indexes[(this.#start + this.#count - 1) % this.countMax]!;
      assert(index > last, `inflights index ${index} must exceed ${last}`);
    }
    const slot = (this.#start + this.#count) % this.countMax;
    this.#indexes[slot] = index;
    this.#sizes[slot] = bytes;
    this.#count++;
    this.#bytes += bytes;
  }

  /** Frees every message whose last index is <= `to`. */
  freeLE(to: number): void {
    while (this.#count > 0 && this.#indexes[this.#start]! <= to) {
      this.#bytes -= this.#sizes[this.#start]!;
      this.#start = (this.#start + 1) % this.countMax;
      this.#count--;
    }
    if (this.#count === 0) {
      this.#start = 0;
      this.#bytes = 0;
    }
    assert(this.#bytes >= 0, "inflights bytes went negative");
  }

  freeFirstOne(): void {
    if (this.#count === 0) return;
    this.freeLE(this.#indexes[this.#start]!);
  }

  reset(): void {
    this.#start = 0;
    this.#count = 0;
    this.#bytes = 0;
  }
}
