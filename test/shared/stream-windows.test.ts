import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  WindowOperator,
  type WindowOperatorConfig,
  type WindowResult,
  type WindowSpec,
  windowResultId,
  windowsOf,
} from "../../shared/stream/index";

type Pt = { key: string; channel: string; t: number; v: number };

function run(cfg: WindowOperatorConfig, pts: Pt[], flush = true): { results: WindowResult[]; op: WindowOperator; outcomes: string[] } {
  const op = new WindowOperator(cfg);
  const outcomes = pts.map((p) => op.add(p.key, p.channel, p.t, p.v));
  if (flush) op.flush();
  return { results: op.drain(), op, outcomes };
}

/** Results per key, keys sorted (across keys the interleaving follows arrival). */
function byKey(rs: WindowResult[]): Record<string, WindowResult[]> {
  const out: Record<string, WindowResult[]> = {};
  for (const k of [...new Set(rs.map((r) => r.key))].sort()) out[k] = rs.filter((r) => r.key === k);
  return out;
}

const brief = (r: WindowResult) => `${r.channel}[${r.start},${r.end}) r${r.revision}${r.final ? "F" : ""} n=${r.count} sum=${r.sum}`;

describe("windowsOf", () => {
  it("aligns tumbling and hopping windows to epoch 0, negative times included", () => {
    expect(windowsOf({ kind: "tumbling", sizeMs: 1000 }, 1999)).toEqual([{ start: 1000, end: 2000 }]);
    expect(windowsOf({ kind: "tumbling", sizeMs: 1000 }, 2000)).toEqual([{ start: 2000, end: 3000 }]);
    expect(windowsOf({ kind: "tumbling", sizeMs: 1000 }, -1)).toEqual([{ start: -1000, end: 0 }]);
    expect(windowsOf({ kind: "hopping", sizeMs: 1000, hopMs: 250 }, 1100)).toEqual([
      { start: 250, end: 1250 },
      { start: 500, end: 1500 },
      { start: 750, end: 1750 },
      { start: 1000, end: 2000 },
    ]);
    expect(windowsOf({ kind: "session", gapMs: 10 }, 5)).toEqual([]);
  });

  it("every hopping window returned contains t, and no other window does", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: -1e6, max: 1e6 }), (hop, k, t) => {
        const size = hop * k;
        const ws = windowsOf({ kind: "hopping", sizeMs: size, hopMs: hop }, t);
        expect(ws.length).toBe(k);
        for (const w of ws) expect(w.start <= t && t < w.end && w.start % hop === 0).toBe(true);
      }),
    );
  });
});

