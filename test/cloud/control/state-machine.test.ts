// Properties of the replicated state machine: what Raft relies on.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../cloud/control/canonical-json";
import { decodeEnvelope, encodeEnvelope } from "../../../cloud/control/codec";
import { ControlStateMachine, SnapshotError } from "../../../cloud/control/state-machine";
import { CONTROL_FORMAT_VERSION, CommandKind as K, ControlError, type ApplyResult, type Envelope } from "../../../cloud/control/types";
import { stepArb, type Step } from "./arbitraries";
import { bytes, driver, text } from "./helpers";

/** Turns steps into the byte entries a leader would append (time stamped, possibly lagging). */
function entries(steps: Step[], startMs = 10_000): Uint8Array[] {
  let t = startMs;
  const limits = new ControlStateMachine().limits;
  return steps.map((s) => {
    t = Math.max(0, t + s.dtMs);
    const env: Envelope = s.session ? { v: CONTROL_FORMAT_VERSION, nowMs: t, session: s.session, cmd: s.cmd } : { v: CONTROL_FORMAT_VERSION, nowMs: t, cmd: s.cmd };
    return encodeEnvelope(env, limits);
  });
}

function applyAll(sm: ControlStateMachine, log: Uint8Array[], from = 0): ApplyResult[] {
  return log.slice(from).map((e, i) => sm.apply(e, from + i + 1));
}

/** Results compared as canonical JSON: exact (key order aside) and far faster than deep equality. */
const same = (a: ApplyResult[], b: ApplyResult[]): boolean => canonicalJson(a) === canonicalJson(b);

const steps = fc.array(stepArb, { minLength: 1, maxLength: 60 });

describe("control state machine", () => {
  it("is deterministic: replicas fed the same log agree on every result and on snapshot bytes", () => {
    fc.assert(fc.property(steps, (s) => {
      const log = entries(s);
      const a = new ControlStateMachine();
      const b = new ControlStateMachine();
      // Replica b takes the in-process path (decoded objects), a the bytes.
      const objects = log.map((e) => {
        const d = decodeEnvelope(e, b.limits);
        if (!d.ok) throw new Error(d.message);
        return d.envelope;
      });
      const viaObjects = objects.map((env, i) => b.apply(env, i + 1));
      expect(same(viaObjects, applyAll(a, log))).toBe(true);
      expect(text(b.snapshot())).toBe(text(a.snapshot()));
    }), { numRuns: 120 });
  });

  it("snapshot ∘ restore is the identity, and a restored replica continues identically", () => {
    fc.assert(fc.property(steps, steps, (before, after) => {
      const log = entries([...before, ...after]);
      const cut = before.length;
      const leader = new ControlStateMachine();
      applyAll(leader, log.slice(0, cut));
      const snap = leader.snapshot();
      const follower = new ControlStateMachine();
      follower.restore(snap);
      expect(text(follower.snapshot())).toBe(text(snap));
      expect(follower.appliedIndex).toBe(cut);
      expect(follower.timeMs).toBe(leader.timeMs);
      expect(same(applyAll(follower, log, cut), applyAll(leader, log, cut))).toBe(true);
      expect(text(follower.snapshot())).toBe(text(leader.snapshot()));
    }), { numRuns: 120 });
  });

  it("time only moves forward", () => {
    fc.assert(fc.property(steps, (s) => {
      const sm = new ControlStateMachine();
      let last = 0;
      for (const [i, e] of entries(s).entries()) {
        sm.apply(e, i + 1);
        expect(sm.timeMs).toBeGreaterThanOrEqual(last);
        last = sm.timeMs;
      }
    }), { numRuns: 100 });
  });

  it("applying random bytes gives invalid-command, consumes the index, and changes nothing else", () => {
    fc.assert(fc.property(steps, fc.uint8Array({ maxLength: 200 }), (s, junk) => {
      const sm = new ControlStateMachine();
      const log = entries(s);
      applyAll(sm, log);
      const before = text(sm.snapshot()).replace(/"appliedIndex":\d+/, "");
      const r = sm.apply(junk, log.length + 1);
      if (!r.ok) expect(r.code).toBe(ControlError.InvalidCommand);
      if (!r.ok) expect(text(sm.snapshot()).replace(/"appliedIndex":\d+/, "")).toBe(before);
      expect(sm.appliedIndex).toBe(log.length + 1);
    }), { numRuns: 120 });
  });

  it("restore rejects corrupt snapshots with SnapshotError and keeps the old state", () => {
    const d = driver();
    d.ok({ kind: K.DeviceRegister, deviceId: "d", role: "sensor", metadata: {} });
    d.ok({ kind: K.LockTryAcquire, name: "L", holder: "A", ttlMs: 100 });
    const good = d.sm.snapshot();
    const other = new ControlStateMachine();
    other.restore(good);
    const mangled = [
      bytes("not json"),
      new Uint8Array(0),
      bytes(text(good).replace('"v":1', '"v":9')),
      bytes(text(good).replace('"fenceTokenLast":1', '"fenceTokenLast":0')), // token above the counter
      bytes(text(good).replace('"devices":[', '"devices":[{"deviceId":"x"},')),
      bytes(text(good).replace('"timeMs":', '"bogus":1,"timeMs":')),
    ];
    for (const m of mangled) {
      expect(() => other.restore(m)).toThrow(SnapshotError);
      expect(other.snapshot()).toEqual(good);
    }
    fc.assert(fc.property(fc.nat(), fc.nat(), (pos, byte) => {
      const b = good.slice();
      b[pos % b.length] = byte % 256;
      const sm = new ControlStateMachine();
      try {
        sm.restore(b);
      } catch (err) {
        expect(err).toBeInstanceOf(SnapshotError);
      }
    }), { numRuns: 400 });
  });

  it("refuses a non-increasing apply index (broken invariant)", () => {
    const sm = new ControlStateMachine();
    sm.apply({ v: 1, nowMs: 1, cmd: { kind: K.Tick } }, 5);
    expect(() => sm.apply({ v: 1, nowMs: 1, cmd: { kind: K.Tick } }, 5)).toThrow(/invariant/);
  });

  it("tick sweeps expired leases, locks and roles", () => {
    const d = driver();
    d.ok({ kind: K.LockTryAcquire, name: "L", holder: "A", ttlMs: 100 });
    d.ok({ kind: K.RoleAcquire, role: "r", nodeId: "n", ttlMs: 100 });
    expect(d.sm.counts).toMatchObject({ locks: 1, leases: 1 });
    d.nowMs = 1_100;
    d.ok({ kind: K.Tick });
    expect(d.sm.counts).toMatchObject({ locks: 0, leases: 0 });
  });
});

