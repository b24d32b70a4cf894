// Named limits of the stream core (windows, sketches, rules), one table.
//
// Contract: every bound the stream core enforces is here, frozen, so devices,
// edge nodes and the cloud refuse the same inputs. Callers may pass smaller
// values per operator/engine; nothing may exceed these.

export const streamLimits = Object.freeze({
  /** Relative accuracy of quantile sketches (1 %). */
  sketchRelativeAccuracy: 0.01,
  /** Most buckets one sign of a sketch keeps; beyond, the lowest collapse. */
  sketchBucketsMax: 2048,
  /** |v| below this counts as zero in a sketch (keeps the bucket range finite). */
  sketchMinIndexable: 1e-9,
  /** Open windows (or sessions) one operator holds; more are refused and counted. */
  windowsOpenMax: 100_000,
  /** Group keys one operator or rule engine tracks; new keys beyond are refused. */
  keysMax: 100_000,
  /** Largest window size / gap / lateness / delay in ms (31 days). */
  windowMsMax: 31 * 24 * 3600_000,
  /** Hopping windows per point: sizeMs / hopMs may not exceed this. */
  windowsPerPointMax: 64,
  /** Results held undrained before the oldest are dropped (counted). */
  pendingResultsMax: 100_000,
  /** A rule's JSON, UTF-8 bytes. */
  ruleBytesMax: 16 * 1024,
  /** Nesting of all/any conditions (a leaf at the top is depth 1). */
  conditionDepthMax: 4,
  /** Leaves + composites in one rule's condition tree. */
  conditionNodesMax: 32,
  /** Actions per rule. */
  actionsMax: 8,
  /** Device ids listed in one rule's match. */
  matchDevicesMax: 1000,
  /** Rules one engine holds. */
  rulesMax: 1000,
  /** Length of ids, names, channels, commands, metadata fields (chars). */
  nameMax: 128,
  /** Webhook URL length. */
  urlMax: 2048,
  /** Arguments of one command action. */
  commandArgsMax: 16,
  /** Transitions held undrained by a rule engine before the oldest are dropped (counted). */
  pendingTransitionsMax: 10_000,
});

export type StreamLimits = typeof streamLimits;
