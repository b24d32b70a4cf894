// W3C Trace Context level 1 traceparent (shared/trace-context.ts), with the
// vectors of the spec and its test suite (w3c/trace-context test/test.py):
// version 00 exact, any flags byte, future versions with appended fields,
// all-zero ids, uppercase and version ff refused.
import { describe, expect, it } from "vitest";
import { formatTraceparent, isTraceparent, normalizeTraceparent, parseTraceparent, traceparentBytesMax } from "../../shared/trace-context";
import { newTraceparent } from "../../cloud/base";

const trace = "0af7651916cd43dd8448eb211c80319c";
const span = "b7ad6b7169203331";

describe("traceparent", () => {
  it("accepts version 00 exactly, with any flags byte", () => {
    for (const flags of ["00", "01", "02", "03", "09", "ff"]) {
      expect(parseTraceparent(`00-${trace}-${span}-${flags}`)).toEqual({ version: 0, traceId: trace, parentId: span, flags: parseInt(flags, 16) });
    }
    expect(isTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toBe(true);
  });

  it("accepts higher versions with the four fields and optional extra data after a dash", () => {
    expect(parseTraceparent(`cc-${trace}-${span}-01`)?.version).toBe(0xcc);
    expect(parseTraceparent(`cc-${trace}-${span}-01-what-the-future-will-be-like`)).toEqual({ version: 0xcc, traceId: trace, parentId: span, flags: 1 });
    expect(isTraceparent(`01-${trace}-${span}-00-x`)).toBe(true);
    expect(isTraceparent(`cc-${trace}-${span}-01what-the-future`)).toBe(false); // no dash after the flags
    expect(isTraceparent(`cc-${trace}-${span}-0`)).toBe(false); // shorter than 55
  });

  it("refuses everything else", () => {
    const bad = [
      "", "garbage", `ff-${trace}-${span}-01`, `00-${trace}-${span}-01-extra`, `00-${trace}-${span}-1`,
      `00-${trace.toUpperCase()}-${span}-01`, `00-${trace}-${span.toUpperCase()}-01`, `0A-${trace}-${span}-01`, `00-${trace}-${span}-0A`,
      `00-00000000000000000000000000000000-${span}-01`, `00-${trace}-0000000000000000-01`,
      ` 00-${trace}-${span}-01`, `00-${trace}-${span}-01 `, `00_${trace}-${span}-01`, `00-${trace}-${span}-g1`,
      `00-${trace.slice(1)}-${span}0-01`, `cc-${trace}-${span}-01-\r\nX: y`, `cc-${trace}-${span}-01-${"x".repeat(traceparentBytesMax)}`,
    ];
    for (const b of bad) expect(isTraceparent(b), JSON.stringify(b)).toBe(false);
  });

  it("propagates as version 00 with only the sampled flag", () => {
    expect(normalizeTraceparent(`cc-${trace}-${span}-03-future`)).toBe(`00-${trace}-${span}-01`);
    expect(normalizeTraceparent(`00-${trace}-${span}-fe`)).toBe(`00-${trace}-${span}-00`);
    expect(normalizeTraceparent("nope")).toBeNull();
    expect(formatTraceparent(trace, span, 1)).toBe(`00-${trace}-${span}-01`);
    expect(isTraceparent(newTraceparent())).toBe(true);
  });
});
