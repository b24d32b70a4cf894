// Client sessions (Raft dissertation §6.3): a state-machine wrapper that
// applies each (client id, sequence number) at most once and returns the
// cached response to a retry. Clients register first (their id is the index
// of the register entry); sessions expire by the leader-assigned time carried
// in each entry, so every replica expires the same sessions at the same
// index. The table is bounded: when full, the least recently active session
// is evicted and its client gets SessionExpired on its next request.

import { assert } from "./types";
import type { Entry } from "./types";

export interface StateMachine {
  /** Applies a committed entry; returns the response for the proposer. */
  apply(entry: Entry): Uint8Array;
  snapshot(): Uint8Array;
  restore(bytes: Uint8Array): void;
}

export const SessionOp = {
  Register: 1,
  Command: 2,
} as const;
export type SessionOp = (typeof SessionOp)[keyof typeof SessionOp];

export const SessionStatus = {
  Ok: 0,
  /** Unknown or expired session: the client must register again; the command was not applied. */
  SessionExpired: 1,
  /** The sequence number is older than the last one applied: the response is gone. */
  StaleSequence: 2,
  /** Not a session envelope. */
  Invalid: 3,
} as const;
export type SessionStatus = (typeof SessionStatus)[keyof typeof SessionStatus];

export interface SessionRequest {
  readonly op: SessionOp;
  /** Proposer's clock; replicas only use the maximum seen so far. */
  readonly timeMs: number;
  readonly clientId: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

export interface SessionResponse {
  readonly status: SessionStatus;
  /** Register: the new client id. Command: the inner state machine's response. */
  readonly clientId: number;
  readonly payload: Uint8Array;
}

const HEADER_BYTES = 1 + 8 + 8 + 8;

export function encodeSessionRequest(r: SessionRequest): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + r.payload.byteLength);
  const v = new DataView(out.buffer);
  v.setUint8(0, r.op);
  v.setFloat64(1, r.timeMs);
  v.setFloat64(9, r.clientId);
  v.setFloat64(17, r.seq);
  out.set(r.payload, HEADER_BYTES);
  return out;
}

export function decodeSessionRequest(b: Uint8Array): SessionRequest | undefined {
  if (b.byteLength < HEADER_BYTES) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const op = v.getUint8(0);
  if (op !== SessionOp.Register && op !== SessionOp.Command) return undefined;
  return {
    op: op as SessionOp,
    timeMs: v.getFloat64(1),
    clientId: v.getFloat64(9),
    seq: v.getFloat64(17),
    payload: b.subarray(HEADER_BYTES),
  };
}

export function encodeSessionResponse(r: SessionResponse): Uint8Array {
  const out = new Uint8Array(9 + r.payload.byteLength);
  const v = new DataView(out.buffer);
  v.setUint8(0, r.status);
  v.setFloat64(1, r.clientId);
  out.set(r.payload, 9);
  return out;
}

