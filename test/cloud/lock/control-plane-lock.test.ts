// The control-plane backend over an in-process state machine (the same
// Proposer seam Raft will fill), with the leader clock = wall clock.
import { describe, expect, it } from "vitest";
import { ControlStateMachine } from "../../../cloud/control/state-machine";
import { CommandKind, type ApplyResult, type Command, type Proposer, type SessionRef } from "../../../cloud/control/types";
import { ControlPlaneLock } from "../../../cloud/lock/control-plane-lock";
import { runLockConformance } from "./conformance";
import { localProposer } from "../../harness/local-proposer";

const sm = new ControlStateMachine();
const propose = localProposer(sm);
const retry = { retryMinMs: 2, retryMaxMs: 25 };

runLockConformance("control plane (in-process state machine)", () => new ControlPlaneLock({ propose, retry }));

describe("ControlPlaneLock specifics", () => {
  it("a retried proposal (same session seq) does not take a second token", async () => {
    const machine = new ControlStateMachine();
    const inner = localProposer(machine, { nowMs: () => 1_000 });
    // Deliver every proposal twice, as a retry after a leader change would.
    const twice: Proposer = async (cmd: Command, session?: SessionRef): Promise<ApplyResult> => {
      const first = await inner(cmd, session);
      const second = await inner(cmd, session);
      expect(second).toEqual(first);
      return second;
    };
    const lock = new ControlPlaneLock({ propose: twice, ownerId: "retrying-client", retry });
    const r = await lock.acquire("dup", { ttlMs: 10_000, timeoutMs: 0 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.lock.token).toBe(1);
    expect(await r.lock.release()).toEqual({ ok: true });
    const again = await lock.acquire("dup", { ttlMs: 10_000, timeoutMs: 0 });
    expect(again.ok && again.lock.token).toBe(2);
  });

  it("surfaces backend refusals other than 'held' as errors", async () => {
    const machine = new ControlStateMachine({ limits: { locksMax: 1 } });
    const p = localProposer(machine, { nowMs: () => 5 });
    const a = new ControlPlaneLock({ propose: p, retry });
    expect((await a.acquire("one", { ttlMs: 1_000, timeoutMs: 0 })).ok).toBe(true);
    await expect(a.acquire("two", { ttlMs: 1_000, timeoutMs: 0 })).rejects.toThrow(/limit-exceeded/);
  });

  it("rejects use after close", async () => {
    const a = new ControlPlaneLock({ propose, retry });
    await a.close();
    await expect(a.acquire("closed", { ttlMs: 1_000, timeoutMs: 0 })).rejects.toThrow(/closed/);
  });

  it("returns not-holder for a token that is not a positive integer, without proposing", async () => {
    let proposals = 0;
    const counting: Proposer = (cmd, session) => { proposals++; return propose(cmd, session); };
    const a = new ControlPlaneLock({ propose: counting, retry });
    expect(await a.release("x", 0)).toMatchObject({ ok: false, error: "not-holder" });
    expect(await a.extend("x", 1.5, 100)).toMatchObject({ ok: false, error: "not-holder" });
    expect(await a.checkFence("x", -1)).toBe(false);
    expect(proposals).toBe(0);
    expect(CommandKind.LockRelease).toBe("lock.release");
  });
});

describe("ControlPlaneLock in-flight bound", () => {
  it("keeps at most inFlightMax proposals outstanding per client", async () => {
    let outstanding = 0;
    let peak = 0;
    const slow: Proposer = async (cmd, session) => {
      outstanding++;
      peak = Math.max(peak, outstanding);
      await new Promise((r) => setTimeout(r, 2));
      const r = await propose(cmd, session);
      outstanding--;
      return r;
    };
    const a = new ControlPlaneLock({ propose: slow, retry, inFlightMax: 3 });
    const names = Array.from({ length: 12 }, (_, i) => `inflight-${i}`);
    const results = await Promise.all(names.map((n) => a.acquire(n, { ttlMs: 10_000, timeoutMs: 0 })));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(peak).toBe(3);
    await Promise.all(results.map((r) => (r.ok ? r.lock.release() : undefined)));
  });
});
