// Settings of the api role: its limits (config file `limits.*`), defaults
// and bounds. Composed into the node configuration by cloud/node/config.ts.
import type { IntRanges } from "../base";

export interface ApiLimits {
  /** Concurrent API requests one node works on; more get a 503 reply. */
  apiInflightMax: number;
  /** Largest accepted API request body. */
  apiRequestBytesMax: number;
  /** Largest page a list/query request may ask for. */
  listLimitMax: number;
}

export const defaultApiLimits: Readonly<ApiLimits> = Object.freeze({
  apiInflightMax: 256,
  apiRequestBytesMax: 64 * 1024,
  listLimitMax: 1000,
});

export const apiLimitRanges: IntRanges<ApiLimits> = Object.freeze({
  apiInflightMax: [1, 100_000],
  apiRequestBytesMax: [256, 1 << 20],
  listLimitMax: [1, 100_000],
});
