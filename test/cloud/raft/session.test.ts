import { describe, expect, it } from "vitest";
import {
  SessionOp,
  SessionStateMachine,
  SessionStatus,
  decodeSessionResponse,
  encodeSessionRequest,
} from "../../../cloud/raft/session";
import type { StateMachine } from "../../../cloud/raft/session";
import type { Entry } from "../../../cloud/raft/types";

class Counter implements StateMachine {
  n = 0;
  apply(_e: Entry): Uint8Array {
    this.n++;
    return new Uint8Array([this.n]);
  }
  snapshot(): Uint8Array {
    return new Uint8Array([this.n]);
  }
  restore(b: Uint8Array): void {
    this.n = b[0]!;
  }
}

let index = 0;
function entry(op: SessionOp, clientId: number, seq: number, timeMs = 0): Entry {
  return { index: ++index, term: 1, type: 0, data: encodeSessionRequest({ op, timeMs, clientId, seq, payload: new Uint8Array([1]) }) };
}

function setup(sessionsMax = 4, ttl = 1000): { sm: SessionStateMachine; inner: Counter } {
  const inner = new Counter();
  return { sm: new SessionStateMachine(inner, { sessionsMax, sessionTtlMs: ttl }), inner };
}

function register(sm: SessionStateMachine, timeMs = 0): number {
  return decodeSessionResponse(sm.apply(entry(SessionOp.Register, 0, 0, timeMs))).clientId;
}

describe("client sessions", () => {
  it("applies a retried (client, seq) once and returns the cached response", () => {
    const { sm, inner } = setup();
    const c = register(sm);
    const first = decodeSessionResponse(sm.apply(entry(SessionOp.Command, c, 1)));
    const retry = decodeSessionResponse(sm.apply(entry(SessionOp.Command, c, 1)));
    expect(first.status).toBe(SessionStatus.Ok);
    expect(retry).toEqual(first);
    expect(inner.n).toBe(1);
    sm.apply(entry(SessionOp.Command, c, 2));
    expect(inner.n).toBe(2);
    expect(decodeSessionResponse(sm.apply(entry(SessionOp.Command, c, 1))).status).toBe(SessionStatus.StaleSequence);
    expect(inner.n).toBe(2);
  });

  it("rejects commands of unknown sessions without applying them", () => {
    const { sm, inner } = setup();
    expect(decodeSessionResponse(sm.apply(entry(SessionOp.Command, 999, 1))).status).toBe(SessionStatus.SessionExpired);
    expect(inner.n).toBe(0);
  });

  it("expires idle sessions by the time carried in entries", () => {
    const { sm } = setup(4, 1000);
    const c = register(sm, 0);
    sm.apply(entry(SessionOp.Command, c, 1, 500));
    const other = register(sm, 1400); // c was active at 500: still alive
    expect(decodeSessionResponse(sm.apply(entry(SessionOp.Command, c, 2, 1400))).status).toBe(SessionStatus.Ok);
    sm.apply(entry(SessionOp.Command, other, 1, 2500)); // c idle since 1400 + 1000 < 2500
    expect(decodeSessionResponse(sm.apply(entry(SessionOp.Command, c, 3, 2500))).status).toBe(SessionStatus.SessionExpired);
  });

  it("bounds the table, evicting the least recently active session", () => {
    const { sm } = setup(2, 1_000_000);
    const a = register(sm);
    const b = register(sm);
    sm.apply(entry(SessionOp.Command, a, 1)); // b is now the least recently used
    register(sm);
    expect(sm.sessionCount).toBe(2);
    expect(decodeSessionResponse(sm.apply(entry(SessionOp.Command, b, 1))).status).toBe(SessionStatus.SessionExpired);
    expect(decodeSessionResponse(sm.apply(entry(SessionOp.Command, a, 2))).status).toBe(SessionStatus.Ok);
  });

  it("snapshot and restore carry the sessions and the inner state", () => {
    const { sm } = setup();
    const c = register(sm, 10);
    const r1 = sm.apply(entry(SessionOp.Command, c, 1, 10));
    const copy = setup();
    copy.sm.restore(sm.snapshot());
    expect(copy.inner.n).toBe(1);
    expect(copy.sm.apply(entry(SessionOp.Command, c, 1, 20))).toEqual(r1);
    expect(copy.inner.n).toBe(1);
  });

  it("ignores no-op entries and flags non-session data", () => {
    const { sm } = setup();
    expect(sm.apply({ index: 1, term: 1, type: 0, data: new Uint8Array() })).toEqual(new Uint8Array());
    expect(decodeSessionResponse(sm.apply({ index: 2, term: 1, type: 0, data: new Uint8Array([7, 7]) })).status).toBe(SessionStatus.Invalid);
  });
});
