// Canonical JSON: object keys sorted by code unit, no whitespace, undefined
// fields omitted, only safe integers, booleans, null and well-formed strings.
// One value has exactly one encoding, so replicas that hold equal state
// produce byte-identical snapshots, and a decoder can reject any other form.

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  write(value, parts, 0);
  return parts.join("");
}

export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalJson(value));
}

/** In unicode mode a surrogate class matches only unpaired surrogates. */
export const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Nesting bound of anything the control plane encodes (records are shallow). */
const DEPTH_MAX = 16;

function write(value: unknown, out: string[], depth: number): void {
  if (depth > DEPTH_MAX) throw new Error(`canonical json: nesting deeper than ${DEPTH_MAX}`);
  if (value === null) { out.push("null"); return; }
  switch (typeof value) {
    case "boolean":
      out.push(value ? "true" : "false");
      return;
    case "number":
      if (!Number.isSafeInteger(value) || Object.is(value, -0)) throw new Error(`canonical json: not a safe integer: ${value}`);
      out.push(String(value));
      return;
    case "string":
      if (LONE_SURROGATE.test(value)) throw new Error("canonical json: string with a lone surrogate");
      out.push(JSON.stringify(value));
      return;
    case "object":
      if (Array.isArray(value)) {
        out.push("[");
        value.forEach((item, i) => {
          if (i > 0) out.push(",");
          write(item, out, depth + 1);
        });
        out.push("]");
        return;
      }
      writeObject(value as Record<string, unknown>, out, depth);
      return;
    default:
      throw new Error(`canonical json: cannot encode ${typeof value}`);
  }
}

function writeObject(obj: Record<string, unknown>, out: string[], depth: number): void {
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  out.push("{");
  keys.forEach((k, i) => {
    if (i > 0) out.push(",");
    out.push(JSON.stringify(k), ":");
    write(obj[k], out, depth + 1);
  });
  out.push("}");
}

export type ParseResult = { ok: true; value: unknown; text: string } | { ok: false; message: string };

/** Bounded parse: size checked first, UTF-8 validated, never throws. */
export function parseBoundedJson(bytes: Uint8Array, bytesMax: number): ParseResult {
  if (!(bytes instanceof Uint8Array)) return { ok: false, message: "not a byte array" };
  if (bytes.byteLength === 0) return { ok: false, message: "empty input" };
  if (bytes.byteLength > bytesMax) return { ok: false, message: `${bytes.byteLength} bytes exceed the limit of ${bytesMax}` };
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { ok: false, message: "invalid UTF-8" };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown, text };
  } catch (err) {
    return { ok: false, message: `invalid JSON: ${(err as Error).message}` };
  }
}
