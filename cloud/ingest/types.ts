// Contracts of the ingest role: its configuration (validated once, with
// clear messages), its statistics and the reasons a message is dead-lettered.

/** Why a device message went to the dead-letter stream. Stable strings:
 *  they are subject tokens (`xsfleet.v1.dlq.<reason>`), header values and
 *  metric labels. */
export const DlqReason = {
  /** The subject is not `xsfleet.v1.dev.<id>.<kind>` with an uplink kind. */
  BadSubject: "bad-subject",
  /** Payload larger than `messageBytesMax`. */
  TooLarge: "too-large",
  /** The protobuf Envelope does not decode (truncated, bad varint, limits). */
  BadEnvelope: "bad-envelope",
  /** Envelope.device_id differs from the device id in the subject. */
  DeviceMismatch: "device-mismatch",
  /** The body is missing or does not match the subject's kind. */
  WrongBody: "wrong-body",
  /** seq is 0 (only status may be unsequenced). */
  BadSeq: "bad-seq",
  /** The device seq is older than the dedup window: possibly a duplicate,
   *  possibly a very late first delivery. Kept, never silently dropped. */
  StaleSeq: "stale-seq",
  /** TelemetryBatch.encoding is not one this node decodes. */
  BadEncoding: "bad-encoding",
  /** The codec rejected the payload (truncated, corrupt, trailing bytes). */
  BadPayload: "bad-payload",
  /** A declared or decoded count is above pointsPerBatchMax / channelsMax. */
  LimitExceeded: "limit-exceeded",
  /** Channel metadata does not match the decoded columns. */
  BadChannels: "bad-channels",
  /** A CRDT counter state does not decode or would break its limits. */
  BadCounter: "bad-counter",
  /** schema_version is newer than this node understands. */
  BadSchemaVersion: "bad-schema-version",
} as const;
export type DlqReason = (typeof DlqReason)[keyof typeof DlqReason];

/** Stream groups the role consumes; each has one durable pull consumer. */
export const IngestSource = {
  Telemetry: "tele",
  Heartbeat: "hb",
  Presence: "presence",
  Counters: "ctr",
} as const;
export type IngestSource = (typeof IngestSource)[keyof typeof IngestSource];

export interface IngestConfig {
  /** Replicas of every stream, consumer and KV bucket the role creates. */
  replicas: number;
  /** Create/update streams, consumers and the state bucket at start. */
  ensureStreams: boolean;
  /** Most messages one node processes as one batch (one CAS per device per batch). */
  batchMax: number;
  /** Messages one node holds per source (queued or in batches, with
   *  keep-alives); the client pulls batchMax at a time. */
  prefetchMax: number;
  /** Server-side bound on delivered-but-unacked messages per consumer, all nodes together. */
  maxAckPending: number;
  /** A message not acked within this is redelivered (to any node). */
  ackWaitMs: number;
  /** Devices processed concurrently within a batch on one node. */
  deviceConcurrencyMax: number;
  /** Largest accepted device payload; larger goes to the DLQ. */
  messageBytesMax: number;
  /** Most points in one telemetry batch (codec limit, checked before allocating). */
  pointsPerBatchMax: number;
  /** Most channels in one telemetry batch. */
  channelsMax: number;
  /** Dedup window per device and source, in device seqs (multiple of 8). */
  seqWindow: number;
  /** CAS attempts per device batch before the batch is left for redelivery. */
  casAttemptsMax: number;
  /** A device is offline after this many of its heartbeat intervals without a message. */
  heartbeatTimeoutFactor: number;
  /** Heartbeat interval assumed before a device's Hello tells us its own. */
  heartbeatIntervalDefaultMs: number;
  /** Period of the presence sweep over cached devices. */
  sweepIntervalMs: number;
  /** Every this many sweeps, the sweep also reads every device in the bucket. */
  fullSweepEvery: number;
  /** Most device states cached on one node (LRU). */
  deviceCacheMax: number;
  /** Publish decoded points to the history stream. */
  history: boolean;
  /** "channel": one JSON record per (device, seq, channel) on
   *  xsfleet.v1.hist.<device>.<channel>; "batch": one binary record per
   *  (device, seq) — the validated TelemetryBatch — on
   *  xsfleet.v1.hist.<device>.~batch (one write per message, for fleet-scale rates). */
  historyLayout: "channel" | "batch";
  /** Publish integrator JSON on xsfleet.v1.out.<id>.telemetry. */
  out: boolean;
  /** Publish out messages through JetStream (captured by XSF_OUT, deduplicated)
   *  rather than plain core NATS after the CAS. */
  outDurable: boolean;
  /** Newest protobuf schema_version accepted. */
  schemaVersionMax: number;
}

