// Wire limits the firmware and the cloud must agree on (docs/protocol.md,
// docs/delivery.md). Plain constants: XS-safe, no imports.

/**
 * Largest uplink envelope the cloud ingests by default (ingest's
 * `messageBytesMax`, the device streams' `max_msg_size`). nats-server 2.9
 * PUBACKs a bigger MQTT publish and drops it (docs/research/nats29, B2), so
 * the firmware refuses to queue one.
 */
export const uplinkBytesMax = 64 * 1024;

/** Most ranges in each list (confirmed, rejected) of one Receipt; a device refuses a receipt with more. */
export const receiptRangesMax = 64;

/** Most seqs one SeqRange of a Receipt may span; a device refuses a receipt with a wider one. */
export const receiptSpanMax = 1 << 20;
