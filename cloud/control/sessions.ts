// Client sessions: exactly-once application of retried proposals (Raft
// dissertation §6.3). A client numbers its requests (clientId, seq); when a
// proposal is retried after a timeout or a leader change, the same seq may
// be committed twice, and the second copy must return the first result
// instead of acting again (a retried lock acquire must not take a second
// token; a retried config set must not fail its own CAS).
//
// The cloud/raft core keeps no sessions, so the state machine does: this is
// the one session table, generic over the response type — the control plane
// keeps ApplyResults in it (state-machine.ts), the Raft simulator
// (cloud/raft/sim) the replies of its key-value application. Each session
// remembers the last `sessionResponsesMax` responses, so a client may have
// that many requests in flight and they may commit out of order. Seqs at or
// below the highest evicted one that are not remembered are "stale": they
// may have been applied, the response is gone.
//
// Only mutating commands go through sessions; reads are idempotent.
// Sessions idle for sessionTtlMs (state-machine time) are forgotten, and at
// sessionsMax the least recently active one is evicted. A client silent for
// longer than that and then retrying may see its request applied twice:
// the documented limit of bounded session memory.

import { Fields, FieldError, NAME_PATTERN } from "./fields";
import type { SessionRef } from "./types";

/** Bounds of the session table (ControlLimits carries them for the control plane). */
export interface SessionLimits {
  readonly sessionsMax: number;
  /** Responses remembered per session (for out-of-order retries). */
  readonly sessionResponsesMax: number;
  /** A session idle this long (state-machine time) is forgotten. */
  readonly sessionTtlMs: number;
  /** Longest client id. */
  readonly nameBytesMax: number;
}

interface Session<R> {
  readonly clientId: string;
  lastActiveMs: number;
  /** Highest seq whose response was evicted; 0 = none. */
  floorSeq: number;
  /** Sorted by seq ascending; at most sessionResponsesMax entries. */
  responses: [number, R][];
}

export type SessionCheck<R> =
  | { readonly kind: "new" }
  | { readonly kind: "duplicate"; readonly result: R }
  /** Older than every remembered response: it may have been applied, its result is gone. */
  | { readonly kind: "stale"; readonly floorSeq: number };

/** Checks a remembered response read back from a snapshot; throws FieldError when it is malformed. */
export type ResponseReader<R> = (v: unknown, path: string) => R;

export class Sessions<R> {
  readonly #limits: SessionLimits;
  readonly #readResponse: ResponseReader<R>;
  readonly #sessions = new Map<string, Session<R>>();

  constructor(limits: SessionLimits, readResponse: ResponseReader<R>) {
    this.#limits = limits;
    this.#readResponse = readResponse;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Before applying: the remembered result of a duplicate, stale, or new (go ahead). */
  check(ref: SessionRef, timeMs: number): SessionCheck<R> {
    const s = this.#live(ref.clientId, timeMs);
    if (!s) return { kind: "new" };
    const hit = s.responses.find(([seq]) => seq === ref.seq);
    if (hit) return { kind: "duplicate", result: hit[1] };
    if (ref.seq <= s.floorSeq) return { kind: "stale", floorSeq: s.floorSeq };
    return { kind: "new" };
  }

  /** After applying: remember the result for retries. */
  record(ref: SessionRef, result: R, timeMs: number): void {
    let s = this.#live(ref.clientId, timeMs);
    if (!s) {
      this.#makeRoom(timeMs);
      s = { clientId: ref.clientId, lastActiveMs: timeMs, floorSeq: 0, responses: [] };
      this.#sessions.set(ref.clientId, s);
    }
    s.lastActiveMs = timeMs;
    let i = s.responses.length;
    while (i > 0 && s.responses[i - 1]![0] > ref.seq) i--;
    s.responses.splice(i, 0, [ref.seq, result]);
    while (s.responses.length > this.#limits.sessionResponsesMax) {
      const [seq] = s.responses.shift()!;
      s.floorSeq = Math.max(s.floorSeq, seq);
    }
  }

  sweep(timeMs: number): void {
    for (const [id, s] of [...this.#sessions]) if (timeMs - s.lastActiveMs >= this.#limits.sessionTtlMs) this.#sessions.delete(id);
  }

  #live(clientId: string, timeMs: number): Session<R> | undefined {
    const s = this.#sessions.get(clientId);
    if (s && timeMs - s.lastActiveMs >= this.#limits.sessionTtlMs) {
      this.#sessions.delete(clientId);
      return undefined;
    }
    return s;
  }

  #makeRoom(timeMs: number): void {
    if (this.#sessions.size < this.#limits.sessionsMax) return;
    this.sweep(timeMs);
    if (this.#sessions.size < this.#limits.sessionsMax) return;
    let victim: Session<R> | undefined;
    for (const s of this.#sessions.values()) {
      if (!victim || s.lastActiveMs < victim.lastActiveMs || (s.lastActiveMs === victim.lastActiveMs && s.clientId < victim.clientId)) victim = s;
    }
    this.#sessions.delete(victim!.clientId);
  }

  dump(): Session<R>[] {
    return [...this.#sessions.keys()].sort().map((id) => this.#sessions.get(id)!);
  }

  load(items: unknown[]): void {
    if (items.length > this.#limits.sessionsMax) throw new FieldError(`snapshot.sessions: ${items.length} exceed sessionsMax`);
    this.#sessions.clear();
    items.forEach((item, i) => {
      const path = `snapshot.sessions[${i}]`;
      const f = new Fields(item, path);
      const s: Session<R> = {
        clientId: f.str("clientId", this.#limits.nameBytesMax, NAME_PATTERN),
        lastActiveMs: f.int("lastActiveMs", 0, Number.MAX_SAFE_INTEGER),
        floorSeq: f.int("floorSeq", 0, Number.MAX_SAFE_INTEGER),
        responses: f.array("responses", this.#limits.sessionResponsesMax).map((r, j) => this.#readEntry(r, `${path}.responses[${j}]`)),
      };
      f.done();
      for (let j = 1; j < s.responses.length; j++) {
        if (s.responses[j - 1]![0] >= s.responses[j]![0]) throw new FieldError(`${path}: responses not sorted by seq`);
      }
      if (this.#sessions.has(s.clientId)) throw new FieldError(`${path}: duplicate session ${s.clientId}`);
      this.#sessions.set(s.clientId, s);
    });
  }

  #readEntry(v: unknown, path: string): [number, R] {
    if (!Array.isArray(v) || v.length !== 2 || !Number.isSafeInteger(v[0]) || (v[0] as number) < 1) throw new FieldError(`${path}: expected [seq, result]`);
    return [v[0] as number, this.#readResponse(v[1], path)];
  }
}