describe("WindowOperator: tumbling and hopping", () => {
  const cfg: WindowOperatorConfig = { id: "op", spec: { kind: "tumbling", sizeMs: 1000 }, allowedLatenessMs: 0 };

  it("emits a window once the key's watermark reaches its end, with all aggregates", () => {
    const op = new WindowOperator({ ...cfg, aggregates: ["p50", "p99"] });
    op.add("d1", "temp", 100, 20);
    op.add("d1", "temp", 900, 22);
    op.add("d1", "temp", 500, 21.5);
    expect(op.drain()).toEqual([]);
    op.add("d1", "temp", 1000, 30); // watermark 1000 = end of [0, 1000)
    const [r, ...rest] = op.drain();
    expect(rest).toEqual([]);
    expect(r).toMatchObject({ operator: "op", key: "d1", channel: "temp", start: 0, end: 1000, revision: 0, count: 3, sum: 63.5, min: 20, max: 22, last: 22 });
    expect(r!.mean).toBeCloseTo(63.5 / 3, 12);
    expect(Math.abs(r!.p50! - 21.5) / 21.5).toBeLessThanOrEqual(0.01);
    expect(windowResultId(r!)).toBe("op:d1:temp:0:r0");
    // Lateness 0: the window is dropped once the watermark passes its end.
    op.add("d1", "temp", 1001, 1);
    expect(op.drain().map(brief)).toEqual(["temp[0,1000) r1F n=3 sum=63.5"]);
    expect(op.windowsOpen).toBe(1);
  });

  it("keeps watermarks per key: a device backfilling after an outage is on time", () => {
    const op = new WindowOperator(cfg);
    for (let t = 0; t < 60_000; t += 500) op.add("fresh", "h", t, 1);
    const backfill = [];
    for (let t = 0; t < 10_000; t += 500) backfill.push(op.add("offline", "h", t, 2));
    expect(backfill.every((o) => o === "ok")).toBe(true);
    expect(op.stats.lateDropped).toBe(0);
    op.flush();
    const rs = byKey(op.drain());
    expect(rs.offline!.filter((r) => r.revision === 0).length).toBe(10);
    expect(rs.offline!.every((r) => r.count === 2 && r.sum === 4)).toBe(true);
  });

  it("updates an emitted window within allowed lateness (corrections), drops beyond, ends with one final record", () => {
    const op = new WindowOperator({ ...cfg, allowedLatenessMs: 2000 });
    op.add("d", "c", 100, 1);
    op.add("d", "c", 1500, 1); // wm 1500: [0,1000) r0
    expect(op.add("d", "c", 200, 5)).toBe("ok"); // correction r1
    op.add("d", "c", 3000, 1); // wm 3000: [1000,2000) r0; [0,1000) still correctable (1000+2000 >= 3000)
    expect(op.add("d", "c", 300, 4)).toBe("ok"); // r2
    op.add("d", "c", 3001, 1); // wm 3001 > 3000: [0,1000) closes (r3 final)
    expect(op.add("d", "c", 400, 9)).toBe("late-dropped");
    expect(op.drain().map(brief)).toEqual([
      "c[0,1000) r0 n=1 sum=1",
      "c[0,1000) r1 n=2 sum=6",
      "c[1000,2000) r0 n=1 sum=1",
      "c[0,1000) r2 n=3 sum=10",
      "c[0,1000) r3F n=3 sum=10",
    ]);
    expect(op.stats).toMatchObject({ points: 7, lateAccepted: 2, lateDropped: 1, corrections: 2, refused: 0 });
    op.flush();
    const rest = op.drain().map(brief);
    // Records in watermark-position order: [3000,4000) first at 4000, [1000,2000) closes past 4000, [3000,4000) past 6000.
    expect(rest).toEqual(["c[3000,4000) r0 n=2 sum=2", "c[1000,2000) r1F n=1 sum=1", "c[3000,4000) r1F n=2 sum=2"]);
  });

  it("a late point that opens a window already due emits it at once", () => {
    const op = new WindowOperator({ ...cfg, allowedLatenessMs: 5000 });
    op.add("d", "c", 4500, 1);
    expect(op.drain()).toEqual([]);
    expect(op.add("d", "c", 1500, 7)).toBe("ok");
    expect(op.drain().map(brief)).toEqual(["c[1000,2000) r0 n=1 sum=7"]);
    expect(op.stats.lateAccepted).toBe(1);
  });

  it("a hopping point counts in every window containing it", () => {
    const { results } = run({ id: "h", spec: { kind: "hopping", sizeMs: 1000, hopMs: 500 }, allowedLatenessMs: 0 }, [
      { key: "k", channel: "c", t: 700, v: 2 },
      { key: "k", channel: "c", t: 1200, v: 3 },
    ]);
    expect(results.filter((r) => r.revision === 0).map(brief)).toEqual([
      "c[0,1000) r0 n=1 sum=2",
      "c[500,1500) r0 n=2 sum=5",
      "c[1000,2000) r0 n=1 sum=3",
    ]);
    expect(results.filter((r) => r.final).map(brief)).toEqual([
      "c[0,1000) r1F n=1 sum=2",
      "c[500,1500) r1F n=2 sum=5",
      "c[1000,2000) r1F n=1 sum=3",
    ]);
  });

  it("bounds windows and keys, and refuses bad input without throwing", () => {
    const op = new WindowOperator({ ...cfg, windowsOpenMax: 2, keysMax: 2 });
    expect(op.add("a", "c", 0, 1)).toBe("ok");
    expect(op.add("a", "d", 0, 1)).toBe("ok");
    expect(op.add("a", "e", 0, 1)).toBe("refused"); // third open window
    expect(op.add("b", "c", 0, NaN)).toBe("refused");
    expect(op.add("", "c", 0, 1)).toBe("refused");
    expect(op.add("a", "c", Infinity, 1)).toBe("refused");
    expect(op.add("a", "c", 0, 1e300)).toBe("refused");
    op.add("b", "c", 5000, 1); // refused too (windows full) but...
    expect(op.add("z", "c", 0, 1)).toBe("refused"); // ...keys: a, b => z refused
    expect(op.stats.refused).toBe(7);
    expect(() => new WindowOperator({ ...cfg, spec: { kind: "hopping", sizeMs: 1000, hopMs: 3 } })).toThrow(/hopMs/);
    expect(() => new WindowOperator({ ...cfg, spec: { kind: "hopping", sizeMs: 1000, hopMs: 2000 } })).toThrow(/hopMs: must be <= sizeMs/);
    expect(() => new WindowOperator({ ...cfg, allowedLatenessMs: -1 })).toThrow(/allowedLatenessMs/);
  });

  it("at keysMax, forgets the idle key with the lowest watermark to admit a new one", () => {
    const op = new WindowOperator({ ...cfg, keysMax: 2 });
    op.add("a", "c", 100, 1);
    op.add("b", "c", 100, 1);
    expect(op.add("c", "c", 100, 1)).toBe("refused"); // a and b have open windows
    op.advanceTo("b", 5000); // b's window closes: b is idle
    op.advanceTo("a", 6000);
    op.drain();
    expect(op.add("c", "c", 100, 1)).toBe("ok");
    expect(op.stats.keysEvicted).toBe(1);
    expect(op.watermark("b")).toBe(-Infinity); // b (lowest watermark) was forgotten
    expect(op.watermark("a")).toBe(6000);
  });
});

