// In-memory Storage; `snapshot()`/`fromSnapshot()` carry its bytes across a
// simulated reboot. Writes copy, so callers cannot alias stored bytes.
import type { Storage } from "../platform";

export const storageKeyPattern = /^[A-Za-z0-9_]{1,15}$/;

export class MemoryStorage implements Storage {
  readonly #data = new Map<string, Uint8Array>();
  writes = 0;

  read(key: string): Uint8Array | undefined {
    const v = this.#data.get(key);
    return v === undefined ? undefined : v.slice();
  }

  write(key: string, bytes: Uint8Array): void {
    if (!storageKeyPattern.test(key)) throw new Error(`storage key ${JSON.stringify(key)} must match [A-Za-z0-9_]{1,15}`);
    this.#data.set(key, bytes.slice());
    this.writes++;
  }

  remove(key: string): void {
    this.#data.delete(key);
  }

  keys(prefix: string): string[] {
    const out: string[] = [];
    for (const k of this.#data.keys()) if (k.startsWith(prefix)) out.push(k);
    return out;
  }

  /** A copy of everything stored, e.g. to boot a second runtime on the same "flash". */
  clone(): MemoryStorage {
    const s = new MemoryStorage();
    for (const [k, v] of this.#data) s.#data.set(k, v.slice());
    return s;
  }
}
