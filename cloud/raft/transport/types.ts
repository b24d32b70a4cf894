// The transport seam between Raft nodes. Delivery is best effort: Raft
// tolerates loss, duplication and reordering, so send() never blocks and
// never throws for a slow or absent peer.

import type { Message } from "../types";

export interface TransportStats {
  sentMessages: number;
  sentFrames: number;
  receivedMessages: number;
  /** Messages larger than one frame: not sent (Raft will retry; check msgBytesMax). */
  droppedOversized: number;
  /** Incoming frames that failed to decode. */
  droppedMalformed: number;
  /** Incoming messages dropped because the inbox was full. */
  droppedInboxFull: number;
}

export interface RaftTransport {
  /** Queues messages for their destinations (m.to). */
  send(msgs: readonly Message[]): void;
  /** Takes up to `max` received messages; received in socket callbacks, processed by the node loop. */
  receive(max: number): Message[];
  /** Called (at most once per batch) when messages arrive, to wake the node loop. */
  onReceive(wake: () => void): void;
  readonly stats: TransportStats;
  close(): Promise<void>;
}

export function emptyStats(): TransportStats {
  return { sentMessages: 0, sentFrames: 0, receivedMessages: 0, droppedOversized: 0, droppedMalformed: 0, droppedInboxFull: 0 };
}

/** Bounded inbox shared by implementations. */
export class Inbox {
  readonly messagesMax: number;
  #queue: Message[] = [];
  #wake: (() => void) | undefined;

  constructor(messagesMax: number, private readonly stats: TransportStats) {
    if (!(messagesMax > 0)) throw new Error(`raft transport: inbox messagesMax must be > 0, got ${messagesMax}`);
    this.messagesMax = messagesMax;
  }

  push(msgs: readonly Message[]): void {
    for (const m of msgs) {
      if (this.#queue.length >= this.messagesMax) {
        this.stats.droppedInboxFull++;
        continue;
      }
      this.#queue.push(m);
      this.stats.receivedMessages++;
    }
    if (msgs.length > 0) this.#wake?.();
  }

  take(max: number): Message[] {
    return this.#queue.splice(0, max);
  }

  onWake(w: () => void): void {
    this.#wake = w;
  }
}
