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
