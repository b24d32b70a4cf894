// W3C trace context (https://www.w3.org/TR/trace-context/): every envelope a
// device sends starts a trace; the cloud continues it hop by hop.
import type { Random } from "../platform";
import { randomHex } from "./bytes";

const zeroTraceId = "00000000000000000000000000000000";
const zeroSpanId = "0000000000000000";

/** `00-<trace id>-<span id>-01` with random, never all-zero ids. */
export function newTraceparent(random: Random): string {
  const u32 = (): number => random.u32();
  let traceId = randomHex(u32, 16);
  if (traceId === zeroTraceId) traceId = "0000000000000000000000000000000" + "1";
  let spanId = randomHex(u32, 8);
  if (spanId === zeroSpanId) spanId = "000000000000000" + "1";
  return "00-" + traceId + "-" + spanId + "-01";
}

const traceparentPattern = /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/;

export function isTraceparent(s: string): boolean {
  return traceparentPattern.test(s) && s.slice(3, 35) !== zeroTraceId && s.slice(36, 52) !== zeroSpanId;
}

/** Continues `parent`'s trace with a new span id; a new trace when `parent` is not valid. */
export function childTraceparent(parent: string, random: Random): string {
  if (!isTraceparent(parent)) return newTraceparent(random);
  let spanId = randomHex(() => random.u32(), 8);
  if (spanId === zeroSpanId) spanId = "000000000000000" + "1";
  return parent.slice(0, 36) + spanId + "-" + parent.slice(53, 55);
}
