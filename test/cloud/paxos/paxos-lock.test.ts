// The CASPaxos lock (cloud/lock/paxos-lock.ts) through the lock conformance
// suite with in-process acceptors (the same suite runs against acceptor
// processes over NATS in acceptor-processes.test.ts), then what is
// particular to it: retries recognise their own effect, tokens survive
// acceptor restarts, no majority means an error, and the documented clock
// assumption.
import { describe, expect, it } from "vitest";
import { PaxosClient } from "../../../cloud/paxos/client";
import type { Change, OpOutcome } from "../../../cloud/paxos/proposer";
import type { ChangeRunner } from "../../../cloud/paxos/register";
import { LockFailure, PaxosLock } from "../../../cloud/lock";
import { MemoryFencedStore } from "../lock/memory-fenced";
import { runLockConformance } from "../lock/conformance";
import { LocalAcceptors } from "./local-acceptors";

const retry = { retryMinMs: 2, retryMaxMs: 25 };
const local = new LocalAcceptors();
const client = (acceptors = local, attemptsMax?: number): PaxosClient =>
  new PaxosClient(acceptors.transport(), { acceptors: acceptors.ids, attemptTimeoutMs: 200, ...(attemptsMax ? { attemptsMax } : {}) });

runLockConformance("CASPaxos registers (in-process acceptors)", () => new PaxosLock({ client: client(), ownsClient: true, retry }));

/** Runs every change twice, as a retry after an accept whose confirmation was lost: the second run sees the first one's write. */
function retriedOnce(inner: ChangeRunner): ChangeRunner {
  return {
    change<R>(key: string, fn: Change<R>): Promise<OpOutcome<R>> {
      return inner.change(key, (cur) => {
        const first = fn(cur);
        if (!first.write) return first;
        const second = fn({ version: cur.version + 1, data: first.data });
        expect(second.write).toBe(false);
        expect(second.result).toEqual(first.result);
        return { write: true, data: first.data, result: second.result };
      });
    },
  };
}

describe("PaxosLock specifics", () => {
  it("a retried acquire or release recognises its own earlier write (no second token, no false not-holder)", async () => {
    const c = client();
    const lock = new PaxosLock({ client: retriedOnce(c), ownerId: "retrying", retry });
    const r = await lock.acquire("dup", { ttlMs: 10_000, timeoutMs: 0 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(await r.lock.release()).toEqual({ ok: true });
    // A second release call (not a retry) is refused.
    expect(await r.lock.release()).toMatchObject({ ok: false, error: LockFailure.NotHolder });
    await c.close();
  });

  it("tokens keep growing across a restart of every acceptor (the version is persisted)", async () => {
    const acc = new LocalAcceptors();
    const a = new PaxosLock({ client: client(acc), ownsClient: true, retry });
    const first = await a.acquire("restart", { ttlMs: 10_000, timeoutMs: 0 });
    if (!first.ok) throw new Error("acquire failed");
    await first.lock.release();
    for (const id of acc.ids) acc.crash(id);
    for (const id of acc.ids) acc.restart(id);
    const b = new PaxosLock({ client: client(acc), ownsClient: true, retry });
    const second = await b.acquire("restart", { ttlMs: 10_000, timeoutMs: 0 });
    expect(second.ok && second.lock.token).toBeGreaterThan(first.lock.token);
    await a.close();
    await b.close();
  });

  it("works with one acceptor down, and rejects (cannot know) without a majority", async () => {
    const acc = new LocalAcceptors();
    const lock = new PaxosLock({ client: client(acc, 3), ownsClient: true, retry });
    acc.crash(3);
    const held = await lock.acquire("minority", { ttlMs: 10_000, timeoutMs: 0 });
    expect(held.ok).toBe(true);
    acc.crash(2);
    await expect(lock.acquire("minority-2", { ttlMs: 10_000, timeoutMs: 0 })).rejects.toThrow(/unavailable/);
    acc.restart(2);
    acc.restart(3);
    expect(held.ok && (await held.lock.release())).toEqual({ ok: true });
    await lock.close();
  });

  it("judges expiry by the proposer's clock: a client whose clock runs ahead takes a lease early, and fencing still refuses the old holder", async () => {
    const c = client();
    let skewMs = 0;
    const honest = new PaxosLock({ client: c, ownerId: "honest", retry });
    const ahead = new PaxosLock({ client: c, ownerId: "ahead", retry: { ...retry, nowMs: () => Date.now() + skewMs } });
    const resource = new MemoryFencedStore<string>();
    const h = await honest.acquire("skew", { ttlMs: 60_000, timeoutMs: 0 });
    if (!h.ok) throw new Error("acquire failed");
    expect((await resource.writeTokenOnly("r", h.lock.token, "honest", "honest-1")).ok).toBe(true);
    expect((await ahead.acquire("skew", { ttlMs: 60_000, timeoutMs: 0 })).ok).toBe(false);
    skewMs = 61_000; // beyond the assumption: a clock a minute ahead
    const a = await ahead.acquire("skew", { ttlMs: 60_000, timeoutMs: 0 });
    if (!a.ok) throw new Error("the skewed client should see the lease expired");
    expect((await resource.writeTokenOnly("r", a.lock.token, "ahead", "ahead-1")).ok).toBe(true);
    expect(await resource.writeTokenOnly("r", h.lock.token, "honest", "honest-2")).toMatchObject({ ok: false, error: "stale-token" });
    expect(await honest.checkFence("skew", h.lock.token)).toBe(false);
    await c.close();
  });
});
