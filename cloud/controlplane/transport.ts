// Raft messages over core NATS. Each node subscribes to
// `xsfleet.raft.<group>.<nodeId>`; a sender batches every message of one
// Ready for one peer into as few publishes as `batchBytesMax` allows.
// Core NATS is at-most-once: Raft already tolerates lost, duplicated and
// reordered messages (it retries by heartbeats and probes), so no acks here.
//
// The codec is binary and bounded: every length is checked against the bytes
// left and against a named limit before anything is allocated, and a batch
// that fails to decode is dropped whole and counted (never thrown into the
// socket callback). Numbers Raft keeps as safe integers travel as float64.
//
// Inbound batches are only queued here (bounded, `inboxBatchesMax`); the
// Raft driver drains and decodes them at its own pace.

import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { MessageType, NONE, type ConfState, type Entry, type Message, type NodeId, type SnapshotChunk } from "../raft/types";

export const TRANSPORT_LIMITS = {
  /** One encoded message (a MsgApp with its entries, a snapshot chunk). */
  messageBytesMax: 4 << 20,
  /** One NATS publish; below nats-server's default max_payload (1 MiB) unless one message is larger. */
  batchBytesMax: 512 << 10,
  /** Messages in one publish. */
  batchMessagesMax: 4096,
  /** Entries in one message. */
  entriesMax: 65_536,
  /** Voters + learners in a snapshot's membership. */
  membersMax: 1024,
  /** Inbound batches waiting for the driver; beyond this they are dropped (Raft retries). */
  inboxBatchesMax: 8192,
} as const;

export const SUBJECT_PREFIX = "xsfleet.raft";
const GROUP_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function raftSubject(group: string, id: NodeId): string {
  if (!GROUP_RE.test(group)) throw new Error(`raft group "${group}" must match ${GROUP_RE}`);
  if (!Number.isSafeInteger(id) || id <= 0 || id > 0xffffffff) throw new Error(`raft node id must be 1..2^32-1, got ${id}`);
  return `${SUBJECT_PREFIX}.${group}.${id}`;
}

export class CodecError extends Error {
  override readonly name = "CodecError";
}

// ---------------------------------------------------------------- encode

const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;
const FLAG_CONTEXT = 4;
/** type u8, flags u8, to u32, from u32, term/logTerm/index/commit/rejectHint f64, entries u32. */
const HEADER_BYTES = 1 + 1 + 4 + 4 + 8 * 5 + 4;
const ENTRY_HEADER_BYTES = 8 + 8 + 1 + 4;

export function encodedMessageBytes(m: Message): number {
  let n = HEADER_BYTES;
  for (const e of m.entries) n += ENTRY_HEADER_BYTES + e.data.byteLength;
  if (m.snapshot) {
    const cs = m.snapshot.metadata.confState;
    n += 8 + 8 + 2 + 4 * cs.voters.length + 2 + 4 * cs.learners.length + 8 + 8 + 4 + m.snapshot.data.byteLength;
  }
  if (m.context) n += 4 + m.context.byteLength;
  return n;
}

class Writer {
  readonly buf: Uint8Array;
  readonly view: DataView;
  at = 0;
  constructor(n: number) {
    this.buf = new Uint8Array(n);
    this.view = new DataView(this.buf.buffer);
  }
  u8(v: number): void { this.view.setUint8(this.at, v); this.at += 1; }
  u16(v: number): void { this.view.setUint16(this.at, v); this.at += 2; }
  u32(v: number): void { this.view.setUint32(this.at, v); this.at += 4; }
  f64(v: number): void { this.view.setFloat64(this.at, v); this.at += 8; }
  bytes(b: Uint8Array): void { this.u32(b.byteLength); this.buf.set(b, this.at); this.at += b.byteLength; }
}