describe("WindowOperator: session windows", () => {
  const cfg: WindowOperatorConfig = { id: "s", spec: { kind: "session", gapMs: 100 }, allowedLatenessMs: 1000 };

  it("splits on gaps and closes a session when the watermark passes last point + gap", () => {
    const op = new WindowOperator(cfg);
    for (const t of [0, 50, 120, 400, 450]) op.add("d", "c", t, 1);
    expect(op.drain().map(brief)).toEqual(["c[0,220) r0 n=3 sum=3"]);
  });

  it("a late point bridging two emitted sessions merges them: tombstone + correction", () => {
    const op = new WindowOperator(cfg);
    for (const t of [0, 50, 200, 260, 600]) op.add("d", "c", t, 1);
    expect(op.drain().map(brief)).toEqual(["c[0,150) r0 n=2 sum=2", "c[200,360) r0 n=2 sum=2"]);
    op.add("d", "c", 120, 10); // 50 + 100 > 120 and 200 - 100 < 120: bridges
    const rs = op.drain();
    expect(rs.map(brief)).toEqual(["c[200,360) r1F n=2 sum=2", "c[0,360) r1 n=5 sum=14"]);
    expect(rs[0]!.mergedInto).toBe(0);
    // A late point before the start moves the start: the old identity is tombstoned.
    op.add("d", "c", -60, 1);
    const moved = op.drain();
    expect(moved.map(brief)).toEqual(["c[0,360) r2F n=5 sum=14", "c[-60,360) r0 n=6 sum=15"]);
    expect(moved[0]!.mergedInto).toBe(-60);
  });
});

