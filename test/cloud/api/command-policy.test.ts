// The pure retry policy of the commands role (no NATS).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { afterExpire, afterOnlineSend, afterTimedSend, decide, retryDelayMs } from "../../../cloud/commands/policy";
import { commandWireLimits, type CommandRecord } from "../../../cloud/commands/types";
import { defaultCommandRetry } from "../../../cloud/commands";

const s = defaultCommandRetry;

function rec(over: Partial<CommandRecord> = {}): CommandRecord {
  return {
    commandId: "c1", deviceId: "d1", name: "set", argsJson: "", issuedMs: 1000, deadlineMs: 31_000, state: "pending",
    attempt: 1, timedAttempts: 0, onlineResends: 0, nextAttemptMs: 1500, leaseOwner: "", leaseUntilMs: 0, ...over,
  };
}

describe("command retry policy", () => {
  it("backs off exponentially with jitter in [d/2, d], capped at retryMaxMs", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, r) => {
      const d = Math.min(s.retryInitialMs * 2 ** (n - 1), s.retryMaxMs);
      const got = retryDelayMs(n, s, r);
      return got >= Math.floor(d / 2) && got <= d;
    }));
    expect(retryDelayMs(1, s, 1)).toBe(500);
    expect(retryDelayMs(2, s, 1)).toBe(1000);
    expect(retryDelayMs(40, s, 1)).toBe(10_000);
  });

  it("never sends at or after the deadline, and expires instead", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 }), (now, next) => {
      const a = decide(rec({ nextAttemptMs: next }), now, "n1", 30);
      if (now >= 31_000) return a === "expire";
      return a === (now >= next ? "send" : "none");
    }));
  });

  it("respects another node's live lease and takes over a lapsed one", () => {
    const r = rec({ leaseOwner: "n2", leaseUntilMs: 5000 });
    expect(decide(r, 4000, "n1", 30)).toBe("none");
    expect(decide(r, 4000, "n2", 30)).toBe("send");
    expect(decide(r, 5000, "n1", 30)).toBe("send");
    expect(decide({ ...r, deadlineMs: 4500 }, 4600, "n1", 30)).toBe("none");
    expect(decide({ ...r, deadlineMs: 4500 }, 4600, "n2", 30)).toBe("expire");
  });

  it("stops timed re-sends at the attempt budget but still expires", () => {
    const r = rec({ timedAttempts: 3 });
    expect(decide(r, 2000, "n1", 3)).toBe("none");
    expect(decide(r, 31_000, "n1", 3)).toBe("expire");
  });

  it("finished commands are never acted on", () => {
    expect(decide(rec({ state: "acked" }), 99_999, "n1", 30)).toBe("none");
    expect(decide(afterExpire(rec(), 31_000), 99_999, "n1", 30)).toBe("none");
  });

  it("counts timed and online re-sends apart and takes the lease", () => {
    const t = afterTimedSend(rec(), 2000, "n1", s, 0);
    expect(t).toMatchObject({ attempt: 2, timedAttempts: 1, onlineResends: 0, leaseOwner: "n1", leaseUntilMs: 2000 + s.leaseMs });
    expect(t.nextAttemptMs).toBe(2000 + retryDelayMs(2, s, 0));
    const o = afterOnlineSend(t, 2100, "n2", s)!;
    expect(o).toMatchObject({ attempt: 3, timedAttempts: 1, onlineResends: 1, leaseOwner: "n2", nextAttemptMs: 2100 + s.retryInitialMs });
    expect(afterOnlineSend(rec({ onlineResends: commandWireLimits.onlineResendsMax }), 2000, "n1", s)).toBeNull();
    expect(afterOnlineSend(rec(), 31_000, "n1", s)).toBeNull();
  });
});