export function decodeSessionResponse(b: Uint8Array): SessionResponse {
  assert(b.byteLength >= 9, `session response of ${b.byteLength} bytes`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { status: v.getUint8(0) as SessionStatus, clientId: v.getFloat64(1), payload: b.slice(9) };
}

interface Session {
  lastSeq: number;
  response: Uint8Array;
  lastActiveMs: number;
}

export interface SessionOptions {
  readonly sessionsMax: number;
  readonly sessionTtlMs: number;
}

export class SessionStateMachine implements StateMachine {
  readonly inner: StateMachine;
  readonly sessionsMax: number;
  readonly sessionTtlMs: number;
  /** Map order = order of last activity (re-inserted on use): the first is the LRU. */
  #sessions = new Map<number, Session>();
  #nowMs = 0;

  constructor(inner: StateMachine, opts: SessionOptions) {
    assert(opts.sessionsMax > 0, "sessionsMax must be > 0");
    assert(opts.sessionTtlMs > 0, "sessionTtlMs must be > 0");
    this.inner = inner;
    this.sessionsMax = opts.sessionsMax;
    this.sessionTtlMs = opts.sessionTtlMs;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  apply(entry: Entry): Uint8Array {
    if (entry.data.byteLength === 0) return new Uint8Array(0); // leader no-op
    const req = decodeSessionRequest(entry.data);
    if (!req) return encodeSessionResponse({ status: SessionStatus.Invalid, clientId: 0, payload: new Uint8Array(0) });
    this.#nowMs = Math.max(this.#nowMs, req.timeMs);
    this.#expire();
    if (req.op === SessionOp.Register) return this.#register(entry.index);
    const s = this.#sessions.get(req.clientId);
    const reply = (status: SessionStatus, payload: Uint8Array): Uint8Array =>
      encodeSessionResponse({ status, clientId: req.clientId, payload });
    if (!s) return reply(SessionStatus.SessionExpired, new Uint8Array(0));
    this.#touch(req.clientId, s);
    if (req.seq === s.lastSeq) return reply(SessionStatus.Ok, s.response); // a retry: do not apply again
    if (req.seq < s.lastSeq) return reply(SessionStatus.StaleSequence, new Uint8Array(0));
    const response = this.inner.apply({ ...entry, data: req.payload });
    s.lastSeq = req.seq;
    s.response = response;
    return reply(SessionStatus.Ok, response);
  }

  #register(clientId: number): Uint8Array {
    while (this.#sessions.size >= this.sessionsMax) {
      const lru = this.#sessions.keys().next().value as number;
      this.#sessions.delete(lru);
    }
    this.#sessions.set(clientId, { lastSeq: 0, response: new Uint8Array(0), lastActiveMs: this.#nowMs });
    return encodeSessionResponse({ status: SessionStatus.Ok, clientId, payload: new Uint8Array(0) });
  }

  #touch(id: number, s: Session): void {
    s.lastActiveMs = this.#nowMs;
    this.#sessions.delete(id);
    this.#sessions.set(id, s);
  }

  #expire(): void {
    for (const [id, s] of this.#sessions) {
      if (s.lastActiveMs + this.sessionTtlMs >= this.#nowMs) break; // LRU order: the rest are newer
      this.#sessions.delete(id);
    }
  }

  snapshot(): Uint8Array {
    const inner = this.inner.snapshot();
    let size = 8 + 4 + 4 + inner.byteLength;
    for (const s of this.#sessions.values()) size += 8 + 8 + 8 + 4 + s.response.byteLength;
    const out = new Uint8Array(size);
    const v = new DataView(out.buffer);
    let at = 0;
    v.setFloat64(at, this.#nowMs);
    v.setUint32((at += 8), this.#sessions.size);
    at += 4;
    for (const [id, s] of this.#sessions) {
      v.setFloat64(at, id);
      v.setFloat64(at + 8, s.lastSeq);
      v.setFloat64(at + 16, s.lastActiveMs);
      v.setUint32(at + 24, s.response.byteLength);
      out.set(s.response, at + 28);
      at += 28 + s.response.byteLength;
    }
    v.setUint32(at, inner.byteLength);
    out.set(inner, at + 4);
    assert(at + 4 + inner.byteLength === size, "session snapshot size mismatch");
    return out;
  }

  restore(bytes: Uint8Array): void {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    this.#nowMs = v.getFloat64(at);
    const n = v.getUint32((at += 8));
    at += 4;
    this.#sessions = new Map();
    for (let i = 0; i < n; i++) {
      const id = v.getFloat64(at);
      const lastSeq = v.getFloat64(at + 8);
      const lastActiveMs = v.getFloat64(at + 16);
      const len = v.getUint32(at + 24);
      this.#sessions.set(id, { lastSeq, lastActiveMs, response: bytes.slice(at + 28, at + 28 + len) });
      at += 28 + len;
    }
    const innerLen = v.getUint32(at);
    assert(at + 4 + innerLen === bytes.byteLength, "session snapshot trailing bytes");
    this.inner.restore(bytes.slice(at + 4, at + 4 + innerLen));
  }
}
