// Raft over core NATS: node <n> of group <g> listens on xsfleet.raft.<g>.<n>.
// Messages for one peer are packed into frames no larger than the server's
// max_payload (and frameBytesMax). Core NATS is at-most-once, which is what
// Raft expects from a network.

import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeBatch, encodeBatches } from "../codec";
import type { Message, NodeId } from "../types";
import { Inbox, emptyStats } from "./types";
import type { RaftTransport, TransportStats } from "./types";

export const RAFT_SUBJECT_PREFIX = "xsfleet.raft";
const NAME_RE = /^[A-Za-z0-9_-]+$/;

export function raftSubject(group: string, node: NodeId): string {
  return `${RAFT_SUBJECT_PREFIX}.${group}.${node}`;
}

export interface NatsTransportOptions {
  readonly nc: NatsConnection;
  /** Raft group name: [A-Za-z0-9_-]+. */
  readonly group: string;
  readonly nodeId: NodeId;
  /** Upper bound on one published frame; also capped by the server's max_payload. */
  readonly frameBytesMax?: number;
  readonly inboxMessagesMax?: number;
}

export class NatsTransport implements RaftTransport {
  readonly stats: TransportStats = emptyStats();
  readonly group: string;
  readonly nodeId: NodeId;
  readonly frameBytesMax: number;
  readonly #nc: NatsConnection;
  readonly #inbox: Inbox;
  readonly #sub: Subscription;

  constructor(opts: NatsTransportOptions) {
    if (!NAME_RE.test(opts.group)) throw new Error(`raft nats transport: group must match ${NAME_RE}, got "${opts.group}"`);
    if (!Number.isInteger(opts.nodeId) || opts.nodeId <= 0) throw new Error(`raft nats transport: bad node id ${opts.nodeId}`);
    this.group = opts.group;
    this.nodeId = opts.nodeId;
    this.#nc = opts.nc;
    const serverMax = opts.nc.info?.max_payload ?? 1 << 20;
    this.frameBytesMax = Math.min(opts.frameBytesMax ?? serverMax, serverMax);
    this.#inbox = new Inbox(opts.inboxMessagesMax ?? 8192, this.stats);
    this.#sub = this.#nc.subscribe(raftSubject(this.group, this.nodeId), {
      callback: (err, msg) => {
        if (err) return;
        // Only decode and queue here; the node loop does the work.
        try {
          this.#inbox.push(decodeBatch(msg.data));
        } catch {
          this.stats.droppedMalformed++;
        }
      },
    });
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
      for (const f of frames) {
        try {
          this.#nc.publish(raftSubject(this.group, to), f);
          this.stats.sentFrames++;
        } catch {
          // Closed or draining connection: the message is lost, as on any network.
        }
      }
    }
  }

  receive(max: number): Message[] {
    return this.#inbox.take(max);
  }

  onReceive(wake: () => void): void {
    this.#inbox.onWake(wake);
  }

  async close(): Promise<void> {
    this.#sub.unsubscribe();
  }
}
