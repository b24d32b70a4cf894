// The one home of span names and attribute keys xsfleet emits
// (docs/observability.md, "Tracing", lists them). Attribute keys use the
// `xsfleet.` namespace except where OpenTelemetry semantic conventions
// already name the thing (messaging.*).

export const SpanName = Object.freeze({
  /** Ingest: one device's messages of one pull batch (parent: the device's message). */
  IngestDeviceBatch: "ingest.device_batch",
  /** Ingest: time the message waited in JetStream, from storage to pickup. */
  IngestConsume: "ingest.consume",
  /** Ingest: protobuf + codec decode of one message. */
  IngestDecode: "ingest.decode",
  /** Ingest: dedup on (device, seq) and merge into the device state (pure apply). */
  IngestApply: "ingest.apply",
  /** Ingest: history and out records published and stored. */
  IngestOutputs: "ingest.outputs",
  /** Ingest: device state compare-and-set. */
  IngestStateWrite: "ingest.state_write",
  /** API: one request of the device-management service (`api.<endpoint>`). */
  ApiPrefix: "api.",
  /** Commands: one downlink attempt to the device. */
  CommandDownlink: "commands.downlink",
  /** Commands: the device's CommandAck recorded (parent: the device's ack). */
  CommandAck: "commands.ack",
  /** Control plane: one client call, with its redirects and retries (`control.<endpoint>`). */
  ControlPrefix: "control.",
  /** Control-plane replica: one request served (`controlplane.<endpoint>`, child of the caller's `control.<endpoint>`). */
  ControlServePrefix: "controlplane.",
  /** Replica: the proposal waiting for the Raft loop, until appended to the log (index and term known). */
  RaftPropose: "raft.propose",
  /** Replica: appended → committed (WAL fsync and a quorum's acks). */
  RaftCommit: "raft.commit",
  /** Replica: committed → applied to the state machine (the answer is ready). */
  RaftApply: "raft.apply",
  /** History: one time-range query over the history stream (child of the API request). */
  HistoryQuery: "history.query",
  /** Analytics: one pull batch of a partition (windows, rules, results, alerts, actions, checkpoint), linked to the device messages it read. */
  AnalyticsBatch: "analytics.batch",
} as const);

export const Attr = Object.freeze({
  DeviceId: "xsfleet.device.id",
  DeviceSeq: "xsfleet.device.seq",
  /** The device's clock when it sent the message, ms since the epoch (its side of the waterfall). */
  DeviceTimeMs: "xsfleet.device.time_ms",
  Points: "xsfleet.points",
  Messages: "xsfleet.messages",
  /** The uplink partition a span's work belongs to. */
  Partition: "xsfleet.partition",
  AnalyticsResults: "xsfleet.analytics.results",
  AnalyticsTransitions: "xsfleet.analytics.transitions",
  Duplicates: "xsfleet.duplicates",
  Rejected: "xsfleet.rejected",
  Source: "xsfleet.ingest.source",
  CasAttempt: "xsfleet.cas.attempt",
  CommandId: "xsfleet.command.id",
  CommandName: "xsfleet.command.name",
  CommandAttempt: "xsfleet.command.attempt",
  AckStatus: "xsfleet.command.ack_status",
  NodeId: "xsfleet.node.id",
  ControlEndpoint: "xsfleet.control.endpoint",
  ControlRetries: "xsfleet.control.retries",
  /** Replica: `ok`, or the node-level failure code (`not-leader` is a redirect) or the state machine's error code. */
  ControlOutcome: "xsfleet.control.outcome",
  RaftNode: "xsfleet.control.raft_node",
  RaftIndex: "xsfleet.control.raft_index",
  RaftTerm: "xsfleet.control.raft_term",
  HistoryChannel: "xsfleet.history.channel",
  Site: "xsfleet.site",
  Zone: "xsfleet.zone",
  FirmwareVersion: "xsfleet.firmware.version",
  HistoryScanned: "xsfleet.history.scanned_messages",
  HistoryTruncated: "xsfleet.history.truncated",
  /** OpenTelemetry messaging conventions. */
  MessagingSystem: "messaging.system",
  MessagingDestination: "messaging.destination.name",
} as const);

/**
 * W3C baggage entries ingest adds to a device message's context (from the
 * device's last Hello: its location and firmware), so every consumer of its
 * records (history, out, rules) can read them from the `baggage` header.
 */
export const BaggageKey = Object.freeze({
  Site: "xsfleet.site",
  Zone: "xsfleet.zone",
  FirmwareVersion: "xsfleet.firmware.version",
} as const);
