// Raft messages over core NATS. Each node subscribes to
// `xsfleet.raft.<group>.<nodeId>`; a sender batches every message of one
// Ready for one peer into as few publishes as `batchBytesMax` allows.
// Core NATS is at-most-once: Raft already tolerates lost, duplicated and
// reordered messages (it retries by heartbeats and probes), so no acks here.
//
// The wire format is the Raft codec's (`cloud/raft/codec.ts`): binary and
// bounded, every length checked against the bytes left before anything is
// allocated. A batch that fails to decode is dropped whole and counted
// (never thrown into the socket callback).
//
// Inbound batches are only queued here (bounded, `inboxBatchesMax`), each
// with its arrival time (performance.now(), for the driver's stage timings);
// the Raft driver drains and decodes them at its own pace.

import { performance } from "node:perf_hooks";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { CodecError, batchMessageCount, decodeBatch, encodeBatches, encodedSize } from "../raft";
import { NONE, type Message, type NodeId } from "../raft";
import { raftSubject } from "../subjects";

export const TRANSPORT_LIMITS = {
  /** One encoded message (a MsgApp with its entries, a snapshot chunk). */
  messageBytesMax: 4 << 20,
  /** One NATS publish; below nats-server's default max_payload (1 MiB) unless one message is larger. */
  batchBytesMax: 512 << 10,
  /** Messages in one publish. */
  batchMessagesMax: 4096,
  /** Inbound batches waiting for the driver; beyond this they are dropped (Raft retries). */
  inboxBatchesMax: 8192,
} as const;

/** Batch frame overhead around one message: frame header (4) + length prefix (4). */
const FRAME_OVERHEAD_BYTES = 8;

/**
 * Encodes messages, in order, into frames of at most `batchBytesMax` bytes and
 * `batchMessagesMax` messages; a single larger message travels alone in its
 * own frame. A message over `messageBytesMax` is a broken invariant of the
 * driver (Raft's `msgBytesMax` and snapshot chunking bound it): CodecError.
 */
export function encodeFrames(msgs: readonly Message[], batchBytesMax: number = TRANSPORT_LIMITS.batchBytesMax): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let pending: Message[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const { frames: f, oversized } = encodeBatches(pending, batchBytesMax);
    if (oversized.length > 0) throw new Error("transport invariant: oversized message in a pending batch");
    frames.push(...f);
    pending = [];
  };
  for (const m of msgs) {
    const size = encodedSize(m);
    if (size > TRANSPORT_LIMITS.messageBytesMax) throw new CodecError(`raft message of ${size} bytes exceeds messageBytesMax`);
    if (size + FRAME_OVERHEAD_BYTES > batchBytesMax) {
      flush();
      frames.push(...encodeBatches([m], size + FRAME_OVERHEAD_BYTES).frames);
      continue;
    }
    pending.push(m);
    if (pending.length === TRANSPORT_LIMITS.batchMessagesMax) flush();
  }
  flush();
  return frames;
}

// ---------------------------------------------------------------- NATS

export interface TransportStats {
  batchesSent: number;
  messagesSent: number;
  bytesSent: number;
  batchesReceived: number;
  /** Inbound batches dropped because the inbox was full. */
  inboxDropped: number;
  /** Inbound batches that failed to decode or were addressed to another node. */
  decodeErrors: number;
}

export class NatsRaftTransport {
  readonly group: string;
  readonly id: NodeId;
  readonly stats: TransportStats = { batchesSent: 0, messagesSent: 0, bytesSent: 0, batchesReceived: 0, inboxDropped: 0, decodeErrors: 0 };
  readonly #nc: NatsConnection;
  readonly #inbox: Uint8Array[] = [];
  /** When each inbox batch arrived (performance.now()), parallel to #inbox. */
  readonly #inboxAt: number[] = [];
  #sub: Subscription | undefined;
  #onInbound: () => void = () => {};

  constructor(nc: NatsConnection, group: string, id: NodeId) {
    raftSubject(group, id); // validates
    this.#nc = nc;
    this.group = group;
    this.id = id;
  }

  /** Starts listening; `wake` is called (from the socket callback) when the inbox goes non-empty. */
  start(wake: () => void): void {
    this.#onInbound = wake;
    this.#sub = this.#nc.subscribe(raftSubject(this.group, this.id), {
      callback: (err, msg) => {
        if (err) return;
        if (this.#inbox.length >= TRANSPORT_LIMITS.inboxBatchesMax) {
          this.stats.inboxDropped++;
          return;
        }
        this.#inbox.push(msg.data);
        this.#inboxAt.push(performance.now());
        this.stats.batchesReceived++;
        if (this.#inbox.length === 1) this.#onInbound();
      },
    });
  }

  /**
   * Hands every queued inbound message, decoded and in arrival order, to
   * `visit` with its batch's arrival time; malformed batches are counted and
   * dropped whole (before any of their messages is visited).
   */
  drain(visit: (m: Message, arrivedAt: number) => void): void {
    const bufs = this.#inbox.splice(0);
    const ats = this.#inboxAt.splice(0);
    for (let i = 0; i < bufs.length; i++) {
      let msgs: Message[];
      try {
        msgs = decodeBatch(bufs[i]!);
      } catch (err) {
        if (!(err instanceof CodecError)) throw err;
        this.stats.decodeErrors++;
        continue;
      }
      for (const m of msgs) {
        if (m.to !== this.id) { this.stats.decodeErrors++; continue; }
        visit(m, ats[i]!);
      }
    }
  }

  /** Sends messages grouped per destination, batched; best effort. */
  send(msgs: readonly Message[]): void {
    if (msgs.length === 0) return;
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of msgs) {
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    for (const [to, list] of byPeer) {
      if (to === NONE || to === this.id) continue;
      const subject = raftSubject(this.group, to);
      for (const buf of encodeFrames(list)) {
        try {
          this.#nc.publish(subject, buf);
        } catch {
          // Closed or draining connection: the message is lost, Raft retries.
          continue;
        }
        this.stats.batchesSent++;
        this.stats.messagesSent += batchMessageCount(buf);
        this.stats.bytesSent += buf.byteLength;
      }
    }
  }

  async stop(): Promise<void> {
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    this.#inbox.length = 0;
    this.#inboxAt.length = 0;
  }
}
