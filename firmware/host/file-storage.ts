// Storage on files: one file per key in a state directory. A write goes to
// a temporary file, is fsynced, then renamed over the key (atomic on POSIX),
// so a crash leaves either the old or the new bytes, never a torn file.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import type { Storage } from "../platform";

const keyPattern = /^[A-Za-z0-9_]{1,15}$/;
const tmpSuffix = ".tmp";

export class FileStorage implements Storage {
  readonly dir: string;
  readonly #fsync: boolean;

  /** `fsync: false` trades durability on power loss for speed (large simulated fleets). */
  constructor(dir: string, opts: { fsync?: boolean } = {}) {
    this.dir = dir;
    this.#fsync = opts.fsync ?? true;
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) if (f.endsWith(tmpSuffix)) rmSync(path.join(dir, f), { force: true });
  }

  read(key: string): Uint8Array | undefined {
    checkKey(key);
    try {
      const b = readFileSync(path.join(this.dir, key));
      return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  write(key: string, bytes: Uint8Array): void {
    checkKey(key);
    const file = path.join(this.dir, key);
    const tmp = file + tmpSuffix;
    const fd = openSync(tmp, "w");
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      if (this.#fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  }

  remove(key: string): void {
    checkKey(key);
    rmSync(path.join(this.dir, key), { force: true });
  }

  keys(prefix: string): string[] {
    return readdirSync(this.dir).filter((f) => f.startsWith(prefix) && !f.endsWith(tmpSuffix));
  }
}

function checkKey(key: string): void {
  if (!keyPattern.test(key)) throw new Error(`storage key ${JSON.stringify(key)} must match [A-Za-z0-9_]{1,15}`);
}
