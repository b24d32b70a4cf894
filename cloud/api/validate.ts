// Request checks for the API: every field is checked for type, range and
// size before any work is done, and unknown fields are rejected (they are
// nearly always typos that would otherwise be silently ignored).
import { isDeviceId } from "../../shared/topics";
import { ApiError } from "./types";

export type Body = Record<string, unknown>;

export function parseBody(data: Uint8Array, bytesMax: number): Body {
  if (data.length > bytesMax) throw new ApiError("too_large", `request is ${data.length} bytes; the limit is ${bytesMax}`);
  if (data.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
  } catch (e) {
    throw new ApiError("bad_request", `request is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ApiError("bad_request", "request must be a JSON object");
  return v as Body;
}

export function onlyFields(b: Body, allowed: readonly string[]): void {
  for (const k of Object.keys(b)) {
    if (!allowed.includes(k)) throw new ApiError("bad_request", `unknown field ${JSON.stringify(k)}; this request takes ${allowed.join(", ")}`);
  }
}

export function deviceIdField(b: Body, name = "deviceId"): string {
  const v = b[name];
  if (typeof v !== "string" || !isDeviceId(v)) {
    throw new ApiError("bad_request", `${name} must be 1-64 characters from A-Z a-z 0-9 _ -, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function stringField(b: Body, name: string, opts: { required: true; pattern?: RegExp; bytesMax: number }): string;
export function stringField(b: Body, name: string, opts: { required?: false; pattern?: RegExp; bytesMax: number }): string | undefined;
export function stringField(b: Body, name: string, opts: { required?: boolean; pattern?: RegExp; bytesMax: number }): string | undefined {
  const v = b[name];
  if (v === undefined) {
    if (opts.required) throw new ApiError("bad_request", `${name} is required`);
    return undefined;
  }
  if (typeof v !== "string" || v.length === 0) throw new ApiError("bad_request", `${name} must be a non-empty string`);
  if (Buffer.byteLength(v) > opts.bytesMax) throw new ApiError("bad_request", `${name} is longer than ${opts.bytesMax} bytes`);
  if (opts.pattern && !opts.pattern.test(v)) throw new ApiError("bad_request", `${name} ${JSON.stringify(v)} must match ${opts.pattern.source}`);
  return v;
}

export function intField(b: Body, name: string, opts: { required: true; min: number; max: number }): number;
export function intField(b: Body, name: string, opts: { required?: false; min: number; max: number }): number | undefined;
export function intField(b: Body, name: string, opts: { required?: boolean; min: number; max: number }): number | undefined {
  const v = b[name];
  if (v === undefined) {
    if (opts.required) throw new ApiError("bad_request", `${name} is required`);
    return undefined;
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < opts.min || v > opts.max) {
    throw new ApiError("bad_request", `${name} must be an integer from ${opts.min} to ${opts.max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function boolField(b: Body, name: string): boolean | undefined {
  const v = b[name];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new ApiError("bad_request", `${name} must be true or false`);
  return v;
}

export function objectField(b: Body, name: string, required: boolean): Body | undefined {
  const v = b[name];
  if (v === undefined) {
    if (required) throw new ApiError("bad_request", `${name} is required`);
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ApiError("bad_request", `${name} must be a JSON object`);
  return v as Body;
}
