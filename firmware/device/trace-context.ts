// W3C trace context (https://www.w3.org/TR/trace-context/): every envelope a
// device sends starts a trace; the cloud continues it hop by hop. Parsing
// lives in shared/trace-context.ts (one parser for firmware and cloud).
import type { Random } from "../platform";
import { randomHex } from "./bytes";
import { formatTraceparent, isTraceparent, parseTraceparent } from "../../shared/trace-context";

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

/** Whether `s` is a valid traceparent (the one parser: shared/trace-context). */
export { isTraceparent };

/** Continues `parent`'s trace with a new span id; a new trace when `parent` is not valid. */
export function childTraceparent(parent: string, random: Random): string {
  const p = parseTraceparent(parent);
  if (p === null) return newTraceparent(random);
  let spanId = randomHex(() => random.u32(), 8);
  if (spanId === zeroSpanId) spanId = "000000000000000" + "1";
  return formatTraceparent(p.traceId, spanId, p.flags);
}
