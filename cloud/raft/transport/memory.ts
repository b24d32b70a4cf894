// In-process transport for tests: a hub that routes by node id, encoding
// through the real codec so the wire format is exercised.

import { decodeBatch, encodeBatches } from "../codec";
import type { Message, NodeId } from "../types";
import { Inbox, emptyStats } from "./types";
import type { RaftTransport, TransportStats } from "./types";

export class MemoryHub {
  readonly #nodes = new Map<NodeId, MemoryTransport>();
  /** Directed links that drop everything ("from->to"). */
  readonly cut = new Set<string>();

  join(id: NodeId, opts: { frameBytesMax?: number; inboxMessagesMax?: number } = {}): MemoryTransport {
    const t = new MemoryTransport(this, id, opts.frameBytesMax ?? 1 << 20, opts.inboxMessagesMax ?? 4096);
    this.#nodes.set(id, t);
    return t;
  }

  leave(id: NodeId): void {
    this.#nodes.delete(id);
  }

  deliver(from: NodeId, to: NodeId, frame: Uint8Array): void {
    if (this.cut.has(`${from}->${to}`)) return;
    const t = this.#nodes.get(to);
    // Asynchronous like a socket: never re-enter the sender's loop.
    if (t) setImmediate(() => t.receiveFrame(frame));
  }
}

export class MemoryTransport implements RaftTransport {
  readonly stats: TransportStats = emptyStats();
  readonly #inbox: Inbox;

  constructor(
    private readonly hub: MemoryHub,
    readonly id: NodeId,
    readonly frameBytesMax: number,
    inboxMessagesMax: number,
  ) {
    this.#inbox = new Inbox(inboxMessagesMax, this.stats);
  }

  send(msgs: readonly Message[]): void {
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of msgs) {
      const list = byPeer.get(m.to) ?? [];
      list.push(m);
      byPeer.set(m.to, list);
    }
    for (const [to, list] of byPeer) {
      const { frames, oversized } = encodeBatches(list, this.frameBytesMax);
      this.stats.droppedOversized += oversized.length;
      this.stats.sentMessages += list.length - oversized.length;
      this.stats.sentFrames += frames.length;
      for (const f of frames) this.hub.deliver(this.id, to, f);
    }
  }

  receiveFrame(frame: Uint8Array): void {
    try {
      this.#inbox.push(decodeBatch(frame));
    } catch {
      this.stats.droppedMalformed++;
    }
  }

  receive(max: number): Message[] {
    return this.#inbox.take(max);
  }

  onReceive(wake: () => void): void {
    this.#inbox.onWake(wake);
  }

  async close(): Promise<void> {
    this.hub.leave(this.id);
  }
}
