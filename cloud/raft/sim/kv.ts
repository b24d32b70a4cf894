// The simulated application: a small key-value map behind client sessions.
// The session table is the control plane's own (cloud/control Sessions), so
// the simulation also checks the exactly-once code the product runs.

import { FieldError, Sessions } from "../../control";
import type { KvInput, KvOutput } from "../../check/lincheck";
import type { Entry } from "../types";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What a log entry of the simulated application carries. */
export interface KvRequest {
  readonly clientId: string;
  readonly seq: number;
  /** Proposer's clock; the state machine's time is the maximum seen so far. */
  readonly timeMs: number;
  readonly input: KvInput;
}

/** Applied (first time or remembered), or stale: older than the session remembers, outcome unknown. */
export type KvReply = { readonly status: "ok"; readonly output: KvOutput } | { readonly status: "stale" };

export interface KvSessionLimits {
  readonly sessionsMax: number;
  readonly sessionTtlMs: number;
}

export function encodeKvRequest(r: KvRequest): Uint8Array {
  return enc.encode(JSON.stringify(r));
}

export function decodeKvRequest(b: Uint8Array): KvRequest {
  return JSON.parse(dec.decode(b)) as KvRequest;
}

function readOutput(v: unknown, path: string): KvOutput {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new FieldError(`${path}: expected a kv output`);
  return v as KvOutput;
}

export class KvStateMachine {
  readonly data = new Map<string, string>();
  readonly #sessions: Sessions<KvOutput>;
  #timeMs = 0;

  constructor(limits: KvSessionLimits) {
    // One response per session suffices: a simulated client has one request in flight.
    this.#sessions = new Sessions<KvOutput>({ ...limits, sessionResponsesMax: 4, nameBytesMax: 64 }, readOutput);
  }

  apply(entry: Entry): KvReply {
    const req = decodeKvRequest(entry.data);
    this.#timeMs = Math.max(this.#timeMs, req.timeMs);
    const ref = { clientId: req.clientId, seq: req.seq };
    const seen = this.#sessions.check(ref, this.#timeMs);
    if (seen.kind === "duplicate") return { status: "ok", output: seen.result };
    if (seen.kind === "stale") return { status: "stale" };
    const output = this.#run(req.input);
    this.#sessions.record(ref, output, this.#timeMs);
    return { status: "ok", output };
  }

  #run(c: KvInput): KvOutput {
    switch (c.op) {
      case "put":
        this.data.set(c.key, c.value);
        return {};
      case "get":
        return { value: this.data.get(c.key) ?? null };
      case "cas": {
        const ok = (this.data.get(c.key) ?? null) === c.from;
        if (ok) this.data.set(c.key, c.to);
        return { ok };
      }
    }
  }

  read(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify({ timeMs: this.#timeMs, data: [...this.data].sort(), sessions: this.#sessions.dump() }));
  }

  restore(bytes: Uint8Array): void {
    const s = JSON.parse(dec.decode(bytes)) as { timeMs: number; data: [string, string][]; sessions: unknown[] };
    this.#timeMs = s.timeMs;
    this.data.clear();
    for (const [k, v] of s.data) this.data.set(k, v);
    this.#sessions.load(s.sessions);
  }
}