function writeMessage(w: Writer, m: Message): void {
  w.u8(m.type);
  w.u8((m.reject ? FLAG_REJECT : 0) | (m.snapshot ? FLAG_SNAPSHOT : 0) | (m.context ? FLAG_CONTEXT : 0));
  w.u32(m.to);
  w.u32(m.from);
  w.f64(m.term);
  w.f64(m.logTerm);
  w.f64(m.index);
  w.f64(m.commit);
  w.f64(m.rejectHint);
  w.u32(m.entries.length);
  for (const e of m.entries) {
    w.f64(e.term);
    w.f64(e.index);
    w.u8(e.type);
    w.bytes(e.data);
  }
  if (m.snapshot) {
    const s = m.snapshot;
    w.f64(s.metadata.index);
    w.f64(s.metadata.term);
    w.u16(s.metadata.confState.voters.length);
    for (const v of s.metadata.confState.voters) w.u32(v);
    w.u16(s.metadata.confState.learners.length);
    for (const v of s.metadata.confState.learners) w.u32(v);
    w.f64(s.offset);
    w.f64(s.totalBytes);
    w.bytes(s.data);
  }
  if (m.context) w.bytes(m.context);
}

/** Encodes one batch: u32 count, then per message u32 length + bytes. */
export function encodeBatch(msgs: readonly Message[]): Uint8Array {
  if (msgs.length === 0 || msgs.length > TRANSPORT_LIMITS.batchMessagesMax) {
    throw new CodecError(`batch of ${msgs.length} messages (1..${TRANSPORT_LIMITS.batchMessagesMax})`);
  }
  const sizes = msgs.map(encodedMessageBytes);
  let total = 4;
  for (const s of sizes) {
    if (s > TRANSPORT_LIMITS.messageBytesMax) throw new CodecError(`raft message of ${s} bytes exceeds messageBytesMax`);
    total += 4 + s;
  }
  const w = new Writer(total);
  w.u32(msgs.length);
  msgs.forEach((m, i) => {
    w.u32(sizes[i]!);
    const start = w.at;
    writeMessage(w, m);
    if (w.at - start !== sizes[i]) throw new Error(`transport invariant: message encoded to ${w.at - start} bytes, sized ${sizes[i]}`);
  });
  return w.buf;
}

/** Splits messages into batches of at most batchBytesMax (a single larger message travels alone). */
export function splitBatches(msgs: readonly Message[], batchBytesMax: number = TRANSPORT_LIMITS.batchBytesMax): Message[][] {
  const out: Message[][] = [];
  let cur: Message[] = [];
  let bytes = 4;
  for (const m of msgs) {
    const n = 4 + encodedMessageBytes(m);
    if (cur.length > 0 && (bytes + n > batchBytesMax || cur.length >= TRANSPORT_LIMITS.batchMessagesMax)) {
      out.push(cur);
      cur = [];
      bytes = 4;
    }
    cur.push(m);
    bytes += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

// ---------------------------------------------------------------- decode

class Reader {
  readonly view: DataView;
  at: number;
  readonly end: number;
  constructor(readonly buf: Uint8Array, start: number, end: number) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.at = start;
    this.end = end;
  }
  need(n: number, what: string): void {
    if (this.at + n > this.end) throw new CodecError(`truncated ${what} at byte ${this.at}`);
  }
  u8(what: string): number { this.need(1, what); return this.view.getUint8(this.at++); }
  u16(what: string): number { this.need(2, what); const v = this.view.getUint16(this.at); this.at += 2; return v; }
  u32(what: string): number { this.need(4, what); const v = this.view.getUint32(this.at); this.at += 4; return v; }
  int(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.at);
    this.at += 8;
    if (!Number.isSafeInteger(v) || v < 0) throw new CodecError(`${what} is not a non-negative safe integer`);
    return v;
  }
  bytes(what: string, max: number): Uint8Array {
    const n = this.u32(`${what} length`);
    if (n > max) throw new CodecError(`${what} of ${n} bytes exceeds ${max}`);
    this.need(n, what);
    // Copy: the NATS buffer may be reused, and entries outlive this batch (they go to the WAL).
    const out = this.buf.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }
  nodeId(what: string): NodeId { return this.u32(what); }
}

function readConfIds(r: Reader, what: string): NodeId[] {
  const n = r.u16(`${what} count`);
  if (n > TRANSPORT_LIMITS.membersMax) throw new CodecError(`${n} ${what} exceed membersMax`);
  const ids: NodeId[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.nodeId(what);
    if (id === NONE) throw new CodecError(`${what} contains node 0`);
    ids.push(id);
  }
  return ids;
}

