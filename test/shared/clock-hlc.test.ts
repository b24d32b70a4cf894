import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Hlc,
  HlcError,
  HlcErrorCode,
  type HlcTimestamp,
  compareHlc,
  hlcLogicalMax,
  hlcWallMsMax,
  packHlc,
  unpackHlc,
} from "../../shared/clock/hlc";

const T0 = 1_764_000_000_000; // 2025-11, a realistic epoch ms
const driftMsMax = 5_000;

function codeOf(f: () => unknown): HlcErrorCode | "no-error" {
  try {
    f();
    return "no-error";
  } catch (e) {
    expect(e).toBeInstanceOf(HlcError);
    return (e as HlcError).code;
  }
}

describe("HLC", () => {
  it("follows physical time and counts logically when it stalls or goes back", () => {
    const c = new Hlc({ driftMsMax });
    expect(c.now(T0)).toEqual({ wallMs: T0, logical: 0 });
    expect(c.now(T0)).toEqual({ wallMs: T0, logical: 1 });
    expect(c.now(T0 - 50)).toEqual({ wallMs: T0, logical: 2 }); // clock stepped back
    expect(c.now(T0 + 1)).toEqual({ wallMs: T0 + 1, logical: 0 });
  });

  it("receive moves past the remote timestamp (Kulkarni's cases)", () => {
    const c = new Hlc({ driftMsMax }, { wallMs: T0, logical: 4 });
    expect(c.receive({ wallMs: T0, logical: 9 }, T0 - 1)).toEqual({ wallMs: T0, logical: 10 }); // l = local = remote
    expect(c.receive({ wallMs: T0 - 10, logical: 99 }, T0 - 1)).toEqual({ wallMs: T0, logical: 11 }); // l = local
    expect(c.receive({ wallMs: T0 + 100, logical: 3 }, T0)).toEqual({ wallMs: T0 + 100, logical: 4 }); // l = remote
    expect(c.receive({ wallMs: T0, logical: 0 }, T0 + 200)).toEqual({ wallMs: T0 + 200, logical: 0 }); // l = physical
  });

  it("rejects remote timestamps too far in the future and stays unchanged", () => {
    const c = new Hlc({ driftMsMax });
    c.now(T0);
    expect(codeOf(() => c.receive({ wallMs: T0 + driftMsMax + 1, logical: 0 }, T0))).toBe(HlcErrorCode.DriftExceeded);
    expect(c.last()).toEqual({ wallMs: T0, logical: 0 });
    expect(codeOf(() => c.receive({ wallMs: T0 + driftMsMax, logical: 0 }, T0))).toBe("no-error");
  });

  it("rejects invalid times and timestamps with typed errors", () => {
    const c = new Hlc({ driftMsMax });
    expect(codeOf(() => c.now(1.5))).toBe(HlcErrorCode.InvalidTime);
    expect(codeOf(() => c.now(-1))).toBe(HlcErrorCode.InvalidTime);
    expect(codeOf(() => c.now(hlcWallMsMax + 1))).toBe(HlcErrorCode.InvalidTime);
    expect(codeOf(() => c.receive({ wallMs: T0, logical: hlcLogicalMax + 1 }, T0))).toBe(HlcErrorCode.InvalidTimestamp);
    expect(codeOf(() => c.receive({ wallMs: "x" } as unknown as HlcTimestamp, T0))).toBe(HlcErrorCode.InvalidTimestamp);
    expect(codeOf(() => new Hlc({ driftMsMax: -1 }))).toBe(HlcErrorCode.InvalidTime);
    expect(codeOf(() => unpackHlc(-1))).toBe(HlcErrorCode.InvalidTimestamp);
    expect(codeOf(() => unpackHlc(2 ** 53))).toBe(HlcErrorCode.InvalidTimestamp);
  });

  it("carries logical overflow into wallMs instead of failing", () => {
    const c = new Hlc({ driftMsMax });
    let prev = c.now(T0);
    for (let i = 0; i < hlcLogicalMax + 5; i++) {
      const t = c.now(T0);
      expect(compareHlc(t, prev)).toBe(1);
      prev = t;
    }
    expect(prev).toEqual({ wallMs: T0 + 1, logical: 4 });
    const r = new Hlc({ driftMsMax }).receive({ wallMs: T0, logical: hlcLogicalMax }, T0);
    expect(r).toEqual({ wallMs: T0 + 1, logical: 0 });
  });

  it("packs into one safe integer that orders like compareHlc", () => {
    expect(packHlc({ wallMs: T0, logical: 3 })).toBe(T0 * 1024 + 3);
    expect(Number.isSafeInteger(packHlc({ wallMs: hlcWallMsMax, logical: hlcLogicalMax }))).toBe(true);
    const ts = fc.record({ wallMs: fc.integer({ min: 0, max: hlcWallMsMax }), logical: fc.integer({ min: 0, max: hlcLogicalMax }) });
    fc.assert(
      fc.property(ts, ts, (a, b) => {
        expect(unpackHlc(packHlc(a))).toEqual(a);
        expect(Math.sign(packHlc(a) - packHlc(b))).toBe(compareHlc(a, b));
      }),
    );
  });

  // Any mix of local events and receives, physical time jittering back and
  // forth, remotes anywhere from far past to beyond the drift limit.
  const step = fc.oneof(
    fc.record({ kind: fc.constant("now" as const), dt: fc.integer({ min: -2_000, max: 3_000 }) }),
    fc.record({
      kind: fc.constant("receive" as const),
      dt: fc.integer({ min: -2_000, max: 3_000 }),
      remoteAhead: fc.integer({ min: -10_000, max: driftMsMax + 2_000 }),
      logical: fc.integer({ min: 0, max: 50 }),
    }),
  );

  it("is monotonic, preserves happens-before, and stays within drift of time seen", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const c = new Hlc({ driftMsMax });
        let pt = T0;
        let prev = c.last();
        let maxSeen = 0;
        let maxPt = 0;
        for (const s of steps) {
          pt = Math.max(0, pt + s.dt);
          if (s.kind === "now") {
            const t = c.now(pt);
            expect(compareHlc(t, prev)).toBe(1);
            prev = t;
          } else {
            const remote = { wallMs: Math.max(0, pt + s.remoteAhead), logical: s.logical };
            if (remote.wallMs - pt > driftMsMax) {
              expect(codeOf(() => c.receive(remote, pt))).toBe(HlcErrorCode.DriftExceeded);
              expect(c.last()).toEqual(prev);
              continue;
            }
            const t = c.receive(remote, pt);
            expect(compareHlc(t, prev)).toBe(1);
            expect(compareHlc(t, remote)).toBe(1); // receive(m) > m
            maxSeen = Math.max(maxSeen, remote.wallMs);
            prev = t;
          }
          maxSeen = Math.max(maxSeen, pt);
          // No logical overflow in 200 steps, so wallMs never invents time.
          expect(prev.wallMs).toBeLessThanOrEqual(maxSeen);
          maxPt = Math.max(maxPt, pt);
          expect(prev.wallMs).toBeLessThanOrEqual(maxPt + driftMsMax);
        }
      }),
    );
  });

  it("happens-before holds across a chain of nodes with skewed clocks", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -1000, max: 1000 })), { maxLength: 60 }), (hops) => {
        const nodes = Array.from({ length: 4 }, () => new Hlc({ driftMsMax }));
        const skew = [0, -800, 700, 1500];
        let msg = nodes[0]!.now(T0);
        let t = T0;
        for (const [to, dt] of hops) {
          t += Math.abs(dt);
          const got = nodes[to]!.receive(msg, t + skew[to]!);
          expect(compareHlc(got, msg)).toBe(1);
          msg = nodes[to]!.now(t + skew[to]!);
          expect(compareHlc(msg, got)).toBe(1);
        }
      }),
    );
  });
});
