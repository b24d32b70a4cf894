import { describe, expect, it } from "vitest";
import { DvvError, dvvEmpty, dvvEquals, dvvPut } from "../../shared/clock/dvv";
import { fieldsFromWire, fieldsToWire } from "../../shared/clock/dvv-wire";
import { createDesiredConfig, createEnvelope, decodeEnvelope, encodeEnvelope, type ShadowField } from "../../shared/proto/xsfleet.gen";

describe("DVV sets on the wire (ShadowDelta / ShadowReport)", () => {
  it("round-trips a document through DesiredConfig.shadow_delta, and old readers see a plain config", () => {
    let led = dvvPut(dvvEmpty(), '"on"', {}, "api-a").set;
    led = dvvPut(led, '"off"', {}, "api-b").set;
    const fields = { led, sp: dvvPut(dvvEmpty(), "21.5", { dev: 3 }, "api-a").set, gone: { siblings: [], context: { "api-a": 2 } } };
    const bytes = encodeEnvelope(createEnvelope({ deviceId: "d", config: createDesiredConfig({ version: 7, shadowDelta: { fields: fieldsToWire(fields) } }) }));
    const env = decodeEnvelope(bytes);
    expect(env.config!.version).toBe(7);
    const back = fieldsFromWire(env.config!.shadowDelta!.fields);
    for (const k of Object.keys(fields)) expect(dvvEquals(back[k]!, fields[k as keyof typeof fields])).toBe(true);
    // A config without the field decodes with no delta (compatibility rule 3).
    expect(decodeEnvelope(encodeEnvelope(createEnvelope({ deviceId: "d", config: createDesiredConfig({ version: 1 }) }))).config!.shadowDelta).toBeUndefined();
  });

  it("refuses malformed fields with DvvError", () => {
    const f = (x: Partial<ShadowField>): ShadowField => ({ name: "a", values: [], context: [], ...x });
    const bad: ShadowField[][] = [
      [f({ name: "a b" })],
      [f({ name: "x".repeat(65) })],
      [f({}), f({})],
      [f({ context: [{ writer: "w", counter: 1 }, { writer: "w", counter: 2 }] })],
      [f({ values: [{ writer: "w", counter: 2, valueJson: "1" }], context: [{ writer: "w", counter: 1 }] })],
      [f({ context: [{ writer: "w", counter: 0 }] })],
      Array.from({ length: 33 }, (_, i) => f({ name: `f${i}` })),
    ];
    for (const b of bad) expect(() => fieldsFromWire(b)).toThrow(DvvError);
  });
});