// Points of a few keys/channels with duplicate timestamps, and an arrival order
// shuffled within `delay`: arrival sorted by t + jitter, jitter in [0, delay],
// so every point arrives at or after its key's watermark (max t seen - delay).
const specs: WindowSpec[] = [
  { kind: "tumbling", sizeMs: 1000 },
  { kind: "hopping", sizeMs: 1000, hopMs: 250 },
  { kind: "session", gapMs: 300 },
];
const pointsUpTo = (tMax: number, minLength: number) =>
  fc.array(
    fc.record({
      key: fc.constantFrom("a", "b", "c"),
      channel: fc.constantFrom("t", "h"),
      t: fc.integer({ min: 0, max: tMax }),
      v: fc.oneof(fc.integer({ min: -50, max: 50 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
      jitter: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
    { minLength, maxLength: 200 },
  );
const points = pointsUpTo(20_000, 0);
// Dense enough that late points land in windows still open for corrections.
const densePoints = pointsUpTo(6000, 20);

describe("out-of-order within the watermark delay ≡ sorted input", () => {
  it("gives per key exactly the same results, for every window kind", () => {
    fc.assert(
      fc.property(points, fc.constantFrom(...specs), fc.integer({ min: 0, max: 3000 }), (pts, spec, delay) => {
        const cfg: WindowOperatorConfig = { id: "w", spec, allowedLatenessMs: 500, watermarkDelayMs: delay, aggregates: ["p50", "p90", "p99"] };
        const sorted = pts.slice().sort((x, y) => x.t - y.t);
        const shuffled = pts.slice().sort((x, y) => x.t + x.jitter * delay - (y.t + y.jitter * delay));
        const a = run(cfg, sorted);
        const b = run(cfg, shuffled);
        expect(b.op.stats.lateAccepted + b.op.stats.lateDropped + b.op.stats.corrections).toBe(0);
        expect(byKey(b.results)).toEqual(byKey(a.results));
        expect(JSON.stringify(byKey(b.results))).toBe(JSON.stringify(byKey(a.results)));
      }),
      { numRuns: 300 },
    );
  });
});

describe("snapshot / restore", () => {
  it("mid-stream, through JSON, gives the same results as an uninterrupted run (late data included)", () => {
    const seen = { corrections: 0, dropped: 0 };
    fc.assert(
      fc.property(densePoints, fc.constantFrom(...specs), fc.nat(), (pts, spec, cutSeed) => {
        const cfg: WindowOperatorConfig = { id: "w", spec, allowedLatenessMs: 700, watermarkDelayMs: 100, aggregates: ["p90"] };
        const ordered = pts.slice().sort((x, y) => x.t + x.jitter * 2000 - (y.t + y.jitter * 2000)); // late data too
        const whole = new WindowOperator(cfg);
        const wholeOut: WindowResult[] = [];
        for (const p of ordered) {
          whole.add(p.key, p.channel, p.t, p.v);
          wholeOut.push(...whole.drain());
        }
        whole.flush();
        wholeOut.push(...whole.drain());

        const cut = ordered.length === 0 ? 0 : cutSeed % ordered.length;
        let op = new WindowOperator(cfg);
        const out: WindowResult[] = [];
        ordered.forEach((p, i) => {
          if (i === cut) op = WindowOperator.restore(cfg, JSON.parse(JSON.stringify(op.snapshot())));
          op.add(p.key, p.channel, p.t, p.v);
          out.push(...op.drain());
        });
        op.flush();
        out.push(...op.drain());
        expect(JSON.stringify(out)).toBe(JSON.stringify(wholeOut));
        expect(op.stats).toEqual(whole.stats);
        seen.corrections += whole.stats.corrections;
        seen.dropped += whole.stats.lateDropped;
      }),
      { numRuns: 150 },
    );
    // The runs really went through the late paths.
    expect(seen.corrections).toBeGreaterThan(0);
    expect(seen.dropped).toBeGreaterThan(0);
  });

  it("at every cut of a session stream with merges, restore continues exactly", () => {
    const cfg: WindowOperatorConfig = { id: "s", spec: { kind: "session", gapMs: 100 }, allowedLatenessMs: 1000, aggregates: ["p50"] };
    const ts = [0, 50, 200, 260, 600, 120, -60, 900, 450, 2000, 380, 5000, 1950];
    const feed = (cut: number): string => {
      let op = new WindowOperator(cfg);
      const out: WindowResult[] = [];
      ts.forEach((t, i) => {
        if (i === cut) op = WindowOperator.restore(cfg, JSON.parse(JSON.stringify(op.snapshot())));
        op.add("d", "c", t, i);
        out.push(...op.drain());
      });
      op.flush();
      out.push(...op.drain());
      return JSON.stringify(out);
    };
    const whole = feed(-1);
    expect((JSON.parse(whole) as WindowResult[]).filter((r) => r.mergedInto !== undefined).length).toBeGreaterThanOrEqual(2);
    for (let cut = 0; cut < ts.length; cut++) expect(feed(cut)).toBe(whole);
  });

  it("refuses a snapshot of another operator, or a malformed one, with a clear error", () => {
    const cfg: WindowOperatorConfig = { id: "a", spec: { kind: "tumbling", sizeMs: 10 }, allowedLatenessMs: 0 };
    const op = new WindowOperator(cfg);
    op.add("k", "c", 5, 1);
    const snap = op.snapshot();
    expect(() => WindowOperator.restore({ ...cfg, id: "b" }, snap)).toThrow(/operator/);
    expect(() => WindowOperator.restore({ ...cfg, aggregates: ["p50"] }, snap)).toThrow(/agg.sketch/);
    expect(() => WindowOperator.restore({ ...cfg, windowsOpenMax: 0 }, snap)).toThrow(/windowsOpenMax/);
    const broken = JSON.parse(JSON.stringify(snap));
    broken.keys[0].windows[0].agg.min = "x";
    expect(() => WindowOperator.restore(cfg, broken)).toThrow(/agg.min: must be a finite number/);
    expect(() => WindowOperator.restore(cfg, { ...snap, keys: [{ key: "k" }] } as never)).toThrow(/windows: must be an array/);
    expect(() => WindowOperator.restore(cfg, null as never)).toThrow(/version/);
  });
});
