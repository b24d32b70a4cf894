// One conformance suite for every DistributedLock backend (Hono style): each
// backend's test file calls runLockConformance with a factory that returns
// a new, independent client (its own ownerId) of one shared backend.
//
// No timed assertions: TTLs are short, but every wait is "until the other
// client gets the lock", bounded by a generous acquire timeout.
import { afterEach, describe, expect, it } from "vitest";
import { LockFailure, type DistributedLock, type HeldLock } from "../../../cloud/lock";
import { MemoryFencedStore } from "./memory-fenced";
import { sleep, until } from "../../harness/wait";

export type NewLock = () => DistributedLock | Promise<DistributedLock>;

const LONG_TTL_MS = 30_000;
const WAIT_MS = 20_000;


async function mustAcquire(lock: DistributedLock, name: string, ttlMs = LONG_TTL_MS, timeoutMs = WAIT_MS): Promise<HeldLock> {
  const r = await lock.acquire(name, { ttlMs, timeoutMs });
  if (!r.ok) throw new Error(`${lock.ownerId} could not acquire ${name}: ${r.error} after ${r.attempts} attempts`);
  return r.lock;
}

export function runLockConformance(backend: string, newLock: NewLock): void {
  describe(`DistributedLock conformance: ${backend}`, () => {
    const open: DistributedLock[] = [];
    let n = 0;
    const lockName = (label: string): string => `conf-${label}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
    const client = async (): Promise<DistributedLock> => {
      const l = await newLock();
      open.push(l);
      return l;
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((l) => l.close()));
    });

    it("grants a free lock with a positive token; release frees it", async () => {
      const [a, b] = [await client(), await client()];
      const name = lockName("basic");
      const held = await mustAcquire(a, name);
      expect(held.token).toBeGreaterThan(0);
      expect(held.name).toBe(name);
      expect(await a.checkFence(name, held.token)).toBe(true);
      expect(await held.release()).toEqual({ ok: true });
      expect(await a.checkFence(name, held.token)).toBe(false);
      const next = await mustAcquire(b, name, LONG_TTL_MS, 0);
      expect(next.token).toBeGreaterThan(held.token);
      await next.release();
    });

    it("keeps mutual exclusion among many concurrent acquirers, with increasing tokens", async () => {
      const clients = await Promise.all(Array.from({ length: 8 }, () => client()));
      const name = lockName("mutex");
      let inside = 0;
      let maxInside = 0;
      const tokens: number[] = [];
      await Promise.all(clients.map(async (c) => {
        for (let i = 0; i < 4; i++) {
          const held = await mustAcquire(c, name);
          inside++;
          maxInside = Math.max(maxInside, inside);
          tokens.push(held.token);
          await sleep(1 + Math.floor(Math.random() * 3));
          inside--;
          expect(await held.release()).toEqual({ ok: true });
        }
      }));
      expect(maxInside).toBe(1);
      expect(tokens).toHaveLength(32);
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    });

    it("returns a typed timeout failure when the lock stays held", async () => {
      const [a, b] = [await client(), await client()];
      const name = lockName("timeout");
      const held = await mustAcquire(a, name);
      const r = await b.acquire(name, { ttlMs: 1_000, timeoutMs: 150 });
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error).toBe(LockFailure.Timeout);
        expect(r.attempts).toBeGreaterThanOrEqual(1);
        expect(r.waitedMs).toBeGreaterThanOrEqual(100);
      }
      const once = await b.acquire(name, { ttlMs: 1_000, timeoutMs: 0 });
      expect(once).toMatchObject({ ok: false, error: LockFailure.Timeout, attempts: 1 });
      // Not reentrant: the holder itself waits too.
      const again = await a.acquire(name, { ttlMs: 1_000, timeoutMs: 0 });
      expect(again.ok).toBe(false);
      await held.release();
    });

    it("refuses release and extend by a non-holder or with a wrong token", async () => {
      const [a, b] = [await client(), await client()];
      const name = lockName("nonholder");
      const held = await mustAcquire(a, name);
      expect(await b.release(name, held.token)).toMatchObject({ ok: false, error: LockFailure.NotHolder });
      expect(await b.extend(name, held.token, 1_000)).toMatchObject({ ok: false, error: LockFailure.NotHolder });
      expect(await a.release(name, held.token + 1000)).toMatchObject({ ok: false, error: LockFailure.NotHolder });
      expect(await a.release(lockName("other"), held.token)).toMatchObject({ ok: false, error: LockFailure.NotHolder });
      expect(await a.checkFence(name, held.token)).toBe(true);
      expect(await held.release()).toEqual({ ok: true });
      expect(await held.release()).toMatchObject({ ok: false, error: LockFailure.NotHolder });
    });

    it("lets another client acquire after the TTL expires; the old holder can no longer release or extend", async () => {
      const [a, b] = [await client(), await client()];
      const name = lockName("ttl");
      const old = await mustAcquire(a, name, 100);
      const next = await mustAcquire(b, name, LONG_TTL_MS, WAIT_MS);
      expect(next.token).toBeGreaterThan(old.token);
      expect(await old.extend()).toMatchObject({ ok: false, error: LockFailure.NotHolder });
      expect(await old.release()).toMatchObject({ ok: false, error: LockFailure.NotHolder });
      expect(await b.checkFence(name, next.token)).toBe(true);
      await next.release();
    });

    it("extend keeps the lock past its original TTL", async () => {
      const [a, b] = [await client(), await client()];
      const name = lockName("extend");
      const held = await mustAcquire(a, name, 500);
      expect(await held.extend(LONG_TTL_MS)).toEqual({ ok: true });
      // Waits twice the original TTL: without the extension this would succeed.
      const r = await b.acquire(name, { ttlMs: 1_000, timeoutMs: 1_000 });
      expect(r.ok).toBe(false);
      expect(await a.checkFence(name, held.token)).toBe(true);
      await held.release();
    });

    it("issues strictly increasing tokens across holders, releases and expiries", async () => {
      const clients = await Promise.all([client(), client(), client()]);
      const name = lockName("tokens");
      const tokens: number[] = [];
      for (let i = 0; i < 9; i++) {
        const c = clients[i % 3]!;
        const expire = i % 3 === 1;
        const held = await mustAcquire(c, name, expire ? 50 : LONG_TTL_MS);
        tokens.push(held.token);
        if (!expire) await held.release();
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
    });

    it("fences out a holder paused past its TTL", async () => {
      const [a, b] = [await client(), await client()];
      const name = lockName("paused");
      const resource = new MemoryFencedStore<string>();
      const zombie = await mustAcquire(a, name, 150);
      expect(await resource.writeTokenOnly("r", zombie.token, "a", "a-1")).toMatchObject({ ok: true });
      // `a` now "pauses": no extend. `b` gets the lock once a's TTL has run out.
      const live = await mustAcquire(b, name, LONG_TTL_MS, WAIT_MS);
      expect(await b.checkFence(name, zombie.token)).toBe(false);
      expect(await b.checkFence(name, live.token)).toBe(true);
      expect(await resource.writeTokenOnly("r", live.token, "b", "b-1")).toMatchObject({ ok: true });
      // `a` wakes up and writes as if it still held the lock.
      expect(await a.checkFence(name, zombie.token)).toBe(false);
      expect(await resource.writeTokenOnly("r", zombie.token, "a", "a-2")).toMatchObject({ ok: false, error: "stale-token", highestToken: live.token });
      expect((await resource.read("r"))?.value).toBe("b-1");
      expect(await zombie.extend()).toMatchObject({ ok: false, error: LockFailure.NotHolder });
      await live.release();
    });

    it("fences a paused holder even before anyone else takes the lock (checkFence)", async () => {
      const a = await client();
      const name = lockName("paused-alone");
      const zombie = await mustAcquire(a, name, 100);
      await until("the paused holder's lock to expire", async () => !(await a.checkFence(name, zombie.token)), { timeoutMs: WAIT_MS, intervalMs: 20 });
      expect(await zombie.release()).toMatchObject({ ok: false, error: LockFailure.NotHolder });
    });

    it("rejects invalid arguments as programming errors", async () => {
      const a = await client();
      await expect(a.acquire("", { ttlMs: 100, timeoutMs: 0 })).rejects.toThrow(RangeError);
      await expect(a.acquire("has space", { ttlMs: 100, timeoutMs: 0 })).rejects.toThrow(RangeError);
      await expect(a.acquire(lockName("bad"), { ttlMs: 0, timeoutMs: 0 })).rejects.toThrow(RangeError);
      await expect(a.acquire(lockName("bad"), { ttlMs: 100, timeoutMs: -1 })).rejects.toThrow(RangeError);
      await expect(a.acquire("x".repeat(200), { ttlMs: 100, timeoutMs: 0 })).rejects.toThrow(RangeError);
      expect(await a.checkFence(lockName("none"), 1)).toBe(false);
    });
  });
}
