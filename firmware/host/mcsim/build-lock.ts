// One firmware build at a time per checkout (mcconfig shares its work
// directory between roles): a lock directory holding the owner's pid. A lock
// whose owner is gone is taken over; waiting is bounded.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

export const buildLockWaitMaxMs = 20 * 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function withBuildLock<T>(root: string, log: (l: string) => void, f: () => Promise<T>): Promise<T> {
  mkdirSync(root, { recursive: true });
  const lock = path.join(root, ".lock");
  const deadline = Date.now() + buildLockWaitMaxMs;
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, "pid"), String(process.pid));
      break;
    } catch {
      let owner = NaN;
      try {
        owner = Number(readFileSync(path.join(lock, "pid"), "utf8"));
      } catch {
        // being created or removed right now
      }
      if (Number.isInteger(owner) && owner !== process.pid && !alive(owner)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`firmware build lock ${lock} held by pid ${owner} for too long`);
      if (!told) {
        log(`[firmware] another firmware build (pid ${owner}) is running; waiting …`);
        told = true;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await f();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
