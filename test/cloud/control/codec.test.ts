import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../cloud/control/canonical-json";
import { decodeEnvelope, encodeEnvelope, validateEnvelope } from "../../../cloud/control/codec";
import { DEFAULT_CONTROL_LIMITS as LIMITS, resolveLimits } from "../../../cloud/control/limits";
import { CONTROL_FORMAT_VERSION, type Envelope } from "../../../cloud/control/types";
import { commandArb } from "./arbitraries";
import { bytes, text } from "./helpers";

const env = (cmd: Envelope["cmd"], nowMs = 5): Envelope => ({ v: CONTROL_FORMAT_VERSION, nowMs, cmd });

describe("command codec", () => {
  it("encodes canonical compact JSON and decodes it back", () => {
    const e: Envelope = { v: 1, nowMs: 42, session: { clientId: "c", seq: 3 }, cmd: { kind: "lock.try-acquire", name: "L", holder: "h", ttlMs: 100 } };
    const b = encodeEnvelope(e, LIMITS);
    expect(text(b)).toBe('{"cmd":{"holder":"h","kind":"lock.try-acquire","name":"L","ttlMs":100},"nowMs":42,"session":{"clientId":"c","seq":3},"v":1}');
    expect(decodeEnvelope(b, LIMITS)).toEqual({ ok: true, envelope: e });
  });

  it("round-trips every generated command (encode ∘ decode ∘ encode is stable)", () => {
    fc.assert(fc.property(commandArb, fc.nat(), (cmd, nowMs) => {
      const b = encodeEnvelope(env(cmd, nowMs), LIMITS);
      const d = decodeEnvelope(b, LIMITS);
      expect(d.ok).toBe(true);
      if (d.ok) expect(encodeEnvelope(d.envelope, LIMITS)).toEqual(b);
    }), { numRuns: 300 });
  });

  it.each([
    ["whitespace", '{"cmd":{"kind":"tick"}, "nowMs":1,"v":1}', /canonical/],
    ["key order", '{"nowMs":1,"cmd":{"kind":"tick"},"v":1}', /canonical/],
    ["unknown field", '{"cmd":{"kind":"tick"},"extra":1,"nowMs":1,"v":1}', /unknown field/],
    ["unknown command field", '{"cmd":{"kind":"tick","x":1},"nowMs":1,"v":1}', /unknown field/],
    ["future version", '{"cmd":{"kind":"tick"},"nowMs":1,"v":2}', /unsupported version 2/],
    ["unknown kind", '{"cmd":{"kind":"launch"},"nowMs":1,"v":1}', /expected one of/],
    ["negative time", '{"cmd":{"kind":"tick"},"nowMs":-1,"v":1}', /outside/],
    ["fraction", '{"cmd":{"kind":"tick"},"nowMs":1.5,"v":1}', /integer/],
    ["huge number", '{"cmd":{"kind":"tick"},"nowMs":1e400,"v":1}', /integer/],
    ["minus zero", '{"cmd":{"kind":"tick"},"nowMs":-0,"v":1}', /integer/],
    ["not an object", '[1,2,3]', /expected an object/],
    ["bad JSON", '{"cmd":', /invalid JSON/],
    ["missing field", '{"cmd":{"holder":"h","kind":"lock.try-acquire","name":"L"},"nowMs":1,"v":1}', /ttlMs: missing/],
    ["ttl out of range", '{"cmd":{"holder":"h","kind":"lock.try-acquire","name":"L","ttlMs":0},"nowMs":1,"v":1}', /outside/],
    ["name with space", '{"cmd":{"holder":"h h","kind":"lock.try-acquire","name":"L","ttlMs":5},"nowMs":1,"v":1}', /does not match/],
    ["lone surrogate", '{"cmd":{"holder":"\\ud800","kind":"lock.try-acquire","name":"L","ttlMs":5},"nowMs":1,"v":1}', /surrogate/],
    ["seq zero", '{"cmd":{"kind":"tick"},"nowMs":1,"session":{"clientId":"c","seq":0},"v":1}', /outside/],
  ])("rejects %s with a typed failure", (_label, json, message) => {
    const r = decodeEnvelope(bytes(json), LIMITS);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it("rejects empty, oversized and non-UTF-8 input before parsing", () => {
    expect(decodeEnvelope(new Uint8Array(0), LIMITS)).toMatchObject({ ok: false, message: expect.stringMatching(/empty/) });
    const small = resolveLimits({ commandBytesMax: 16 });
    expect(decodeEnvelope(bytes('{"cmd":{"kind":"tick"},"nowMs":1,"v":1}'), small)).toMatchObject({ ok: false, message: expect.stringMatching(/exceed the limit/) });
    expect(decodeEnvelope(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), LIMITS)).toMatchObject({ ok: false, message: expect.stringMatching(/UTF-8/) });
  });

  it("never throws on random bytes, mutated encodings or arbitrary JSON values", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (b) => {
      const r = decodeEnvelope(b, LIMITS);
      expect(typeof r.ok).toBe("boolean");
    }), { numRuns: 700 });
    fc.assert(fc.property(commandArb, fc.nat(), fc.nat(), (cmd, pos, byte) => {
      const b = encodeEnvelope(env(cmd), LIMITS).slice();
      b[pos % b.length] = byte % 256;
      const r = decodeEnvelope(b, LIMITS);
      if (r.ok) expect(encodeEnvelope(r.envelope, LIMITS)).toEqual(b);
    }), { numRuns: 700 });
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      expect(typeof validateEnvelope(v, LIMITS).ok).toBe("boolean");
      expect(typeof validateEnvelope({ v: 1, nowMs: 1, cmd: v }, LIMITS).ok).toBe("boolean");
      expect(typeof decodeEnvelope(bytes(JSON.stringify(v) ?? "null"), LIMITS).ok).toBe("boolean");
    }), { numRuns: 700 });
  });

  it("encodeEnvelope refuses what decode would refuse (paired checks)", () => {
    expect(() => encodeEnvelope(env({ kind: "lock.try-acquire", name: "L", holder: "h", ttlMs: Number.NaN }), LIMITS)).toThrow(/does not encode/);
    expect(() => encodeEnvelope({ v: 1, nowMs: -5, cmd: { kind: "tick" } }, LIMITS)).toThrow(/does not encode/);
  });

  it("canonicalJson sorts keys, drops undefined and refuses non-integers", () => {
    expect(canonicalJson({ b: 1, a: [true, null, "x"], c: undefined })).toBe('{"a":[true,null,"x"],"b":1}');
    expect(() => canonicalJson({ a: 0.5 })).toThrow(/safe integer/);
    expect(() => canonicalJson({ a: () => 1 })).toThrow(/cannot encode/);
  });

  it("validates limits at construction", () => {
    expect(() => resolveLimits({ locksMax: 0 })).toThrow(/locksMax/);
    expect(() => resolveLimits({ ttlMsMin: 10, ttlMsMax: 5 })).toThrow(/ttlMsMin/);
  });
});
