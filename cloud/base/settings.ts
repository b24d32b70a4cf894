// The shape every capability uses to describe its numeric settings: defaults
// beside the capability, bounds as data, so the composer (cloud/node/config)
// checks them all the same way and reports every problem together.

/** Inclusive integer bounds of a numeric setting. */
export type IntRange = readonly [min: number, max: number];

/** Bounds of every field of a settings object. */
export type IntRanges<T> = { readonly [K in keyof T]: IntRange };

/** One problem found in a settings object: the dotted path of the setting and what to change. */
export interface SettingProblem {
  path: string;
  message: string;
}

/** Reads typed values out of a raw settings object, recording a problem
 *  (with where the value came from) instead of throwing; each returns the
 *  fallback for a missing or bad value. cloud/node/config.ts implements it. */
export interface SettingsReader {
  fail(path: string, message: string): void;
  str(path: string, v: unknown, fallback: string): string;
  int(path: string, v: unknown, fallback: number, min: number, max: number): number;
  obj(path: string, v: unknown): Record<string, unknown>;
  /** A readable file path, or undefined when not set. */
  file(path: string, v: unknown): string | undefined;
}
