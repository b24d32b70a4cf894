// Strict readers for decoded JSON objects: each field is checked for type,
// range and size, unknown fields are rejected, and the first problem becomes
// a FieldError with the path of the offending field. Shared by the command
// codec and the snapshot loader (check at encode *and* decode).

import { utf8Length } from "../../shared/proto/utf8";
import { LONE_SURROGATE } from "./canonical-json";

export class FieldError extends Error {
  override readonly name = "FieldError";
}

export const utf8Bytes = utf8Length;

/** Visible ASCII, no spaces: ids, lock/role names, addresses. */
export const NAME_PATTERN = /^[\x21-\x7e]+$/;
/** Metadata and config keys. */
export const KEY_PATTERN = /^[A-Za-z0-9_.:/-]{1,64}$/;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export class Fields {
  readonly #obj: Record<string, unknown>;
  readonly #path: string;
  readonly #seen = new Set<string>();

  constructor(value: unknown, path: string) {
    if (!isPlainObject(value)) throw new FieldError(`${path}: expected an object`);
    this.#obj = value;
    this.#path = path;
  }

  #take(name: string): unknown {
    this.#seen.add(name);
    return Object.prototype.hasOwnProperty.call(this.#obj, name) ? this.#obj[name] : undefined;
  }

  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.#obj, name);
  }

  at(name: string): string {
    return `${this.#path}.${name}`;
  }

  raw(name: string): unknown {
    const v = this.#take(name);
    if (v === undefined) throw new FieldError(`${this.at(name)}: missing`);
    return v;
  }

  int(name: string, min: number, max: number): number {
    const v = this.raw(name);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || Object.is(v, -0)) throw new FieldError(`${this.at(name)}: expected an integer`);
    if (v < min || v > max) throw new FieldError(`${this.at(name)}: ${v} outside ${min}..${max}`);
    return v;
  }

  optInt(name: string, min: number, max: number): number | undefined {
    return this.has(name) ? this.int(name, min, max) : (this.#take(name), undefined);
  }

  bool(name: string): boolean {
    const v = this.raw(name);
    if (typeof v !== "boolean") throw new FieldError(`${this.at(name)}: expected a boolean`);
    return v;
  }

  optBool(name: string): boolean | undefined {
    return this.has(name) ? this.bool(name) : (this.#take(name), undefined);
  }

  str(name: string, bytesMax: number, pattern?: RegExp): string {
    const v = this.raw(name);
    return checkString(v, this.at(name), bytesMax, pattern);
  }

  optStr(name: string, bytesMax: number, pattern?: RegExp): string | undefined {
    return this.has(name) ? this.str(name, bytesMax, pattern) : (this.#take(name), undefined);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T {
    const v = this.raw(name);
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
      throw new FieldError(`${this.at(name)}: expected one of ${allowed.join(", ")}`);
    }
    return v as T;
  }

  array(name: string, itemsMax: number): unknown[] {
    const v = this.raw(name);
    if (!Array.isArray(v)) throw new FieldError(`${this.at(name)}: expected an array`);
    if (v.length > itemsMax) throw new FieldError(`${this.at(name)}: ${v.length} items exceed ${itemsMax}`);
    return v;
  }

  /** Rejects fields nobody read: typos and fields from a newer version. */
  done(): void {
    for (const k of Object.keys(this.#obj)) {
      if (!this.#seen.has(k)) throw new FieldError(`${this.#path}: unknown field ${JSON.stringify(k.slice(0, 64))}`);
    }
  }
}

export function checkString(v: unknown, path: string, bytesMax: number, pattern?: RegExp): string {
  if (typeof v !== "string") throw new FieldError(`${path}: expected a string`);
  if (LONE_SURROGATE.test(v)) throw new FieldError(`${path}: string with a lone surrogate`);
  const bytes = utf8Bytes(v);
  if (bytes > bytesMax) throw new FieldError(`${path}: ${bytes} bytes exceed ${bytesMax}`);
  if (pattern && !pattern.test(v)) throw new FieldError(`${path}: does not match ${pattern.source}`);
  return v;
}

/** A flat map of string keys to values checked by `check`; bounded in entries and bytes. */
export function readFlatMap<V>(
  v: unknown,
  path: string,
  entriesMax: number,
  bytesMax: number,
  check: (value: unknown, path: string) => V,
  sizeOf: (value: V) => number,
): Record<string, V> {
  if (!isPlainObject(v)) throw new FieldError(`${path}: expected an object`);
  const keys = Object.keys(v);
  if (keys.length > entriesMax) throw new FieldError(`${path}: ${keys.length} entries exceed ${entriesMax}`);
  const out: Record<string, V> = {};
  let bytes = 0;
  for (const k of keys) {
    // "__proto__" would set the prototype of `out` instead of adding a key.
    if (!KEY_PATTERN.test(k) || k === "__proto__") throw new FieldError(`${path}: bad key ${JSON.stringify(k.slice(0, 64))}`);
    const value = check(v[k], `${path}.${k}`);
    bytes += k.length + sizeOf(value);
    out[k] = value;
  }
  if (bytes > bytesMax) throw new FieldError(`${path}: ${bytes} bytes exceed ${bytesMax}`);
  return out;
}
