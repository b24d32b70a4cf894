// A key-value register with exactly-once writes, as change functions: what
// the simulator's clients and the process-level crash test run on CASPaxos,
// checked with the linearizability checker's kv model (cloud/check/lincheck).
//
// A retried operation re-runs its change function on the state it reads,
// and an earlier attempt whose accept was not confirmed may have been chosen
// anyway. So the register keeps, per client, the last write it applied
// (seq, output): a retry that finds its own seq returns the remembered
// output instead of applying twice. A client has one operation in flight.
// Reads and failed compare-and-sets change nothing (they are written back
// unchanged, as every CASPaxos operation is), so they need no record.

import type { KvInput, KvOutput } from "../../check/lincheck";
import type { Change } from "../proposer";
import type { RegisterState } from "../types";

interface KvValue {
  readonly v: string | null;
  /** client id → [seq, output] of its last applied write. */
  readonly s: Record<string, readonly [number, KvOutput]>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function decodeKvValue(state: RegisterState): KvValue {
  if (state.data === null) return { v: null, s: {} };
  return JSON.parse(dec.decode(state.data)) as KvValue;
}

/** The value a get would return. */
export function kvValueOf(state: RegisterState): string | null {
  return decodeKvValue(state).v;
}

export function kvChange(clientId: string, seq: number, input: KvInput): Change<KvOutput> {
  return (current) => {
    const reg = decodeKvValue(current);
    const seen = reg.s[clientId];
    if (seen && seen[0] === seq) return { write: false, result: seen[1] };
    if (seen && seen[0] > seq) throw new Error(`client ${clientId} op ${seq} is older than its applied op ${seen[0]}`);
    let v = reg.v;
    let out: KvOutput;
    switch (input.op) {
      case "get":
        return { write: false, result: { value: reg.v } };
      case "put":
        v = input.value;
        out = {};
        break;
      case "cas":
        if (reg.v !== input.from) return { write: false, result: { ok: false } };
        v = input.to;
        out = { ok: true };
        break;
    }
    const next: KvValue = { v, s: { ...reg.s, [clientId]: [seq, out] } };
    return { write: true, data: enc.encode(JSON.stringify(next)), result: out };
  };
}
