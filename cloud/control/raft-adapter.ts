// The control plane behind the Raft core's state-machine seam
// (cloud/raft/session.ts `StateMachine`: apply(entry) → response bytes).
//
//   new SessionStateMachine(new ControlRaftAdapter(control), { ... })
//
// Entry data is an encoded Envelope (codec.ts); the response is the
// canonical JSON of the ApplyResult, decoded on the proposer's side with
// decodeResult(). When the Raft session wrapper provides exactly-once
// delivery, proposers leave Envelope.session unset; the control plane's own
// sessions (sessions.ts) are for paths without that wrapper (in-process
// proposer) and for clients with several requests in flight.

import { canonicalBytes, parseBoundedJson } from "./canonical-json";
import { isPlainObject } from "./fields";
import type { ControlStateMachine } from "./state-machine";
import { CommandKind, ControlError, type ApplyResult } from "./types";
import type { StateMachine as RaftStateMachine } from "../raft/session";
import type { Entry } from "../raft/types";

const EMPTY = new Uint8Array(0);

/** Bound on a decoded response: a device.list page is the largest result. */
export const RESULT_BYTES_MAX = 16 << 20;

export class ControlRaftAdapter implements RaftStateMachine {
  readonly control: ControlStateMachine;

  constructor(control: ControlStateMachine) {
    this.control = control;
  }

  apply(entry: Entry): Uint8Array {
    // A new leader's empty entry carries no command (and no time stamp).
    if (entry.data.byteLength === 0) return EMPTY;
    return encodeResult(this.control.apply(entry.data, entry.index));
  }

  snapshot(): Uint8Array {
    return this.control.snapshot();
  }

  restore(bytes: Uint8Array): void {
    this.control.restore(bytes);
  }
}

export function encodeResult(r: ApplyResult): Uint8Array {
  return canonicalBytes(r);
}

const KINDS: readonly string[] = Object.values(CommandKind);
const CODES: readonly string[] = Object.values(ControlError);

/** Decodes a response from the log; malformed bytes become an invalid-command failure. */
export function decodeResult(bytes: Uint8Array): ApplyResult {
  const parsed = parseBoundedJson(bytes, RESULT_BYTES_MAX);
  if (!parsed.ok) return { ok: false, code: ControlError.InvalidCommand, message: `control result: ${parsed.message}` };
  const r = parsed.value;
  if (isPlainObject(r)) {
    if (r.ok === true && typeof r.kind === "string" && KINDS.includes(r.kind) && isPlainObject(r.value)) return r as unknown as ApplyResult;
    if (r.ok === false && typeof r.code === "string" && CODES.includes(r.code) && typeof r.message === "string") return r as unknown as ApplyResult;
  }
  return { ok: false, code: ControlError.InvalidCommand, message: "control result: malformed" };
}