describe("fencing tokens (property)", () => {
  const op = fc.oneof(
    fc.record({ t: fc.constant("acquire" as const), lock: fc.constantFrom("L1", "L2"), holder: fc.constantFrom("A", "B", "C"), ttlMs: fc.integer({ min: 1, max: 300 }) }),
    fc.record({ t: fc.constant("release" as const), lock: fc.constantFrom("L1", "L2"), holder: fc.constantFrom("A", "B", "C") }),
    fc.record({ t: fc.constant("extend" as const), lock: fc.constantFrom("L1", "L2"), holder: fc.constantFrom("A", "B", "C"), ttlMs: fc.integer({ min: 1, max: 300 }) }),
    fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 400 }) }),
    fc.constant({ t: "snapshot" as const }),
  );

  it("strictly increase per lock for any interleaving of acquire/release/extend/expire/snapshot; a superseded token never passes checkFence", () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
      const d = driver();
      const granted: Record<string, number[]> = { L1: [], L2: [] };
      /** Each holder's latest token per lock (what it would use to release). */
      const mine = new Map<string, number>();
      for (const o of ops) {
        if (o.t === "advance") { d.nowMs += o.ms; continue; }
        if (o.t === "snapshot") {
          // Install the state on a fresh replica and carry on there (follower catch-up).
          const snap = d.sm.snapshot();
          const fresh = new ControlStateMachine();
          fresh.restore(snap);
          d.sm = fresh;
          continue;
        }
        const key = `${o.lock}/${o.holder}`;
        if (o.t === "acquire") {
          const r = d.run({ kind: K.LockTryAcquire, name: o.lock, holder: o.holder, ttlMs: o.ttlMs });
          if (r.ok && r.kind === K.LockTryAcquire) {
            const list = granted[o.lock]!;
            if (list.length > 0) expect(r.value.token).toBeGreaterThan(list[list.length - 1]!);
            for (const old of list) expect(d.sm.read({ kind: K.LockCheckFence, name: o.lock, token: old }).ok).toBe(false);
            list.push(r.value.token);
            mine.set(key, r.value.token);
          } else {
            expect(r).toMatchObject({ ok: false, code: ControlError.Held });
          }
        } else {
          const token = mine.get(key) ?? 1;
          const cmd = o.t === "release"
            ? { kind: K.LockRelease, name: o.lock, holder: o.holder, token } as const
            : { kind: K.LockExtend, name: o.lock, holder: o.holder, token, ttlMs: o.ttlMs } as const;
          const r = d.run(cmd);
          // Only the newest grant can be released or extended.
          const list = granted[o.lock]!;
          if (r.ok) expect(token).toBe(list[list.length - 1]);
        }
      }
    }), { numRuns: 100 });
  });
});
