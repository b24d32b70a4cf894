// Drives a ControlStateMachine the way Raft would: each command in an
// envelope stamped with the test's leader time, encoded to bytes, applied
// at the next index.
import { encodeEnvelope } from "../../../cloud/control/codec";
import type { ControlLimits } from "../../../cloud/control/limits";
import { ControlStateMachine } from "../../../cloud/control/state-machine";
import {
  CONTROL_FORMAT_VERSION,
  type ApplyResult,
  type Command,
  type CommandKind,
  type ControlFailure,
  type Envelope,
  type SessionRef,
  type ValueMap,
} from "../../../cloud/control/types";

export interface Driver {
  sm: ControlStateMachine;
  /** Leader time stamped on the next command. */
  nowMs: number;
  log: Uint8Array[];
  run(cmd: Command, session?: SessionRef): ApplyResult;
  ok<K extends CommandKind>(cmd: Command & { kind: K }, session?: SessionRef): ValueMap[K];
  fail(cmd: Command, session?: SessionRef): ControlFailure;
}

export function driver(limits?: Partial<ControlLimits>, startMs = 1_000): Driver {
  const sm = new ControlStateMachine(limits ? { limits } : {});
  const d: Driver = {
    sm,
    nowMs: startMs,
    log: [],
    run(cmd, session) {
      const env: Envelope = session ? { v: CONTROL_FORMAT_VERSION, nowMs: d.nowMs, session, cmd } : { v: CONTROL_FORMAT_VERSION, nowMs: d.nowMs, cmd };
      const bytes = encodeEnvelope(env, d.sm.limits);
      d.log.push(bytes);
      return d.sm.apply(bytes, d.sm.appliedIndex + 1);
    },
    ok(cmd, session) {
      const r = d.run(cmd, session);
      if (!r.ok) throw new Error(`expected ${cmd.kind} to succeed: ${r.code}: ${r.message}`);
      if (r.kind !== cmd.kind) throw new Error(`result kind ${r.kind} for ${cmd.kind}`);
      return r.value as never;
    },
    fail(cmd, session) {
      const r = d.run(cmd, session);
      if (r.ok) throw new Error(`expected ${cmd.kind} to fail, got ${JSON.stringify(r.value)}`);
      return r;
    },
  };
  return d;
}

export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
