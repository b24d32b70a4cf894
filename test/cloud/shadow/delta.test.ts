// The desired/reported delta with deletions (cloud/shadow/document.ts
// shadowDeltaSets) against the device's replica (firmware/device/shadow.ts):
// whatever the cloud's desired document went through (puts and deletes),
// the device applying the delta and its report joined into the reported
// document closes the delta: every single-valued desired field is reported
// with that value, every deleted one is reported deleted.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DvvSet, dvvDiscard, dvvEmpty, dvvPut } from "../../../shared/clock/dvv";
import { fieldsFromWire, fieldsToWire } from "../../../shared/clock/dvv-wire";
import { defaultShadowLimits, joinFields, shadowDelta, shadowDeltaSets } from "../../../cloud/shadow";
import { ShadowReplica, deltaFromSets } from "../../../firmware/device/shadow";

const names = ["heartbeatIntervalMs", "children", "job.agg-1", "edge.fence", "mode"];

type Step = { field: string; value: number | null };

function apply(desired: Record<string, DvvSet>, s: Step, writer: string): void {
  const cur = desired[s.field] ?? dvvEmpty();
  desired[s.field] = s.value === null ? dvvDiscard(cur, cur.context) : dvvPut(cur, JSON.stringify(`v${s.value}`), cur.context, writer).set;
}

describe("shadow delta with deletions", () => {
  it("a deleted desired field still reported is in the delta as the empty set; the view lists it under deleted", () => {
    const put = dvvPut(dvvEmpty(), '"a,b"', {}, "api-1").set;
    const desired = { children: dvvDiscard(put, put.context) };
    const reported = { children: dvvPut(dvvEmpty(), '"a,b"', {}, "dev").set };
    const { sets } = shadowDeltaSets(desired, reported);
    expect(sets.children).toEqual({ siblings: [], context: { "api-1": 1 } });
    expect(shadowDelta(desired, reported)).toEqual({ fields: {}, deleted: { children: { context: { "api-1": 1 } } }, conflicts: [] });
    // Nothing reported (or reported deleted): nothing to send.
    expect(shadowDeltaSets(desired, {}).sets).toEqual({});
    expect(shadowDeltaSets(desired, { children: dvvDiscard(reported.children, reported.children.context) }).sets).toEqual({});
  });

  it("the device converges on any history of puts and deletes, delivered through the wire", () => {
    const step = fc.record({ field: fc.constantFrom(...names), value: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }) });
    fc.assert(fc.property(fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }), (rounds) => {
      const desired: Record<string, DvvSet> = {};
      let reported: Record<string, DvvSet> = {};
      const dev = new ShadowReplica();
      for (const round of rounds) {
        for (const s of round) apply(desired, s, "api-1");
        const { sets } = shadowDeltaSets(desired, reported);
        dev.applyDelta(deltaFromSets(fieldsFromWire(fieldsToWire(sets))));
        const report = dev.heartbeatReport();
        if (report) reported = joinFields(reported, fieldsFromWire(report.fields), defaultShadowLimits).fields;
        expect(shadowDeltaSets(desired, reported).sets).toEqual({});
        for (const f of Object.keys(desired)) {
          const want = desired[f]!.siblings.map((x) => x.value);
          expect(dev.values(f)).toEqual(want.length === 0 && !reported[f] ? [] : want);
        }
      }
    }), { numRuns: 300 });
  });
});