export const defaultIngestConfig: IngestConfig = {
  replicas: 1,
  ensureStreams: true,
  batchMax: 256,
  prefetchMax: 512,
  maxAckPending: 4096,
  ackWaitMs: 10_000,
  deviceConcurrencyMax: 64,
  messageBytesMax: 64 * 1024,
  pointsPerBatchMax: 4096,
  channelsMax: 16,
  seqWindow: 2048,
  casAttemptsMax: 16,
  heartbeatTimeoutFactor: 3,
  heartbeatIntervalDefaultMs: 10_000,
  sweepIntervalMs: 1_000,
  fullSweepEvery: 30,
  deviceCacheMax: 100_000,
  history: true,
  historyLayout: "channel",
  out: true,
  outDurable: true,
  schemaVersionMax: 1,
};

type NumericKey = { [K in keyof IngestConfig]: IngestConfig[K] extends number ? K : never }[keyof IngestConfig];

const choices: Partial<Record<keyof IngestConfig, readonly string[]>> = {
  historyLayout: ["channel", "batch"],
};

const ranges: Record<NumericKey, [number, number]> = {
  replicas: [1, 5],
  batchMax: [1, 10_000],
  prefetchMax: [1, 100_000],
  maxAckPending: [1, 1_000_000],
  ackWaitMs: [1_000, 3_600_000],
  deviceConcurrencyMax: [1, 10_000],
  messageBytesMax: [64, 8 * 1024 * 1024],
  pointsPerBatchMax: [1, 1_000_000],
  channelsMax: [1, 256],
  seqWindow: [8, 65_536],
  casAttemptsMax: [1, 1_000],
  heartbeatTimeoutFactor: [1, 100],
  heartbeatIntervalDefaultMs: [100, 86_400_000],
  sweepIntervalMs: [50, 3_600_000],
  fullSweepEvery: [1, 1_000_000],
  deviceCacheMax: [1, 10_000_000],
  schemaVersionMax: [1, 1_000],
};

/** Validates a raw config object (e.g. the `ingest` section of the cloud
 *  config file) and fills defaults. Throws one Error listing every problem. */
export function parseIngestConfig(raw: Record<string, unknown> | Partial<IngestConfig> = {}): IngestConfig {
  const out: IngestConfig = { ...defaultIngestConfig };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (!(key in defaultIngestConfig)) {
      problems.push(`ingest.${key}: unknown setting (known: ${Object.keys(defaultIngestConfig).join(", ")})`);
      continue;
    }
    const k = key as keyof IngestConfig;
    if (typeof defaultIngestConfig[k] === "boolean") {
      if (typeof value !== "boolean") problems.push(`ingest.${key}: expected true or false, got ${JSON.stringify(value)}`);
      else (out as unknown as Record<string, unknown>)[k] = value;
      continue;
    }
    const allowed = choices[k];
    if (allowed) {
      if (typeof value !== "string" || !allowed.includes(value)) problems.push(`ingest.${key}: expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
      else (out as unknown as Record<string, unknown>)[k] = value;
      continue;
    }
    const [lo, hi] = ranges[k as NumericKey];
    if (typeof value !== "number" || !Number.isInteger(value) || value < lo || value > hi) {
      problems.push(`ingest.${key}: expected an integer in ${lo}..${hi}, got ${JSON.stringify(value)}`);
      continue;
    }
    (out as unknown as Record<string, unknown>)[k] = value;
  }
  if (out.seqWindow % 8 !== 0) problems.push(`ingest.seqWindow: must be a multiple of 8, got ${out.seqWindow}`);
  if (out.prefetchMax < out.batchMax) problems.push(`ingest.prefetchMax (${out.prefetchMax}) must be >= ingest.batchMax (${out.batchMax})`);
  if (out.maxAckPending < out.prefetchMax) {
    problems.push(`ingest.maxAckPending (${out.maxAckPending}) must be >= ingest.prefetchMax (${out.prefetchMax})`);
  }
  if (problems.length > 0) throw new Error(`invalid ingest config:\n  ${problems.join("\n  ")}`);
  return out;
}

export interface IngestStats {
  nodeId: string;
  /** Messages taken from the consumers (all sources). */
  messages: number;
  /** Messages whose effect was applied (first delivery of a device seq). */
  applied: number;
  /** Telemetry points applied (exactly once). */
  points: number;
  /** Messages recognised as already applied (device retransmit or redelivery). */
  duplicates: number;
  /** Dead letters, total and by reason. */
  deadLetters: number;
  deadLettersByReason: Partial<Record<DlqReason, number>>;
  /** KV compare-and-set conflicts that forced a reload and retry. */
  casRetries: number;
  /** Device batches left unacked after an error (they will be redelivered). */
  batchFailures: number;
  /** Concurrent device-state writes (a nats-server 2.9 CAS race) detected and merged back. */
  lostUpdatesRepaired: number;
  /** Messages the server says are redeliveries. */
  redeliveries: number;
  /** Outputs published: history records, out messages, device events. */
  historyPublished: number;
  outPublished: number;
  eventsPublished: number;
  /** Per source: messages still pending in the consumer at the last delivery. */
  consumerLag: Record<IngestSource, number>;
  /** Devices held in this node's state cache. */
  cachedDevices: number;
}

/** The logger the role needs; cloud/node/log.ts's Logger satisfies it. */
export interface IngestLog {
  debug?(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}
