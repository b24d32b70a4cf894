// ReadIndex bookkeeping on the leader (Raft dissertation §6.4): each read
// records the commit index at arrival; a heartbeat round carrying the read's
// context must be acknowledged by a quorum before the read (and every read
// queued before it) is released.

import { assert } from "./types";
import type { Message, NodeId } from "./types";

export interface ReadIndexStatus {
  readonly request: Message;
  readonly index: number;
  readonly acks: Set<NodeId>;
}

export function contextKey(ctx: Uint8Array | undefined): string {
  if (!ctx || ctx.length === 0) return "";
  let s = "";
  for (const b of ctx) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

export class ReadOnly {
  readonly pendingMax: number;
  #pending = new Map<string, ReadIndexStatus>();
  #queue: string[] = [];

  constructor(pendingMax: number) {
    assert(pendingMax > 0, "readOnly pendingMax must be > 0");
    this.pendingMax = pendingMax;
  }

  get size(): number {
    return this.#queue.length;
  }

  /** Returns false when the queue is full or the context is already pending. */
  addRequest(index: number, m: Message): boolean {
    const key = contextKey(m.context);
    if (this.#pending.has(key)) return false;
    if (this.#queue.length >= this.pendingMax) return false;
    this.#pending.set(key, { request: m, index, acks: new Set() });
    this.#queue.push(key);
    return true;
  }

  /** Records a heartbeat ack; returns the acks of that read, or undefined if unknown. */
  recvAck(from: NodeId, ctx: Uint8Array | undefined): ReadonlySet<NodeId> | undefined {
    const rs = this.#pending.get(contextKey(ctx));
    if (!rs) return undefined;
    rs.acks.add(from);
    return rs.acks;
  }

  /** Releases the read with this context and every read queued before it. */
  advance(ctx: Uint8Array | undefined): ReadIndexStatus[] {
    const key = contextKey(ctx);
    const at = this.#queue.indexOf(key);
    if (at < 0) return [];
    const keys = this.#queue.splice(0, at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of keys) {
      const rs = this.#pending.get(k);
      assert(rs !== undefined, `read ${k} queued but not pending`);
      this.#pending.delete(k);
      out.push(rs);
    }
    return out;
  }

  lastPendingContext(): Uint8Array | undefined {
    const k = this.#queue[this.#queue.length - 1];
    return k === undefined ? undefined : this.#pending.get(k)!.request.context;
  }

  reset(): void {
    this.#pending.clear();
    this.#queue = [];
  }
}