function readMessage(r: Reader): Message {
  const type = r.u8("type");
  if (type > MessageType.ReadIndexResp) throw new CodecError(`unknown message type ${type}`);
  const flags = r.u8("flags");
  if (flags & ~(FLAG_REJECT | FLAG_SNAPSHOT | FLAG_CONTEXT)) throw new CodecError(`unknown flags ${flags}`);
  const to = r.nodeId("to");
  const from = r.nodeId("from");
  const term = r.int("term");
  const logTerm = r.int("logTerm");
  const index = r.int("index");
  const commit = r.int("commit");
  const rejectHint = r.int("rejectHint");
  const count = r.u32("entry count");
  if (count > TRANSPORT_LIMITS.entriesMax) throw new CodecError(`${count} entries exceed entriesMax`);
  // Each entry needs at least its header: reject absurd counts before looping.
  r.need(count * ENTRY_HEADER_BYTES, "entries");
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const eTerm = r.int("entry term");
    const eIndex = r.int("entry index");
    const eType = r.u8("entry type");
    if (eType > 1) throw new CodecError(`unknown entry type ${eType}`);
    entries.push({ term: eTerm, index: eIndex, type: eType as Entry["type"], data: r.bytes("entry data", TRANSPORT_LIMITS.messageBytesMax) });
  }
  let snapshot: SnapshotChunk | undefined;
  if (flags & FLAG_SNAPSHOT) {
    const sIndex = r.int("snapshot index");
    const sTerm = r.int("snapshot term");
    const confState: ConfState = { voters: readConfIds(r, "voters"), learners: readConfIds(r, "learners") };
    const offset = r.int("snapshot offset");
    const totalBytes = r.int("snapshot totalBytes");
    const data = r.bytes("snapshot chunk", TRANSPORT_LIMITS.messageBytesMax);
    if (offset + data.byteLength > totalBytes) throw new CodecError(`snapshot chunk ${offset}+${data.byteLength} beyond ${totalBytes}`);
    snapshot = { metadata: { index: sIndex, term: sTerm, confState }, offset, totalBytes, data };
  }
  const context = flags & FLAG_CONTEXT ? r.bytes("context", 1024) : undefined;
  return {
    type: type as MessageType, to, from, term, logTerm, index, entries, commit,
    reject: (flags & FLAG_REJECT) !== 0, rejectHint,
    ...(snapshot ? { snapshot } : {}),
    ...(context ? { context } : {}),
  };
}

/** Decodes one batch; throws CodecError on any malformed or oversized part. */
export function decodeBatch(buf: Uint8Array): Message[] {
  const r = new Reader(buf, 0, buf.byteLength);
  const count = r.u32("batch count");
  if (count === 0 || count > TRANSPORT_LIMITS.batchMessagesMax) throw new CodecError(`batch count ${count} outside 1..${TRANSPORT_LIMITS.batchMessagesMax}`);
  const out: Message[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.u32("message length");
    if (len > TRANSPORT_LIMITS.messageBytesMax) throw new CodecError(`message of ${len} bytes exceeds messageBytesMax`);
    r.need(len, "message");
    const sub = new Reader(buf, r.at, r.at + len);
    out.push(readMessage(sub));
    if (sub.at !== sub.end) throw new CodecError(`${sub.end - sub.at} trailing bytes in message ${i}`);
    r.at += len;
  }
  if (r.at !== buf.byteLength) throw new CodecError(`${buf.byteLength - r.at} trailing bytes after batch`);
  return out;
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
        this.stats.batchesReceived++;
        if (this.#inbox.length === 1) this.#onInbound();
      },
    });
  }

  /** Takes every queued inbound message, decoded; malformed batches are counted and dropped. */
  drain(): Message[] {
    const out: Message[] = [];
    for (const buf of this.#inbox.splice(0)) {
      try {
        for (const m of decodeBatch(buf)) {
          if (m.to !== this.id) { this.stats.decodeErrors++; continue; }
          out.push(m);
        }
      } catch (err) {
        if (!(err instanceof CodecError)) throw err;
        this.stats.decodeErrors++;
      }
    }
    return out;
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
      for (const batch of splitBatches(list)) {
        const buf = encodeBatch(batch);
        try {
          this.#nc.publish(subject, buf);
        } catch {
          // Closed or draining connection: the message is lost, Raft retries.
          continue;
        }
        this.stats.batchesSent++;
        this.stats.messagesSent += batch.length;
        this.stats.bytesSent += buf.byteLength;
      }
    }
  }

  async stop(): Promise<void> {
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    this.#inbox.length = 0;
  }
}
