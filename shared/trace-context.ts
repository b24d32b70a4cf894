// W3C Trace Context level 1 `traceparent` (https://www.w3.org/TR/trace-context/,
// section 3.2 and "Versioning of traceparent"): the one parser of the
// project, used by the firmware (to continue a trace) and the cloud (to
// validate a device's value before it reaches a header, JSON or KV).
// XS-safe: plain ES, no imports.
//
// Accepted:
//   version 00: exactly `00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`
//     (55 chars), lowercase hex, any flags byte;
//   a higher version (01..fe): the same four fields, then either the end or
//     `-` and more data (forward compatibility: a newer format may append
//     fields; we parse the four we know);
// refused: version ff, uppercase hex, an all-zero trace-id or parent-id,
// anything longer than `traceparentBytesMax` or with characters outside
// visible ASCII (the value travels in NATS headers and JSON).

/** Longest traceparent accepted (a future version may append fields). */
export const traceparentBytesMax = 256;

export interface TraceParent {
  version: number;
  traceId: string;
  parentId: string;
  flags: number;
}

/** The sampled flag, the only flag of version 00. */
export const traceFlagSampled = 0x01;

const v00Length = 55;
const hex2 = /^[0-9a-f]{2}$/;
const fields = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[\x21-\x7e]*)?$/;
const zeroTraceId = "00000000000000000000000000000000";
const zeroParentId = "0000000000000000";

/** The parsed header, or null when it is not a valid traceparent. */
export function parseTraceparent(s: string): TraceParent | null {
  if (typeof s !== "string" || s.length < v00Length || s.length > traceparentBytesMax) return null;
  const version = s.slice(0, 2);
  if (!hex2.test(version) || version === "ff") return null;
  if (version === "00" && s.length !== v00Length) return null;
  const m = fields.exec(s);
  if (m === null) return null;
  if (m[2] === zeroTraceId || m[3] === zeroParentId) return null;
  return { version: parseInt(m[1]!, 16), traceId: m[2]!, parentId: m[3]!, flags: parseInt(m[4]!, 16) };
}

export function isTraceparent(s: string): boolean {
  return parseTraceparent(s) !== null;
}

function hex(n: number): string {
  return (n < 16 ? "0" : "") + n.toString(16);
}

/** A version-00 traceparent. Flags other than `sampled` are not defined in
 *  version 00; a participant passing a trace on sets them to zero. */
export function formatTraceparent(traceId: string, parentId: string, flags: number): string {
  return "00-" + traceId + "-" + parentId + "-" + hex(flags & traceFlagSampled);
}

/** `s` as this participant propagates it (version 00, known flags), or null when invalid. */
export function normalizeTraceparent(s: string): string | null {
  const p = parseTraceparent(s);
  return p === null ? null : formatTraceparent(p.traceId, p.parentId, p.flags);
}
